package tenants

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for the logo's check
	_ "image/png"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// Branding is how a tenant presents itself to its people and devices.
// Empty fields fall back: the display name to the tenant's name, colours
// to Trident's, no support contact.
type Branding struct {
	DisplayName  string    `json:"display_name"`
	PrimaryColor string    `json:"primary_color"` // #rrggbb
	AccentColor  string    `json:"accent_color"`
	SupportEmail string    `json:"support_email"`
	SupportPhone string    `json:"support_phone"`
	SupportURL   string    `json:"support_url"`
	LogoType     string    `json:"logo_type"` // image/png or image/jpeg; "" without a logo
	LogoHash     string    `json:"logo_sha256"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Name is the name to show: the display name, or the tenant's own.
func (b Branding) Name(t tenancy.Tenant) string {
	if b.DisplayName != "" {
		return b.DisplayName
	}
	return t.Name
}

// Support is the support contact in one line ("" without one).
func (b Branding) Support() string {
	var parts []string
	for _, p := range []string{b.SupportEmail, b.SupportPhone, b.SupportURL} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " · ")
}

// Limits of a logo.
const (
	MaxLogoBytes = 256 << 10
	MaxLogoSide  = 1024
)

var (
	reColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)
	rePhone = regexp.MustCompile(`^\+?[0-9 ().-]{3,50}$`)
)

func (b Branding) check() (Branding, error) {
	b.DisplayName = strings.TrimSpace(b.DisplayName)
	b.PrimaryColor, b.AccentColor = strings.ToLower(b.PrimaryColor), strings.ToLower(b.AccentColor)
	var errs []error
	if utf8.RuneCountInString(b.DisplayName) > 100 || strings.ContainsAny(b.DisplayName, "\r\n\t<>") {
		errs = append(errs, fault.InvalidField("display_name", "at most 100 characters, one line, no < or >"))
	}
	for _, c := range []struct{ field, v string }{{"primary_color", b.PrimaryColor}, {"accent_color", b.AccentColor}} {
		if c.v != "" && !reColor.MatchString(c.v) {
			errs = append(errs, fault.InvalidField(c.field, fmt.Sprintf("%q is not a colour written #rrggbb", c.v)))
		}
	}
	if b.SupportEmail != "" {
		if a, err := mail.ParseAddress(b.SupportEmail); err != nil || a.Address != b.SupportEmail || len(b.SupportEmail) > 250 {
			errs = append(errs, fault.InvalidField("support_email", "not an email address such as help@example.com"))
		}
	}
	if b.SupportPhone != "" && !rePhone.MatchString(b.SupportPhone) {
		errs = append(errs, fault.InvalidField("support_phone", "digits, spaces, + ( ) . and -, up to 50"))
	}
	if b.SupportURL != "" {
		if u, err := url.Parse(b.SupportURL); err != nil || u.Scheme != "https" || u.Host == "" || len(b.SupportURL) > 500 {
			errs = append(errs, fault.InvalidField("support_url", "an https:// URL, at most 500 characters"))
		}
	}
	return b, fault.Join(errs...)
}

const brandingCols = `display_name, primary_color, accent_color, support_email, support_phone, support_url, logo_type,
  coalesce(encode(sha256(logo), 'hex'), ''), updated_at`

func scanBranding(r pgx.Row) (Branding, error) {
	var b Branding
	err := r.Scan(&b.DisplayName, &b.PrimaryColor, &b.AccentColor, &b.SupportEmail, &b.SupportPhone, &b.SupportURL, &b.LogoType, &b.LogoHash, &b.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Branding{}, nil
	}
	return b, err
}

// Branding is the tenant in ctx's branding (zero without one).
func (s *Service) Branding(ctx context.Context) (Branding, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (Branding, error) {
		return scanBranding(tx.QueryRow(ctx, `SELECT `+brandingCols+` FROM tenant_branding`))
	})
}

// SetBranding replaces the tenant in ctx's branding, its logo aside.
func (s *Service) SetBranding(ctx context.Context, b Branding) (Branding, error) {
	b, err := b.check()
	if err != nil {
		return Branding{}, err
	}
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Branding, error) {
		return scanBranding(tx.QueryRow(ctx, `
INSERT INTO tenant_branding (display_name, primary_color, accent_color, support_email, support_phone, support_url)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id) DO UPDATE SET display_name = $1, primary_color = $2, accent_color = $3, support_email = $4,
  support_phone = $5, support_url = $6, updated_at = now()
RETURNING `+brandingCols, b.DisplayName, b.PrimaryColor, b.AccentColor, b.SupportEmail, b.SupportPhone, b.SupportURL))
	})
}

// SetLogo checks data is a PNG or JPEG image of at most MaxLogoBytes and
// MaxLogoSide pixels a side, and keeps it as the tenant in ctx's logo.
func (s *Service) SetLogo(ctx context.Context, data []byte) (Branding, error) {
	typ, err := checkLogo(data)
	if err != nil {
		return Branding{}, err
	}
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Branding, error) {
		return scanBranding(tx.QueryRow(ctx, `
INSERT INTO tenant_branding (logo, logo_type) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET logo = $1, logo_type = $2, updated_at = now()
RETURNING `+brandingCols, data, typ))
	})
}

func checkLogo(data []byte) (string, error) {
	if len(data) == 0 {
		return "", fault.InvalidField("logo", "the body is empty: send the image itself")
	}
	if len(data) > MaxLogoBytes {
		return "", fault.InvalidField("logo", fmt.Sprintf("%d KiB is larger than %d KiB", (len(data)+1023)>>10, MaxLogoBytes>>10))
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "png" && format != "jpeg") {
		return "", fault.InvalidField("logo", "not a PNG or JPEG image")
	}
	if cfg.Width < 16 || cfg.Height < 16 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return "", fault.InvalidField("logo", fmt.Sprintf("%d×%d pixels: each side must be 16 to %d", cfg.Width, cfg.Height, MaxLogoSide))
	}
	// The whole image must decode, not only its header.
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return "", fault.InvalidField("logo", "the image is damaged: "+err.Error())
	}
	return "image/" + format, nil
}

// DeleteLogo removes the tenant in ctx's logo.
func (s *Service) DeleteLogo(ctx context.Context) (Branding, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Branding, error) {
		return scanBranding(tx.QueryRow(ctx, `UPDATE tenant_branding SET logo = NULL, logo_type = '', updated_at = now() RETURNING `+brandingCols))
	})
}

// Logo is the tenant in ctx's logo and its type; none is nil.
func (s *Service) Logo(ctx context.Context) ([]byte, string, error) {
	var data []byte
	var typ string
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT logo, logo_type FROM tenant_branding WHERE logo IS NOT NULL`).Scan(&data, &typ)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return data, typ, err
}

// SupportContact is the tenant in ctx's support email and phone (for ADE
// profiles that name none).
func (s *Service) SupportContact(ctx context.Context) (email, phone string, err error) {
	b, err := s.Branding(ctx)
	return b.SupportEmail, b.SupportPhone, err
}

// ServerName is the tenant in ctx's display name, "" without one (or
// when it cannot be read: the server keeps its own name).
func (s *Service) ServerName(ctx context.Context) string {
	b, err := s.Branding(ctx)
	if err != nil {
		return ""
	}
	return b.DisplayName
}
