package android

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	am "google.golang.org/api/androidmanagement/v1"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// App is an application a policy installs, offers or blocks.
type App struct {
	PackageName string `json:"package_name"`
	InstallType string `json:"install_type"` // one of FORCE_INSTALLED, PREINSTALLED, AVAILABLE, BLOCKED, REQUIRED_FOR_SETUP
}

// PolicySettings are what Trident manages of an Android policy.
type PolicySettings struct {
	PasswordMinLength int    `json:"password_min_length,omitempty"` // The shortest password allowed (0: no requirement).
	PasswordQuality   string `json:"password_quality,omitempty"`    // Android's password quality; empty: none required.
	RequireEncryption bool   `json:"require_encryption,omitempty"`
	CameraDisabled    bool   `json:"camera_disabled,omitempty"`
	Apps              []App  `json:"apps,omitempty"`
	// Compliance enforcement (AMAPI policyEnforcementRules on the
	// password policies): block, then wipe, a device that stays
	// non-compliant.
	BlockAfterDays int `json:"block_after_days,omitempty"` // Block a device whose password is non-compliant for this many days (0: never).
	WipeAfterDays  int `json:"wipe_after_days,omitempty"`  // Wipe it after this many days (0: never; more than block_after_days).
}

// PasswordQualities are Android's password qualities, weakest first.
var PasswordQualities = []string{"SOMETHING", "NUMERIC", "NUMERIC_COMPLEX", "ALPHABETIC", "ALPHANUMERIC", "COMPLEX"}

var packageName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)

func (p PolicySettings) validate() error {
	if p.PasswordMinLength < 0 || p.PasswordMinLength > 16 {
		return fault.InvalidField("settings.password_min_length", "must be 0 to 16")
	}
	if p.PasswordQuality != "" && !slices.Contains(PasswordQualities, p.PasswordQuality) {
		return fault.InvalidField("settings.password_quality", fmt.Sprintf("%q is not a password quality", p.PasswordQuality))
	}
	if len(p.Apps) > 200 {
		return fault.InvalidField("settings.apps", "at most 200 apps")
	}
	for _, a := range p.Apps {
		if len(a.PackageName) > 200 || !packageName.MatchString(a.PackageName) {
			return fault.InvalidField("settings.apps", fmt.Sprintf("%q is not a package name", a.PackageName))
		}
		switch a.InstallType {
		case "FORCE_INSTALLED", "PREINSTALLED", "AVAILABLE", "BLOCKED", "REQUIRED_FOR_SETUP":
		default:
			return fault.InvalidField("settings.apps", fmt.Sprintf("%q is not an install type", a.InstallType))
		}
	}
	if p.WipeAfterDays > 0 && p.WipeAfterDays <= p.BlockAfterDays {
		return fault.InvalidField("settings.wipe_after_days", "must come after block_after_days")
	}
	return nil
}

// amapi is the policy Google gets for p.
func (p PolicySettings) amapi() *am.Policy {
	out := &am.Policy{
		StatusReportingSettings: &am.StatusReportingSettings{HardwareStatusEnabled: true, SoftwareInfoEnabled: true,
			DeviceSettingsEnabled: true, NetworkInfoEnabled: true, MemoryInfoEnabled: true, PowerManagementEventsEnabled: true,
			ApplicationReportsEnabled: true},
		CameraAccess: "CAMERA_ACCESS_USER_CHOICE",
	}
	if p.PasswordMinLength > 0 || p.PasswordQuality != "" {
		q := p.PasswordQuality
		if q == "" {
			q = "SOMETHING"
		}
		out.PasswordRequirements = &am.PasswordRequirements{PasswordMinimumLength: int64(p.PasswordMinLength), PasswordQuality: q}
	}
	if p.RequireEncryption {
		out.EncryptionPolicy = "ENABLED_WITHOUT_PASSWORD"
	}
	if p.CameraDisabled {
		out.CameraAccess = "CAMERA_ACCESS_DISABLED"
	}
	for _, a := range p.Apps {
		out.Applications = append(out.Applications, &am.ApplicationPolicy{PackageName: a.PackageName, InstallType: a.InstallType})
	}
	if p.BlockAfterDays > 0 || p.WipeAfterDays > 0 {
		rule := &am.PolicyEnforcementRule{SettingName: "passwordPolicies"}
		if p.BlockAfterDays > 0 {
			rule.BlockAction = &am.BlockAction{BlockAfterDays: int64(p.BlockAfterDays)}
		}
		if p.WipeAfterDays > 0 {
			rule.WipeAction = &am.WipeAction{WipeAfterDays: int64(p.WipeAfterDays), PreserveFrp: true}
		}
		out.PolicyEnforcementRules = []*am.PolicyEnforcementRule{rule}
	}
	return out
}

// Policy is one of the tenant's Android policies.
type Policy struct {
	ID           uuid.UUID      `json:"id"`
	Name         string         `json:"name"`
	GroupID      *uuid.UUID     `json:"group_id,omitempty"` // Devices of this group are moved to the policy when it is published.
	Settings     PolicySettings `json:"settings"`
	Version      int64          `json:"version"` // Google's version of the policy once published (0: not yet).
	PublishedAt  *time.Time     `json:"published_at,omitempty"`
	PublishError string         `json:"publish_error,omitempty"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

const policyCols = `id, name, group_id, settings, version, published_at, publish_error, created_at, updated_at`

func scanPolicy(r pgx.Row) (Policy, error) {
	var p Policy
	var raw []byte
	err := r.Scan(&p.ID, &p.Name, &p.GroupID, &raw, &p.Version, &p.PublishedAt, &p.PublishError, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("Android policy: %w", tenancy.ErrNotFound)
	}
	if err == nil {
		err = json.Unmarshal(raw, &p.Settings)
	}
	return p, err
}

// amapiName is the policy's name at Google.
func amapiName(enterprise string, id uuid.UUID) string {
	return enterprise + "/policies/" + id.String()
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return "", fault.InvalidField("name", "must be 1 to 200 characters")
	}
	return name, nil
}

func conflict(err error) error {
	if err != nil && strings.Contains(err.Error(), "android_policies_tenant_id_name_key") {
		return fmt.Errorf("an Android policy with this name exists: %w", tenancy.ErrConflict)
	}
	if err != nil && strings.Contains(err.Error(), "android_policies_tenant_id_group_id_fkey") {
		return fault.InvalidField("group_id", "no such device group")
	}
	return err
}

// PublishArgs publishes a policy to Google (policies.patch), then moves
// the devices of its group to it.
type PublishArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	PolicyID uuid.UUID `json:"policy_id"`
}

func (PublishArgs) Kind() string { return "android.publish_policy" }

// SavePolicy creates (id uuid.Nil) or replaces a policy and queues its
// publication in tx.
func (s *Service) SavePolicy(ctx context.Context, id uuid.UUID, name string, group *uuid.UUID, set PolicySettings) (Policy, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Policy, error) { return s.savePolicyTx(ctx, tx, id, name, group, set) })
}

func (s *Service) savePolicyTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, name string, group *uuid.UUID, set PolicySettings) (Policy, error) {
	name, err := checkName(name)
	if err != nil {
		return Policy{}, err
	}
	if err := set.validate(); err != nil {
		return Policy{}, err
	}
	var p Policy
	if id == uuid.Nil {
		p, err = scanPolicy(tx.QueryRow(ctx, `INSERT INTO android_policies (id, name, group_id, settings) VALUES ($1, $2, $3, $4) RETURNING `+policyCols,
			uuid.New(), name, group, set))
	} else {
		p, err = scanPolicy(tx.QueryRow(ctx, `UPDATE android_policies SET name = $2, group_id = $3, settings = $4, updated_at = now()
WHERE id = $1 RETURNING `+policyCols, id, name, group, set))
	}
	if err != nil {
		return Policy{}, conflict(err)
	}
	return p, s.insert(ctx, tx, func(t uuid.UUID) river.JobArgs { return PublishArgs{TenantID: t, PolicyID: p.ID} })
}

// Policy reads one policy.
func (s *Service) Policy(ctx context.Context, id uuid.UUID) (Policy, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (Policy, error) { return s.policyTx(ctx, tx, id) })
}

func (s *Service) policyTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Policy, error) {
	return scanPolicy(tx.QueryRow(ctx, `SELECT `+policyCols+` FROM android_policies WHERE id = $1`, id))
}

// Policies lists the tenant's policies.
func (s *Service) Policies(ctx context.Context) ([]Policy, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]Policy, error) { return s.policiesTx(ctx, tx) })
}

func (s *Service) policiesTx(ctx context.Context, tx pgx.Tx) ([]Policy, error) {
	rows, err := tx.Query(ctx, `SELECT `+policyCols+` FROM android_policies ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Publish runs a PublishArgs job.
func (s *Service) Publish(ctx context.Context, id uuid.UUID) (Policy, error) {
	var p Policy
	var ent string
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) {
		if ent, err = s.bound(ctx, tx); err != nil {
			return err
		}
		p, err = s.policyTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return p, err
	}
	name := amapiName(ent, p.ID)
	got, err := s.am.Enterprises.Policies.Patch(name, p.Settings.amapi()).Context(ctx).Do()
	if err != nil {
		err = google(err)
		var ge *GoogleError
		if errors.As(err, &ge) && !ge.Retryable() {
			// Google refused the policy: say so on it, and stop retrying.
			s.db.Tx(ctx, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE android_policies SET publish_error = left($2, 1000) WHERE id = $1`, id, ge.Message)
				return err
			})
			return p, fmt.Errorf("%w (the policy is not published)", err)
		}
		return p, err
	}
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		p, err = scanPolicy(tx.QueryRow(ctx, `UPDATE android_policies SET version = $2, published_at = now(), publish_error = ''
WHERE id = $1 RETURNING `+policyCols, id, got.Version))
		if err != nil {
			return err
		}
		if _, err := s.pub.Publish(ctx, tx, EventPolicyPublished, id.String(),
			PolicyPublished{PolicyID: id, Name: p.Name, Version: got.Version}); err != nil {
			return err
		}
		if p.GroupID == nil {
			return nil
		}
		return s.insert(ctx, tx, func(t uuid.UUID) river.JobArgs { return ApplyArgs{TenantID: t, PolicyID: id} })
	})
	return p, err
}

// ApplyArgs moves the devices of a policy's group to the policy
// (devices.patch of policyName), for those not on it yet.
type ApplyArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	PolicyID uuid.UUID `json:"policy_id"`
}

func (ApplyArgs) Kind() string { return "android.apply_policy" }

// Apply runs an ApplyArgs job. Devices already moved are skipped, so a
// retry picks up where a failure stopped.
func (s *Service) Apply(ctx context.Context, id uuid.UUID) (int, error) {
	var p Policy
	var ent string
	var names []string
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) {
		if ent, err = s.bound(ctx, tx); err != nil {
			return err
		}
		if p, err = s.policyTx(ctx, tx, id); err != nil || p.GroupID == nil {
			return err
		}
		picked, err := s.inv.SelectTx(ctx, tx, inventory.Selection{Platform: inventory.Android, Enrolled: true, Group: *p.GroupID,
			Except: &inventory.Fact{Key: "policy_name", Value: amapiName(ent, id)}})
		for _, d := range picked {
			names = append(names, d.Identifier)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	policy := amapiName(ent, id)
	for i, name := range names {
		if _, err := s.am.Enterprises.Devices.Patch(name, &am.Device{PolicyName: policy}).UpdateMask("policyName").Context(ctx).Do(); err != nil {
			return i, google(err)
		}
		if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := s.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Android, Identifier: name,
				Facts: map[string]any{"policy_name": policy}})
			return err
		}); err != nil {
			return i, err
		}
	}
	return len(names), nil
}
