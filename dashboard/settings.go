package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// settings shows the tenant's name, its hostnames and Windows federation
// (admins).
func (d *Dashboard) settings(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	d.settingsPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) settingsPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	var names []tenancy.Hostname
	var fed *enrollment.Federation
	var brand tenants.Branding
	err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) error {
		var err error
		if names, err = d.opts.Tenants.Hostnames(ctx, s.T); err != nil {
			return err
		}
		if brand, err = d.opts.Tenants.Branding(ctx); err != nil {
			return err
		}
		if d.opts.Windows != nil {
			fd, err := d.opts.Windows.Federation(ctx)
			if err == nil {
				fed = &fd
			} else if !errors.Is(err, enrollment.ErrNoFederation) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard settings", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The settings cannot be read right now; try again in a moment.")
		return
	}
	v := &settingsView{view: s.view("Settings", f), Hostnames: names, Federation: fed, Branding: brand,
		MSPAdmin: d.opts.MSP != nil && sessionFrom(r.Context()).principal().AdministersMSP(s.T.MSPSlug)}
	if v.MSPAdmin {
		if v.Tags, err = d.opts.MSP.Tags(s.Ctx, s.T); err != nil {
			d.log.ErrorContext(s.Ctx, "dashboard settings: tags", "tenant", s.T.ID, "err", err)
		}
	}
	if len(names) > 0 {
		v.Platform, v.Custom = &names[0], names[1:]
	}
	d.pageStatus(w, r, code, "settings-content", v)
}

// renameTenant changes the tenant's display name (admins), as the API's
// update-tenant.
func (d *Dashboard) renameTenant(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	sess := sessionFrom(r.Context())
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		if _, err := d.opts.Tenants.Update(ctx, tenancy.TenantUpdate{Name: &name}); err != nil {
			return err
		}
		return d.record(ctx, sess, "update-tenant", "/v1/tenants/"+s.T.Slug, http.StatusOK, map[string]string{"name": name})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "tenant-renamed")
}

// setStatus suspends or resumes the tenant (its MSP's admins), as the
// API's update-tenant; suspending needs the tenant's short name typed.
func (d *Dashboard) setStatus(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	if !sess.principal().AdministersMSP(s.T.MSPSlug) {
		d.errorPage(w, r, http.StatusForbidden, "Suspending or resuming a tenant is for its MSP's admins.")
		return
	}
	st, notice := tenancy.Active, "tenant-resumed"
	if r.PostFormValue("status") == string(tenancy.Suspended) {
		st, notice = tenancy.Suspended, "tenant-suspended"
		if r.PostFormValue("confirm") != s.T.Slug {
			d.settingsPage(w, r, s, http.StatusUnprocessableEntity, flash{Error: "To suspend the tenant, type the tenant's short name, " + s.T.Slug + "."})
			return
		}
	}
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		if _, err := d.opts.Tenants.Update(ctx, tenancy.TenantUpdate{Status: &st}); err != nil {
			return err
		}
		return d.record(ctx, sess, "update-tenant", "/v1/tenants/"+s.T.Slug, http.StatusOK, map[string]string{"status": string(st)})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", notice)
}

// setTags replaces the tenant's tags (its MSP's admins), as the API's
// set-tenant-tags.
func (d *Dashboard) setTags(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	if d.opts.MSP == nil || !sess.principal().AdministersMSP(s.T.MSPSlug) {
		d.errorPage(w, r, http.StatusForbidden, "Tags are the MSP's: its admins set them.")
		return
	}
	typed := r.PostFormValue("tags")
	tags := strings.FieldsFunc(typed, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\t' })
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		set, err := d.opts.MSP.SetTags(ctx, s.T, tags)
		if err != nil {
			return err
		}
		if d.opts.Jobs != nil { // baselines assigned by tag
			if err := d.opts.MSP.QueueApplyTenantTx(ctx, d.opts.Jobs, s.T); err != nil {
				return err
			}
		}
		return d.record(ctx, sess, "set-tenant-tags", "/v1/msps/"+s.T.MSPSlug+"/tenants/"+s.T.Slug+"/tags", http.StatusOK,
			map[string]string{"tags": strings.Join(set, ",")})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg, Form: map[string]string{"tags": typed}})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "tags-saved")
}

// addHostname registers a custom hostname (admins), as the API's
// add-hostname.
func (d *Dashboard) addHostname(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	host := strings.TrimSpace(r.PostFormValue("hostname"))
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		h, err := d.opts.Tenants.AddHostname(ctx, host)
		if err != nil {
			return err
		}
		return d.record(ctx, sess, "add-hostname", "/v1/tenants/"+s.T.Slug+"/hostnames", http.StatusCreated, map[string]string{"hostname": h.Name})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg, NewHostname: host})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "hostname-added")
}

// removeHostname removes one of the tenant's custom hostnames (admins).
func (d *Dashboard) removeHostname(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	host := r.PostFormValue("hostname")
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		if err := d.opts.Tenants.RemoveHostname(ctx, host); errors.Is(err, tenancy.ErrNotFound) {
			return &UserError{Status: http.StatusNotFound, Message: "That is not one of this tenant's custom hostnames."}
		} else if err != nil {
			return err
		}
		return d.record(ctx, sess, "remove-hostname", "/v1/tenants/"+s.T.Slug+"/hostnames/"+host, http.StatusNoContent, nil)
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "hostname-removed")
}

// verifyHostname checks DNS for a custom hostname's TXT record now
// (admins), as the API's verify-hostname.
func (d *Dashboard) verifyHostname(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	host := r.PostFormValue("hostname")
	_, err := d.opts.Tenants.VerifyHostname(s.Ctx, host, func(ctx context.Context, h tenancy.Hostname) error {
		return d.record(ctx, sess, "verify-hostname", "/v1/tenants/"+s.T.Slug+"/hostnames/"+h.Name+"/verify", http.StatusOK, nil)
	})
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		d.settingsPage(w, r, s, http.StatusNotFound, flash{Error: "That is not one of this tenant's custom hostnames."})
		return
	case errors.Is(err, tenancy.ErrUnproven):
		// What DNS showed is on the page, beside the name.
		d.settingsPage(w, r, s, http.StatusConflict, flash{Error: "The hostname is not verified yet: its TXT record is not in DNS as shown below."})
		return
	case err != nil:
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "hostname-verified")
}

// exportTenant answers the tenant's data as a zip of JSON Lines (its
// MSP's admins), recorded as the API's export-tenant first.
func (d *Dashboard) exportTenant(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	if d.opts.MSP == nil || !sess.principal().AdministersMSP(s.T.MSPSlug) {
		d.errorPage(w, r, http.StatusForbidden, "Exporting a tenant is for its MSP's admins.")
		return
	}
	if err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		return d.record(ctx, sess, "export-tenant", "/v1/msps/"+s.T.MSPSlug+"/tenants/"+s.T.Slug+"/export", http.StatusOK, nil)
	}); err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+s.T.Slug+`-export-`+time.Now().UTC().Format("2006-01-02")+`.zip"`)
	src := msp.ExportSources{Commands: d.cmds, Compliance: d.opts.Compliance, Webhooks: d.opts.Webhooks, Audit: d.opts.Audit}
	if err := d.opts.MSP.Export(r.Context(), src, s.T, w); err != nil {
		d.log.ErrorContext(r.Context(), "dashboard tenant export", "tenant", s.T.ID, "err", err)
	}
}
