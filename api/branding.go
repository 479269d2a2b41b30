package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/tenants"
)

// Branding is how a tenant presents itself: on its enrollment pages, in
// its Apple enrollment and ADE profiles, and in the dashboard for its
// users.
type Branding struct {
	DisplayName  string `json:"display_name" maxLength:"100" doc:"The name people and devices see; empty: the tenant's name."`
	PrimaryColor string `json:"primary_color" doc:"#rrggbb; empty: Trident's."`
	AccentColor  string `json:"accent_color" doc:"#rrggbb; empty: Trident's."`
	SupportEmail string `json:"support_email" maxLength:"250" doc:"Shown as whom to ask for help, and put in ADE profiles that name no support address."`
	SupportPhone string `json:"support_phone" maxLength:"50" doc:"Shown as whom to call, and put in ADE profiles that name no support number."`
	SupportURL   string `json:"support_url" maxLength:"500" doc:"An https:// page of help."`
}

// BrandingState is a tenant's branding as kept.
type BrandingState struct {
	Branding
	LogoType  string     `json:"logo_type,omitempty" enum:"image/png,image/jpeg" doc:"The logo's type; absent without a logo (set-branding-logo)."`
	LogoHash  string     `json:"logo_sha256,omitempty" doc:"The logo's SHA-256, hex: it changes with the logo."`
	LogoURL   string     `json:"logo_url,omitempty" doc:"Where devices and pages read the logo: the tenant's own hostname."`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

type brandingOutput struct{ Body BrandingState }

type setBrandingInput struct {
	TenantPath
	Body Branding
}

type setLogoInput struct {
	TenantPath
	RawBody []byte `contentType:"image/png" doc:"The logo: a PNG or JPEG image, at most 256 KiB and 1024 pixels a side."`
}

func (a *API) brandingOf(ctx context.Context, b tenants.Branding, err error) (*brandingOutput, error) {
	if err != nil {
		return nil, err
	}
	out := &brandingOutput{Body: BrandingState{Branding: Branding{DisplayName: b.DisplayName, PrimaryColor: b.PrimaryColor, AccentColor: b.AccentColor,
		SupportEmail: b.SupportEmail, SupportPhone: b.SupportPhone, SupportURL: b.SupportURL}, LogoType: b.LogoType, LogoHash: b.LogoHash}}
	if !b.UpdatedAt.IsZero() {
		out.Body.UpdatedAt = &b.UpdatedAt
	}
	if b.LogoType != "" && a.d.DeviceURL != nil {
		out.Body.LogoURL = a.d.DeviceURL(callFrom(ctx).tenant) + "/branding/logo"
	}
	return out, nil
}

func (a *API) brandingRoutes() {
	tags := []string{"Tenants"}
	register(a, huma.Operation{
		OperationID: "get-branding", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/branding", Tags: tags,
		Summary: "The tenant's branding",
	}, viewer, func(ctx context.Context, in *TenantPath) (*brandingOutput, error) {
		b, err := readValue(a, ctx, a.d.Tenants.Branding)
		return a.brandingOf(ctx, b, err)
	})
	register(a, huma.Operation{
		OperationID: "set-branding", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/branding", Tags: tags,
		Summary: "Set the tenant's branding",
		Description: "Its display name, colours and support contact (the logo is set-branding-logo). Shown on the tenant's enrollment page, " +
			"as the organization and description of its Apple enrollment profiles, as the support contact of ADE profiles that name none, " +
			"and in the dashboard for the tenant's users.",
	}, admin, func(ctx context.Context, in *setBrandingInput) (*brandingOutput, error) {
		var b tenants.Branding
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			x := in.Body
			if b, err = a.d.Tenants.SetBranding(ctx, tenants.Branding{DisplayName: x.DisplayName, PrimaryColor: x.PrimaryColor, AccentColor: x.AccentColor,
				SupportEmail: x.SupportEmail, SupportPhone: x.SupportPhone, SupportURL: x.SupportURL}); err != nil {
				return err
			}
			return a.brandAndroid(ctx)
		})
		return a.brandingOf(ctx, b, err)
	})
	register(a, huma.Operation{
		OperationID: "set-branding-logo", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/branding/logo", Tags: tags,
		Summary:     "Set the tenant's logo",
		Description: "The image is the body (Content-Type image/png or image/jpeg): checked to be a whole PNG or JPEG, at most 256 KiB and 16 to 1024 pixels a side.",
	}, admin, func(ctx context.Context, in *setLogoInput) (*brandingOutput, error) {
		var b tenants.Branding
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			if b, err = a.d.Tenants.SetLogo(ctx, in.RawBody); err != nil {
				return err
			}
			return a.brandAndroid(ctx)
		})
		return a.brandingOf(ctx, b, err)
	})
	register(a, huma.Operation{
		OperationID: "delete-branding-logo", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/branding/logo", Tags: tags,
		Summary: "Remove the tenant's logo",
	}, admin, func(ctx context.Context, in *TenantPath) (*brandingOutput, error) {
		var b tenants.Branding
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			if b, err = a.d.Tenants.DeleteLogo(ctx); err != nil {
				return err
			}
			return a.brandAndroid(ctx)
		})
		return a.brandingOf(ctx, b, err)
	})
}

// brandAndroid queues the branding of the tenant's Android enterprise, in
// the change's transaction.
func (a *API) brandAndroid(ctx context.Context) error {
	if a.d.Android == nil {
		return nil
	}
	return a.d.Android.QueueBrand(ctx)
}
