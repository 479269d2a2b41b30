package android

import (
	"context"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
)

// Fragment is part of an Android policy that an MSP's baseline lays over
// each of a tenant's policies: the settings it names replace the
// policy's, the rest stay the tenant's own.
type Fragment struct {
	Name              string  `json:"name"`
	PasswordMinLength *int    `json:"password_min_length,omitempty"`
	PasswordQuality   *string `json:"password_quality,omitempty"`
	RequireEncryption *bool   `json:"require_encryption,omitempty"`
	CameraDisabled    *bool   `json:"camera_disabled,omitempty"`
}

// Over is p with f's settings in place of its own.
func (f Fragment) Over(p PolicySettings) PolicySettings {
	if f.PasswordMinLength != nil {
		p.PasswordMinLength = *f.PasswordMinLength
	}
	if f.PasswordQuality != nil {
		p.PasswordQuality = *f.PasswordQuality
	}
	if f.RequireEncryption != nil {
		p.RequireEncryption = *f.RequireEncryption
	}
	if f.CameraDisabled != nil {
		p.CameraDisabled = *f.CameraDisabled
	}
	return p
}

// With is f with the settings over names in place of its own.
func (f Fragment) With(over Fragment) Fragment {
	if over.PasswordMinLength != nil {
		f.PasswordMinLength = over.PasswordMinLength
	}
	if over.PasswordQuality != nil {
		f.PasswordQuality = over.PasswordQuality
	}
	if over.RequireEncryption != nil {
		f.RequireEncryption = over.RequireEncryption
	}
	if over.CameraDisabled != nil {
		f.CameraDisabled = over.CameraDisabled
	}
	return f
}

// Check says what is wrong with f: no name, no setting, or a setting no
// policy may have (named as a policy's field).
func (f Fragment) Check() error {
	if n := len(f.Name); n == 0 || n > 200 {
		return fault.InvalidField("name", "1 to 200 characters")
	}
	if f == (Fragment{Name: f.Name}) {
		return fault.InvalidField("settings", "name at least one setting: password_min_length, password_quality, require_encryption, camera_disabled")
	}
	return f.Over(PolicySettings{}).validate()
}

// MergeTx lays f over each of the tenant's policies in tx, saving (and
// queuing the publication of) those it changes; it answers how many.
func (s *Service) MergeTx(ctx context.Context, tx pgx.Tx, f Fragment) (int, error) {
	ps, err := s.policiesTx(ctx, tx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		want := f.Over(p.Settings)
		if reflect.DeepEqual(want, p.Settings) {
			continue
		}
		if _, err := s.savePolicyTx(ctx, tx, p.ID, p.Name, p.GroupID, want); err != nil {
			return n, fmt.Errorf("android: policy %q: %w", p.Name, err)
		}
		n++
	}
	return n, nil
}

// Deviating counts the tenant's policies and those whose settings differ
// from f's (changed since it was laid over them, or not yet).
func (s *Service) Deviating(ctx context.Context, tx pgx.Tx, f Fragment) (deviating, policies int, err error) {
	ps, err := s.policiesTx(ctx, tx)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range ps {
		if !reflect.DeepEqual(f.Over(p.Settings), p.Settings) {
			deviating++
		}
	}
	return deviating, len(ps), nil
}
