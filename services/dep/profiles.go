package dep

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanodep/godep"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// ProfileSettings are the choices of an ADE profile (Apple's "Profile"
// object of the Device Assignment API). The enrollment URL is always the
// tenant's own ADE endpoint and is not a setting.
type ProfileSettings struct {
	Supervised            *bool    `json:"is_supervised,omitempty"`           // Supervise the device (default true; Apple requires it for iOS 13 and later).
	Mandatory             *bool    `json:"is_mandatory,omitempty"`            // The user cannot skip enrollment (default true).
	MDMRemovable          bool     `json:"is_mdm_removable,omitempty"`        // The user may remove the MDM profile (default false).
	AwaitDeviceConfigured *bool    `json:"await_device_configured,omitempty"` // Hold the device in Setup Assistant until Trident has sent its setup commands and releases it (default true).
	AutoAdvanceSetup      bool     `json:"auto_advance_setup,omitempty"`      // tvOS and macOS: advance through Setup Assistant without user input.
	SkipSetupItems        []string `json:"skip_setup_items,omitempty"`        // Setup Assistant panes to skip, by Apple's keys (for example Location, Siri, Privacy, Biometric).
	Department            string   `json:"department,omitempty"`
	SupportPhoneNumber    string   `json:"support_phone_number,omitempty"`
	SupportEmailAddress   string   `json:"support_email_address,omitempty"`
	Language              string   `json:"language,omitempty"`
	Region                string   `json:"region,omitempty"`
}

// Profile is one of the tenant's ADE profiles.
type Profile struct {
	ID        uuid.UUID       `json:"id"`
	Name      string          `json:"name"`
	Settings  ProfileSettings `json:"settings"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

var setupItem = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,63}$`)

func (p ProfileSettings) validate() error {
	for _, it := range p.SkipSetupItems {
		if !setupItem.MatchString(it) {
			return fault.InvalidField("settings.skip_setup_items", fmt.Sprintf("%q is not a Setup Assistant key", it))
		}
	}
	if len(p.SkipSetupItems) > 100 {
		return fault.InvalidField("settings.skip_setup_items", "at most 100 items")
	}
	if p.SupportEmailAddress != "" && !strings.Contains(p.SupportEmailAddress, "@") {
		return fault.InvalidField("settings.support_email_address", "must be an email address")
	}
	// The lengths Apple's Profile object allows.
	for _, f := range []struct {
		name, v string
		max     int
	}{{"department", p.Department, 125}, {"support_phone_number", p.SupportPhoneNumber, 50},
		{"support_email_address", p.SupportEmailAddress, 250}, {"language", p.Language, 35}, {"region", p.Region, 10}} {
		if len(f.v) > f.max {
			return fault.InvalidField("settings."+f.name, fmt.Sprintf("at most %d characters", f.max))
		}
	}
	return nil
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return "", fault.InvalidField("name", "must be 1 to 200 characters")
	}
	return name, nil
}

func scanProfile(r pgx.Row) (Profile, error) {
	var p Profile
	var raw []byte
	err := r.Scan(&p.ID, &p.Name, &raw, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("ADE profile: %w", tenancy.ErrNotFound)
	}
	if err == nil {
		err = json.Unmarshal(raw, &p.Settings)
	}
	return p, err
}

const profileCols = `id, name, settings, created_at, updated_at`

func uniqueName(err error) error {
	if err != nil && strings.Contains(err.Error(), "dep_profiles_tenant_id_name_key") {
		return fmt.Errorf("an ADE profile with this name exists: %w", tenancy.ErrConflict)
	}
	return err
}

// CreateProfile defines an ADE profile for the tenant.
func (s *Service) CreateProfile(ctx context.Context, name string, set ProfileSettings) (Profile, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Profile, error) { return s.createProfileTx(ctx, tx, name, set) })
}

func (s *Service) createProfileTx(ctx context.Context, tx pgx.Tx, name string, set ProfileSettings) (Profile, error) {
	name, err := validName(name)
	if err != nil {
		return Profile{}, err
	}
	if err := set.validate(); err != nil {
		return Profile{}, err
	}
	p, err := scanProfile(tx.QueryRow(ctx, `INSERT INTO dep_profiles (id, name, settings) VALUES ($1, $2, $3) RETURNING `+profileCols,
		uuid.New(), name, set))
	return p, uniqueName(err)
}

// UpdateProfile replaces a profile's name and settings. Devices already
// assigned keep what Apple has until they are assigned again; new
// assignments define the new settings with Apple first.
func (s *Service) UpdateProfile(ctx context.Context, id uuid.UUID, name string, set ProfileSettings) (Profile, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Profile, error) { return s.updateProfileTx(ctx, tx, id, name, set) })
}

func (s *Service) updateProfileTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, name string, set ProfileSettings) (Profile, error) {
	name, err := validName(name)
	if err != nil {
		return Profile{}, err
	}
	if err := set.validate(); err != nil {
		return Profile{}, err
	}
	p, err := scanProfile(tx.QueryRow(ctx, `UPDATE dep_profiles SET name = $2, settings = $3, updated_at = now() WHERE id = $1 RETURNING `+profileCols,
		id, name, set))
	return p, uniqueName(err)
}

// Profile reads one profile.
func (s *Service) Profile(ctx context.Context, id uuid.UUID) (Profile, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (Profile, error) { return s.profileTx(ctx, tx, id) })
}

func (s *Service) profileTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Profile, error) {
	return scanProfile(tx.QueryRow(ctx, `SELECT `+profileCols+` FROM dep_profiles WHERE id = $1`, id))
}

// Profiles lists the tenant's profiles.
func (s *Service) Profiles(ctx context.Context) ([]Profile, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]Profile, error) { return s.profilesTx(ctx, tx) })
}

func (s *Service) profilesTx(ctx context.Context, tx pgx.Tx) ([]Profile, error) {
	rows, err := tx.Query(ctx, `SELECT `+profileCols+` FROM dep_profiles ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteProfile deletes a profile; tokens using it for new devices stop
// assigning one.
func (s *Service) DeleteProfile(ctx context.Context, id uuid.UUID) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error { return s.deleteProfileTx(ctx, tx, id) })
}

func (s *Service) deleteProfileTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM dep_profiles WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("ADE profile: %w", tenancy.ErrNotFound)
	}
	return err
}

func orTrue(b *bool) *bool {
	if b == nil {
		t := true
		return &t
	}
	return b
}

// appleProfile is what Trident defines with Apple for p.
func appleProfile(tenant uuid.UUID, p Profile, enrollURL string) *godep.ProfileJson {
	set := p.Settings
	name := p.Name
	out := &godep.ProfileJson{ProfileName: &name, Url: &enrollURL, IsSupervised: orTrue(set.Supervised),
		IsMandatory: orTrue(set.Mandatory), IsMdmRemovable: set.MDMRemovable, AwaitDeviceConfigured: orTrue(set.AwaitDeviceConfigured),
		SkipSetupItems: set.SkipSetupItems, OrgMagic: tenant.String()}
	if set.AutoAdvanceSetup {
		out.AutoAdvanceSetup = &set.AutoAdvanceSetup
	}
	for _, f := range []struct {
		v   string
		dst **string
	}{{set.Department, &out.Department}, {set.SupportPhoneNumber, &out.SupportPhoneNumber},
		{set.SupportEmailAddress, &out.SupportEmailAddress}, {set.Language, &out.Language}, {set.Region, &out.Region}} {
		if f.v != "" {
			v := f.v
			*f.dst = &v
		}
	}
	return out
}

// define returns the Apple profile_uuid of profile's current settings on
// token's server, defining them with Apple when they changed.
func (s *Service) define(ctx context.Context, token, profile uuid.UUID) (string, error) {
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return "", err
	}
	if s.enrollURL == nil {
		return "", errors.New("dep: no ADE enrollment URL configured")
	}
	enroll, err := s.enrollURL(ctx, tenant)
	if err != nil {
		return "", err
	}
	var p Profile
	var hash []byte
	var appleUUID string
	err = s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		if p, err = s.profileTx(ctx, tx, profile); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT settings_hash, apple_uuid FROM dep_profile_definitions WHERE token_id = $1 AND profile_id = $2`,
			token, profile).Scan(&hash, &appleUUID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if s.support != nil {
		email, phone, err := s.support(ctx)
		if err != nil {
			return "", err
		}
		p.Settings.SupportEmailAddress = cmp.Or(p.Settings.SupportEmailAddress, email)
		p.Settings.SupportPhoneNumber = cmp.Or(p.Settings.SupportPhoneNumber, phone)
	}
	ap := appleProfile(tenant, p, enroll)
	raw, _ := json.Marshal(ap)
	sum := sha256.Sum256(raw)
	if appleUUID != "" && bytes.Equal(hash, sum[:]) {
		return appleUUID, nil
	}
	resp, err := s.client.DefineProfile(ctx, Name(tenant, token), ap)
	s.observe(ctx, token, err)
	if err != nil {
		return "", s.appleError(err)
	}
	appleUUID = deref(resp.ProfileUuid)
	if appleUUID == "" {
		return "", errors.New("dep: Apple defined the profile without a profile_uuid")
	}
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO dep_profile_definitions (token_id, profile_id, settings_hash, apple_uuid) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, token_id, profile_id) DO UPDATE SET settings_hash = EXCLUDED.settings_hash, apple_uuid = EXCLUDED.apple_uuid, defined_at = now()`,
			token, profile, sum[:], appleUUID)
		return err
	})
	return appleUUID, err
}

// AssignArgs assigns an ADE profile to devices of a token's server: the
// ones among Serials still waiting for it (pending or failed) when the
// job runs, so a retry only sends what is left.
type AssignArgs struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	TokenID   uuid.UUID `json:"token_id"`
	ProfileID uuid.UUID `json:"profile_id"`
	Serials   []string  `json:"serials"`
}

func (AssignArgs) Kind() string { return "dep.assign" }

// AssignResult says what Apple did with each device.
type AssignResult struct {
	Assigned, Failed, NotAccessible []string
}

// ErrAssignFailed is returned when Apple failed some assignments: the job
// is retried for those.
var ErrAssignFailed = errors.New("dep: Apple failed to assign the profile to some devices")

// Assign runs an AssignArgs job.
func (s *Service) Assign(ctx context.Context, a AssignArgs) (AssignResult, error) {
	var res AssignResult
	var serials []string
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT serial_number FROM dep_devices WHERE token_id = $1 AND serial_number = ANY($2)
AND assign_profile_id = $3 AND assign_status IN ('pending', 'failed') ORDER BY serial_number`, a.TokenID, a.Serials, a.ProfileID)
		if err != nil {
			return err
		}
		serials, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || len(serials) == 0 {
		return res, err
	}
	appleUUID, err := s.define(ctx, a.TokenID, a.ProfileID)
	if err != nil {
		s.markAssign(ctx, serials, "failed", err.Error())
		return res, err
	}
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return res, err
	}
	resp, err := s.client.AssignProfile(ctx, Name(tenant, a.TokenID), appleUUID, serials...)
	s.observe(ctx, a.TokenID, err)
	if err != nil {
		err = s.appleError(err)
		s.markAssign(ctx, serials, "failed", err.Error())
		return res, err
	}
	for _, sn := range serials {
		switch resp.Devices[sn] {
		case godep.AssignProfileResponseJsonDevicesValueSUCCESS:
			res.Assigned = append(res.Assigned, sn)
		case godep.AssignProfileResponseJsonDevicesValueNOTACCESSIBLE:
			res.NotAccessible = append(res.NotAccessible, sn)
		default:
			res.Failed = append(res.Failed, sn)
		}
	}
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE dep_devices SET assign_status = 'assigned', assign_error = '', apple_profile_uuid = $2,
profile_status = 'assigned', profile_assigned_at = now(), updated_at = now() WHERE serial_number = ANY($1)`, res.Assigned, appleUUID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dep_devices SET assign_status = 'not_accessible', updated_at = now(),
assign_error = 'Apple says the device is not assigned to this MDM server in Apple Business Manager' WHERE serial_number = ANY($1)`, res.NotAccessible); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dep_devices SET assign_status = 'failed', updated_at = now(),
assign_error = 'Apple failed the assignment; retrying' WHERE serial_number = ANY($1)`, res.Failed); err != nil {
			return err
		}
		_, err := s.pub.Publish(ctx, tx, EventProfileAssign, a.TokenID.String(), ProfileAssignment{TokenID: a.TokenID,
			ProfileID: a.ProfileID, AppleProfileUUID: appleUUID, Assigned: nonNil(res.Assigned),
			Failed: nonNil(res.Failed), NotAccessible: nonNil(res.NotAccessible)})
		return err
	})
	if err == nil && len(res.Failed) > 0 {
		err = fmt.Errorf("%w: %s", ErrAssignFailed, strings.Join(res.Failed, ", "))
	}
	return res, err
}

func (s *Service) markAssign(ctx context.Context, serials []string, status, detail string) {
	if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE dep_devices SET assign_status = $2, assign_error = left($3, 1000), updated_at = now()
WHERE serial_number = ANY($1)`, serials, status, detail)
		return err
	}); err != nil {
		s.log.WarnContext(ctx, "record ADE assignment failure", "err", err)
	}
}

// RequestAssign assigns profile to the named devices (re-assigning those
// that have one), through a job queued in tx.
func (s *Service) RequestAssign(ctx context.Context, profile uuid.UUID, serials []string) (int, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (int, error) { return s.requestAssignTx(ctx, tx, profile, serials) })
}

func (s *Service) requestAssignTx(ctx context.Context, tx pgx.Tx, profile uuid.UUID, serials []string) (int, error) {
	if _, err := s.profileTx(ctx, tx, profile); err != nil {
		return 0, fault.InvalidField("profile_id", "no such ADE profile")
	}
	if len(serials) == 0 || len(serials) > 1000 {
		return 0, fault.InvalidField("serial_numbers", "name 1 to 1,000 devices")
	}
	rows, err := tx.Query(ctx, `UPDATE dep_devices SET assign_profile_id = $2, assign_status = 'pending', assign_error = '', updated_at = now()
WHERE serial_number = ANY($1) RETURNING token_id, serial_number`, serials, profile)
	if err != nil {
		return 0, err
	}
	byToken := map[uuid.UUID][]string{}
	n := 0
	for rows.Next() {
		var tok uuid.UUID
		var sn string
		if err := rows.Scan(&tok, &sn); err != nil {
			rows.Close()
			return 0, err
		}
		byToken[tok] = append(byToken[tok], sn)
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n != len(dedupe(serials)) {
		return 0, fault.InvalidField("serial_numbers", "some devices are not in this tenant's ABM devices")
	}
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return 0, err
	}
	for tok, sns := range byToken {
		if err := s.insert(ctx, tx, AssignArgs{TenantID: tenant, TokenID: tok, ProfileID: profile, Serials: sns}); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func dedupe(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}
