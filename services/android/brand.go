package android

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	am "google.golang.org/api/androidmanagement/v1"
)

// Brand is how a tenant's Android enterprise presents itself while a
// device enrolls (Google's provisioning screens and the device policy
// app): its name, colour and logo.
type Brand struct {
	DisplayName  string
	PrimaryColor string // #rrggbb, or ""
	// LogoURL is where Google fetches the logo (the tenant's own
	// hostname), and LogoSHA256 the logo's digest it checks; "" and nil
	// without a logo.
	LogoURL    string
	LogoSHA256 []byte
}

// BrandArgs is the job that puts a tenant's branding on its enterprise.
type BrandArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (BrandArgs) Kind() string { return "android.brand_enterprise" }

// QueueBrand queues the branding of the tenant in ctx's enterprise, in
// the transaction ctx is within (a branding change's): Google is told
// by the job, retried, never from the request. Without an enterprise or
// branding it does nothing.
func (s *Service) QueueBrand(ctx context.Context) error {
	if s.brand == nil {
		return nil
	}
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := s.bound(ctx, tx); err != nil {
			return nil // branded when bound (CompleteSignup queues it)
		}
		return s.insert(ctx, tx, func(t uuid.UUID) river.JobArgs { return BrandArgs{TenantID: t} })
	})
}

// ApplyBrand runs a BrandArgs job: the enterprise's display name, primary
// colour and logo become the tenant's branding.
func (s *Service) ApplyBrand(ctx context.Context) error {
	if s.brand == nil {
		return nil
	}
	var ent string
	if err := s.db.ReadTx(ctx, func(tx pgx.Tx) (err error) { ent, err = s.bound(ctx, tx); return err }); err != nil {
		return err
	}
	b, err := s.brand(ctx)
	if err != nil {
		return err
	}
	// What the tenant has not set goes back to Google's default (null).
	e := &am.Enterprise{EnterpriseDisplayName: b.DisplayName}
	if c, err := strconv.ParseInt(strings.TrimPrefix(b.PrimaryColor, "#"), 16, 64); err == nil && b.PrimaryColor != "" {
		e.PrimaryColor = c // (red << 16) | (green << 8) | blue, as the field wants
		e.ForceSendFields = append(e.ForceSendFields, "PrimaryColor")
	} else {
		e.NullFields = append(e.NullFields, "PrimaryColor")
	}
	if b.LogoURL != "" && len(b.LogoSHA256) > 0 {
		e.Logo = &am.ExternalData{Url: b.LogoURL, Sha256Hash: base64.StdEncoding.EncodeToString(b.LogoSHA256)}
	} else {
		e.NullFields = append(e.NullFields, "Logo")
	}
	mask := "primaryColor,logo"
	if b.DisplayName != "" { // else the name the enterprise was made with stays
		mask += ",enterpriseDisplayName"
	}
	_, err = s.am.Enterprises.Patch(ent, e).UpdateMask(mask).Context(ctx).Do()
	return google(err)
}
