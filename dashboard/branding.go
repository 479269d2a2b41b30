package dashboard

import (
	"context"
	"net/http"

	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/tenants"
)

// setBranding saves the tenant's name, colours and support contact
// (admins), as the API's set-branding.
func (d *Dashboard) setBranding(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{}
	for _, k := range []string{"display_name", "primary_color", "accent_color", "support_email", "support_phone", "support_url"} {
		form[k] = r.PostFormValue(k)
	}
	d.changeBranding(w, r, "set-branding", "/branding", form, func(ctx context.Context) error {
		_, err := d.opts.Tenants.SetBranding(ctx, tenants.Branding{DisplayName: form["display_name"], PrimaryColor: form["primary_color"],
			AccentColor: form["accent_color"], SupportEmail: form["support_email"], SupportPhone: form["support_phone"], SupportURL: form["support_url"]})
		return err
	})
}

// setLogo keeps an uploaded logo (admins), as the API's set-branding-logo.
func (d *Dashboard) setLogo(w http.ResponseWriter, r *http.Request) {
	data, err := formFileMax(r, "logo", tenants.MaxLogoBytes)
	d.changeBranding(w, r, "set-branding-logo", "/branding/logo", nil, func(ctx context.Context) error {
		if err != nil {
			return err
		}
		_, err := d.opts.Tenants.SetLogo(ctx, data)
		return err
	})
}

// removeLogo removes the logo (admins), as the API's delete-branding-logo.
func (d *Dashboard) removeLogo(w http.ResponseWriter, r *http.Request) {
	d.changeBranding(w, r, "delete-branding-logo", "/branding/logo", nil, func(ctx context.Context) error {
		_, err := d.opts.Tenants.DeleteLogo(ctx)
		return err
	})
}

// changeBranding runs one change of the tenant's branding, audited as
// action on path, with the branding of its Android enterprise queued in
// the same transaction.
func (d *Dashboard) changeBranding(w http.ResponseWriter, r *http.Request, action, path string, form map[string]string, change func(ctx context.Context) error) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		if err := change(ctx); err != nil {
			return err
		}
		if d.opts.Android != nil {
			if err := d.opts.Android.QueueBrand(ctx); err != nil {
				return err
			}
		}
		return d.record(ctx, sess, action, "/v1/tenants/"+s.T.Slug+path, http.StatusOK, nil)
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg, Form: form})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "branding-saved")
}
