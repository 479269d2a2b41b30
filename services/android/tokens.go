package android

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/skip2/go-qrcode"
	am "google.golang.org/api/androidmanagement/v1"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// EnrollmentToken provisions devices with a policy: scanned as a QR code
// at a new device's welcome screen, or typed in as afw#setup then the
// link's token.
type EnrollmentToken struct {
	ID        uuid.UUID  `json:"id"`
	PolicyID  uuid.UUID  `json:"policy_id"`
	Value     string     `json:"value"`   // The token, as Android's setup asks for it.
	Link      string     `json:"link"`    // The enrollment link for the token.
	QRCode    string     `json:"qr_code"` // The provisioning payload the QR code carries (GET .../qr.png renders it).
	OneTime   bool       `json:"one_time"`
	ExpiresAt time.Time  `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// EnrollLink is Google's enrollment link for a token value.
func EnrollLink(value string) string {
	return "https://enterprise.google.com/android/enroll?et=" + url.QueryEscape(value)
}

const tokenCols = `id, policy_id, value, qr_code, one_time, expires_at, revoked_at, created_at`

func scanToken(r pgx.Row) (EnrollmentToken, error) {
	var t EnrollmentToken
	err := r.Scan(&t.ID, &t.PolicyID, &t.Value, &t.QRCode, &t.OneTime, &t.ExpiresAt, &t.RevokedAt, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("enrollment token: %w", tenancy.ErrNotFound)
	}
	t.Link = EnrollLink(t.Value)
	return t, err
}

// Token lifetimes Google accepts.
const (
	MinTokenLifetime = time.Minute
	MaxTokenLifetime = 90 * 24 * time.Hour
)

// CreateEnrollmentToken makes a token for policy (published already),
// valid for lifetime, for one device or many.
func (s *Service) CreateEnrollmentToken(ctx context.Context, policy uuid.UUID, lifetime time.Duration, oneTime bool) (EnrollmentToken, error) {
	if lifetime < MinTokenLifetime || lifetime > MaxTokenLifetime {
		return EnrollmentToken{}, fault.InvalidField("lifetime", "must be between a minute and 90 days")
	}
	var ent string
	var p Policy
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) {
		if ent, err = s.bound(ctx, tx); err != nil {
			return err
		}
		p, err = s.policyTx(ctx, tx, policy)
		if errors.Is(err, tenancy.ErrNotFound) {
			return fault.InvalidField("policy_id", "no such Android policy")
		}
		return err
	})
	if err != nil {
		return EnrollmentToken{}, err
	}
	if l, err := s.inv.DeviceLimit(ctx); err != nil {
		return EnrollmentToken{}, err
	} else if l.Near(1) {
		return EnrollmentToken{}, fault.Wrap(fault.Conflict, inventory.ErrDeviceLimit, fmt.Sprintf(
			"the tenant's device limit is reached (%d of %d devices enrolled): no new device could enroll with a token", l.Enrolled, *l.Limit))
	}
	if p.Version == 0 {
		return EnrollmentToken{}, fmt.Errorf("the policy is not published to Google yet (see its publish_error): %w", tenancy.ErrConflict)
	}
	t, err := s.am.Enterprises.EnrollmentTokens.Create(ent, &am.EnrollmentToken{PolicyName: amapiName(ent, policy),
		Duration: strconv.FormatInt(int64(lifetime/time.Second), 10) + "s", OneTimeOnly: oneTime,
		AllowPersonalUsage: "PERSONAL_USAGE_DISALLOWED"}).Context(ctx).Do()
	if err != nil {
		return EnrollmentToken{}, google(err)
	}
	expires, err := time.Parse(time.RFC3339Nano, t.ExpirationTimestamp)
	if err != nil {
		expires = time.Now().Add(lifetime)
	}
	var out EnrollmentToken
	err = s.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		out, err = scanToken(tx.QueryRow(ctx, `INSERT INTO android_enrollment_tokens (id, name, value, qr_code, policy_id, one_time, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+tokenCols, uuid.New(), t.Name, t.Value, t.QrCode, policy, oneTime, expires))
		return err
	})
	return out, err
}

// EnrollmentToken reads one token.
func (s *Service) EnrollmentToken(ctx context.Context, id uuid.UUID) (EnrollmentToken, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (EnrollmentToken, error) { return s.enrollmentTokenTx(ctx, tx, id) })
}

func (s *Service) enrollmentTokenTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (EnrollmentToken, error) {
	return scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM android_enrollment_tokens WHERE id = $1`, id))
}

// EnrollmentTokens lists the tenant's tokens that have not expired.
func (s *Service) EnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]EnrollmentToken, error) { return s.enrollmentTokensTx(ctx, tx) })
}

func (s *Service) enrollmentTokensTx(ctx context.Context, tx pgx.Tx) ([]EnrollmentToken, error) {
	rows, err := tx.Query(ctx, `SELECT `+tokenCols+` FROM android_enrollment_tokens WHERE expires_at > now() ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EnrollmentToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeEnrollmentToken deletes a token at Google: devices can no longer
// enroll with it.
func (s *Service) RevokeEnrollmentToken(ctx context.Context, id uuid.UUID) error {
	var name string
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT name FROM android_enrollment_tokens WHERE id = $1`, id).Scan(&name)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("enrollment token: %w", tenancy.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if _, err := s.am.Enterprises.EnrollmentTokens.Delete(name).Context(ctx).Do(); err != nil && !isNotFound(err) {
		return google(err)
	}
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE android_enrollment_tokens SET revoked_at = now(), expires_at = least(expires_at, now()) WHERE id = $1`, id)
		return err
	})
}

// QRCodePNG renders a token's provisioning payload as a QR code image of
// size pixels.
func QRCodePNG(t EnrollmentToken, size int) ([]byte, error) {
	return qrcode.Encode(t.QRCode, qrcode.Medium, size)
}
