package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
)

// The API's own views of the services' records, with their documentation
// and constraints: a service's type can change without changing the API
// by accident (the OpenAPI document is checked in CI), and the API
// decides what a field is called and says.

// Device is a tenant's device.
type Device struct {
	ID           uuid.UUID          `json:"id"`
	Platform     inventory.Platform `json:"platform" enum:"apple,windows,android"`
	Identifier   string             `json:"identifier" doc:"The platform's own id: Apple's UDID, the Windows device id, the Android Management API device name."`
	SerialNumber string             `json:"serial_number"`
	Name         string             `json:"name"`
	User         string             `json:"user,omitempty" doc:"Who the device belongs to, when Trident knows: the person a Windows device was enrolled for (a federated sign-in's email), the user a Mac's user channel names. Also in facts.user."`
	Model        string             `json:"model"`
	OSVersion    string             `json:"os_version"`
	Status       inventory.Status   `json:"status" enum:"pending,enrolled,unenrolled"`
	Facts        json.RawMessage    `json:"facts" doc:"Everything else the device reported, by name."`
	EnrolledAt   *time.Time         `json:"enrolled_at,omitempty"`
	LastSeenAt   *time.Time         `json:"last_seen_at,omitempty"`
	LastIP       string             `json:"last_ip,omitempty" doc:"The address the device's last check-in came from (through the operator's trusted proxies). Android devices report through Google and have none."`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
}

func deviceOf(d inventory.Device) Device {
	return Device{ID: d.ID, Platform: d.Platform, Identifier: d.Identifier, SerialNumber: d.SerialNumber, Name: d.Name, User: d.User(),
		Model: d.Model, OSVersion: d.OSVersion, Status: d.Status, Facts: d.Facts, EnrolledAt: d.EnrolledAt,
		LastSeenAt: d.LastSeenAt, LastIP: d.LastIP, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// Command is one command for one device.
type Command struct {
	ID          uuid.UUID       `json:"id"`
	DeviceID    uuid.UUID       `json:"device_id"`
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload" doc:"What the command was queued with; secret fields (see the kind) read \"[redacted]\"."`
	Status      commands.Status `json:"status" enum:"queued,sent,acknowledged,error,not_now,expired,canceled"`
	Attempts    int             `json:"attempts" doc:"How often the command was sent to the device."`
	CreatedBy   string          `json:"created_by"`
	Result      json.RawMessage `json:"result,omitempty" doc:"What the device answered, when it did."`
	Error       string          `json:"error,omitempty"`
	ExpiresAt   time.Time       `json:"expires_at"`
	CreatedAt   time.Time       `json:"created_at"`
	SentAt      *time.Time      `json:"sent_at,omitempty"`
	CompletedAt *time.Time      `json:"completed_at,omitempty"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func commandOf(c commands.Command) Command {
	return Command{ID: c.ID, DeviceID: c.DeviceID, Kind: c.Kind, Payload: c.Payload, Status: c.Status, Attempts: c.Attempts,
		CreatedBy: c.CreatedBy, Result: c.Result, Error: c.Error, ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt,
		SentAt: c.SentAt, CompletedAt: c.CompletedAt, UpdatedAt: c.UpdatedAt}
}

// Group is a named set of a tenant's devices.
type Group struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Devices   int       `json:"devices" doc:"How many devices are in it."`
	CreatedAt time.Time `json:"created_at"`
}

func groupOf(g inventory.Group) Group {
	return Group{ID: g.ID, Name: g.Name, Devices: g.Devices, CreatedAt: g.CreatedAt}
}

// Entry is one entry of a tenant's audit log.
type Entry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor" doc:"The caller's subject (the token's sub)."`
	ActorName string          `json:"actor_name"`
	Action    string          `json:"action" doc:"The API operation, for example create-webhook."`
	Target    string          `json:"target" doc:"The resource's path."`
	RequestID string          `json:"request_id"`
	Status    int             `json:"status" doc:"The HTTP status the call answered."`
	Details   json.RawMessage `json:"details"`
	Access    string          `json:"access,omitempty" enum:"tenant,msp,grant,break_glass" doc:"How the actor held its power: tenant (the tenant's own role), msp (an MSP admin's standing access, or an MSP operation on the tenant), grant or break_glass (a delegated grant, grant_id). Absent on entries from before Trident recorded it."`
	Grant     *uuid.UUID      `json:"grant_id,omitempty" doc:"The grant the actor used (list-access-grants)."`
}

func entryOf(e audit.Entry) Entry {
	return Entry{ID: e.ID, At: e.At, Actor: e.Actor, ActorName: e.ActorName, Action: e.Action, Target: e.Target,
		RequestID: e.RequestID, Status: e.Status, Details: e.Details, Access: e.Access, Grant: e.Grant}
}

// Delivery is one event's delivery to one webhook endpoint.
type Delivery struct {
	ID             uuid.UUID  `json:"id"`
	EndpointID     uuid.UUID  `json:"endpoint_id"`
	EventID        int64      `json:"event_id"`
	EventKind      string     `json:"event_kind"`
	Status         string     `json:"status" enum:"pending,delivered,failed"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

// DeliveryWithBody is a delivery with the JSON body its receiver gets.
type DeliveryWithBody struct {
	Delivery
	Body json.RawMessage `json:"body" doc:"The request body as the receiver gets it: delivery_id, tenant_id and the event."`
}

func deliveryOf(d events.Delivery) Delivery {
	return Delivery{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventKind: d.EventKind, Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: d.CreatedAt,
		LastAttemptAt: d.LastAttemptAt, DeliveredAt: d.DeliveredAt}
}

// convert maps f over in; an empty list stays a list (not null).
func convert[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

// The configuration records of ABM, Android and compliance. Their field
// lists match the services' records field for field, so a plain
// conversion (ABMDevice(d)) copies one into the other; a field the service
// adds or renames fails to compile here until the API decides about it.

// ABMToken is a tenant's ABM server token. (The ABM names keep the
// schemas apart from the inventory's Device.)
type ABMToken struct {
	ID                uuid.UUID  `json:"id"`
	Label             string     `json:"label"`
	Status            string     `json:"status" enum:"awaiting_token,active,expiring,expired,terms_not_signed,rejected" doc:"Anything but active needs an admin: see status_detail."`
	StatusDetail      string     `json:"status_detail,omitempty"`
	AccessTokenExpiry *time.Time `json:"access_token_expiry,omitempty" doc:"When the server token expires (a year after download): download a new one from ABM before."`
	Account           *Account   `json:"account,omitempty"`
	ProfileID         *uuid.UUID `json:"profile_id,omitempty" doc:"The ADE profile assigned automatically to devices ABM adds."`
	SyncedAt          *time.Time `json:"synced_at,omitempty"`
	SyncError         string     `json:"sync_error,omitempty"`
	Devices           int        `json:"devices"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// Account is the organization and MDM server an ABM token stands for.
type Account struct {
	ServerName string `json:"server_name,omitempty"`
	ServerUUID string `json:"server_uuid,omitempty"`
	OrgName    string `json:"org_name,omitempty"`
	OrgID      string `json:"org_id,omitempty"`
	OrgEmail   string `json:"org_email,omitempty"`
	OrgPhone   string `json:"org_phone,omitempty"`
	OrgAddress string `json:"org_address,omitempty"`
	OrgType    string `json:"org_type,omitempty"`
	AdminID    string `json:"admin_id,omitempty" doc:"The Apple Account that downloaded the server token."`
}

func abmToken(t dep.Token) ABMToken {
	out := ABMToken{ID: t.ID, Label: t.Label, Status: t.Status, StatusDetail: t.StatusDetail, AccessTokenExpiry: t.AccessTokenExpiry,
		ProfileID: t.ProfileID, SyncedAt: t.SyncedAt, SyncError: t.SyncError, Devices: t.Devices, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if t.Account != nil {
		a := Account(*t.Account)
		out.Account = &a
	}
	return out
}

// ABMDevice is a device Apple assigned to one of the tenant's ABM servers.
type ABMDevice struct {
	SerialNumber     string     `json:"serial_number"`
	TokenID          uuid.UUID  `json:"token_id"`
	Model            string     `json:"model"`
	Description      string     `json:"description,omitempty"`
	Color            string     `json:"color,omitempty"`
	DeviceFamily     string     `json:"device_family,omitempty"`
	OS               string     `json:"os,omitempty"`
	AssetTag         string     `json:"asset_tag,omitempty"`
	AssignedBy       string     `json:"assigned_by,omitempty" doc:"Who assigned the device to the MDM server in ABM."`
	AssignedAt       *time.Time `json:"assigned_at,omitempty"`
	ProfileStatus    string     `json:"profile_status" doc:"Apple's: empty, assigned, pushed or removed."`
	AppleProfileUUID string     `json:"apple_profile_uuid,omitempty"`
	AssignProfileID  *uuid.UUID `json:"assign_profile_id,omitempty" doc:"The ADE profile Trident assigns it."`
	AssignStatus     string     `json:"assign_status" enum:"none,pending,assigned,failed,not_accessible"`
	AssignError      string     `json:"assign_error,omitempty"`
	EnrolledAt       *time.Time `json:"enrolled_at,omitempty" doc:"When it last asked the ADE endpoint for its enrollment profile."`
	AddedAt          time.Time  `json:"added_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// ProfileSettings are the choices of an ADE profile (Apple's "Profile"
// object of the Device Assignment API).
type ProfileSettings struct {
	Supervised            *bool    `json:"is_supervised,omitempty" doc:"Supervise the device (default true; Apple requires it for iOS 13 and later)."`
	Mandatory             *bool    `json:"is_mandatory,omitempty" doc:"The user cannot skip enrollment (default true)."`
	MDMRemovable          bool     `json:"is_mdm_removable,omitempty" doc:"The user may remove the MDM profile (default false)."`
	AwaitDeviceConfigured *bool    `json:"await_device_configured,omitempty" doc:"Hold the device in Setup Assistant until Trident has sent its setup commands and releases it (default true)."`
	AutoAdvanceSetup      bool     `json:"auto_advance_setup,omitempty" doc:"tvOS and macOS: advance through Setup Assistant without user input."`
	SkipSetupItems        []string `json:"skip_setup_items,omitempty" maxItems:"100" doc:"Setup Assistant panes to skip, by Apple's keys (for example Location, Siri, Privacy, Biometric)."`
	Department            string   `json:"department,omitempty" maxLength:"125"`
	SupportPhoneNumber    string   `json:"support_phone_number,omitempty" maxLength:"50"`
	SupportEmailAddress   string   `json:"support_email_address,omitempty" maxLength:"250"`
	Language              string   `json:"language,omitempty" maxLength:"35"`
	Region                string   `json:"region,omitempty" maxLength:"10"`
}

// ADEProfile is one of the tenant's ADE profiles.
type ADEProfile struct {
	ID        uuid.UUID       `json:"id"`
	Name      string          `json:"name"`
	Settings  ProfileSettings `json:"settings"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

func adeProfile(p dep.Profile) ADEProfile {
	return ADEProfile{ID: p.ID, Name: p.Name, Settings: ProfileSettings(p.Settings), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// AndroidEnterprise is a tenant's binding to Android Enterprise.
type AndroidEnterprise struct {
	Status      string     `json:"status" enum:"signing_up,bound,unbound"`
	Name        string     `json:"name,omitempty" doc:"The Android Management API's enterprises/{id}."`
	DisplayName string     `json:"display_name,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
	QuotaAt     *time.Time `json:"quota_at,omitempty" doc:"When Google last refused one of the tenant's calls for quota; the call waited and was tried again."`
}

// App is an application an Android policy installs, offers or blocks.
type App struct {
	PackageName string `json:"package_name" minLength:"1" maxLength:"200"`
	InstallType string `json:"install_type" enum:"FORCE_INSTALLED,PREINSTALLED,AVAILABLE,BLOCKED,REQUIRED_FOR_SETUP"`
}

// PolicySettings are what Trident manages of an Android policy.
type PolicySettings struct {
	PasswordMinLength int    `json:"password_min_length,omitempty" minimum:"0" maximum:"16" doc:"The shortest password allowed (0: no requirement)."`
	PasswordQuality   string `json:"password_quality,omitempty" enum:",SOMETHING,NUMERIC,NUMERIC_COMPLEX,ALPHABETIC,ALPHANUMERIC,COMPLEX" doc:"Android's password quality; empty: none required."`
	RequireEncryption bool   `json:"require_encryption,omitempty"`
	CameraDisabled    bool   `json:"camera_disabled,omitempty"`
	Apps              []App  `json:"apps,omitempty" maxItems:"200"`
	BlockAfterDays    int    `json:"block_after_days,omitempty" minimum:"0" maximum:"365" doc:"Block a device whose password is non-compliant for this many days (0: never)."`
	WipeAfterDays     int    `json:"wipe_after_days,omitempty" minimum:"0" maximum:"365" doc:"Wipe it after this many days (0: never; more than block_after_days)."`
}

func policySettings(s android.PolicySettings) PolicySettings {
	return PolicySettings{PasswordMinLength: s.PasswordMinLength, PasswordQuality: s.PasswordQuality, RequireEncryption: s.RequireEncryption,
		CameraDisabled: s.CameraDisabled, Apps: convert(s.Apps, func(a android.App) App { return App(a) }),
		BlockAfterDays: s.BlockAfterDays, WipeAfterDays: s.WipeAfterDays}
}

// settings is what the service takes.
func (s PolicySettings) settings() android.PolicySettings {
	return android.PolicySettings{PasswordMinLength: s.PasswordMinLength, PasswordQuality: s.PasswordQuality, RequireEncryption: s.RequireEncryption,
		CameraDisabled: s.CameraDisabled, Apps: convert(s.Apps, func(a App) android.App { return android.App(a) }),
		BlockAfterDays: s.BlockAfterDays, WipeAfterDays: s.WipeAfterDays}
}

// AndroidPolicy is one of the tenant's Android policies.
type AndroidPolicy struct {
	ID           uuid.UUID      `json:"id"`
	Name         string         `json:"name"`
	GroupID      *uuid.UUID     `json:"group_id,omitempty" doc:"Devices of this group are moved to the policy when it is published."`
	Settings     PolicySettings `json:"settings"`
	Version      int64          `json:"version" doc:"Google's version of the policy once published (0: not yet)."`
	PublishedAt  *time.Time     `json:"published_at,omitempty"`
	PublishError string         `json:"publish_error,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

func androidPolicy(p android.Policy) AndroidPolicy {
	return AndroidPolicy{ID: p.ID, Name: p.Name, GroupID: p.GroupID, Settings: policySettings(p.Settings), Version: p.Version,
		PublishedAt: p.PublishedAt, PublishError: p.PublishError, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// AndroidEnrollmentToken provisions devices with a policy: scanned as a
// QR code at a new device's welcome screen, or typed in as afw#setup then
// the link's token.
type AndroidEnrollmentToken struct {
	ID        uuid.UUID  `json:"id"`
	PolicyID  uuid.UUID  `json:"policy_id"`
	Value     string     `json:"value" doc:"The token, as Android's setup asks for it."`
	Link      string     `json:"link" doc:"The enrollment link for the token."`
	QRCode    string     `json:"qr_code" doc:"The provisioning payload the QR code carries (GET .../qr.png renders it)."`
	OneTime   bool       `json:"one_time"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Rule is one compliance rule.
type Rule struct {
	ID          uuid.UUID              `json:"id"`
	Name        string                 `json:"name"`
	Platform    inventory.Platform     `json:"platform,omitempty" doc:"Only devices of this platform or Apple device family (macos, ios, ipados, tvos); empty for all."`
	Kind        compliance.Kind        `json:"kind"`
	Params      compliance.Params      `json:"params"`
	Remediation compliance.Remediation `json:"remediation"`
	Enabled     bool                   `json:"enabled"`
	Baseline    *compliance.Mark       `json:"baseline,omitempty" doc:"The MSP baseline item the rule was applied from; absent for the tenant's own rule. Trident keeps it as the baseline says (override the item in the tenant instead of changing the rule)."`
	CreatedAt   time.Time              `json:"created_at"`
	UpdatedAt   time.Time              `json:"updated_at"`
}
