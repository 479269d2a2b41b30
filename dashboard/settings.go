package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// settings shows the tenant's name, its hostnames and Windows federation
// (admins).
func (d *Dashboard) settings(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	d.settingsPage(w, r, s, http.StatusOK, map[string]any{"Notice": notice(r)})
}

func (d *Dashboard) settingsPage(w http.ResponseWriter, r *http.Request, s scope, code int, extra map[string]any) {
	var names []tenancy.Hostname
	var fed *enrollment.Federation
	err := d.db.ReadTx(s.Ctx, func(tx pgx.Tx) error {
		var err error
		if names, err = d.dir.HostnamesTx(s.Ctx, tx, s.T); err != nil {
			return err
		}
		if d.opts.Windows != nil {
			f, err := d.opts.Windows.Federation(s.Ctx, tx)
			if err == nil {
				fed = &f
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
	data := s.data("Settings")
	data["Hostnames"], data["Federation"] = names, fed
	if len(names) > 0 {
		data["Platform"], data["Custom"] = names[0], names[1:]
	}
	for k, v := range extra {
		data[k] = v
	}
	d.pageStatus(w, r, code, "settings-content", data)
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
	err := d.db.Tx(s.Ctx, func(tx pgx.Tx) error {
		t, err := tenancy.UpdateTenantTx(s.Ctx, tx, s.T.ID, tenancy.TenantUpdate{Name: &name})
		if err != nil {
			return err
		}
		if _, err := d.opts.Publisher.Publish(s.Ctx, tx, events.TenantUpdated, t.ID.String(), events.TenantPayload(t)); err != nil {
			return err
		}
		return auditRecord(s.Ctx, tx, sess, "update-tenant", "/v1/tenants/"+s.T.Slug, http.StatusOK, map[string]string{"name": name})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, map[string]any{"Error": msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "tenant-renamed")
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
	err := d.db.Tx(s.Ctx, func(tx pgx.Tx) error {
		h, err := d.dir.AddHostnameTx(s.Ctx, tx, s.T.ID, host)
		if err != nil {
			return err
		}
		if _, err := d.opts.Publisher.Publish(s.Ctx, tx, events.TenantHostnameAdded, h.Name, events.HostnameAdded{Status: "pending"}); err != nil {
			return err
		}
		return auditRecord(s.Ctx, tx, sess, "add-hostname", "/v1/tenants/"+s.T.Slug+"/hostnames", http.StatusCreated, map[string]string{"hostname": h.Name})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, map[string]any{"Error": msg, "NewHostname": host})
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
	err := d.db.Tx(s.Ctx, func(tx pgx.Tx) error {
		if err := tenancy.RemoveHostnameTx(s.Ctx, tx, host); errors.Is(err, tenancy.ErrNotFound) {
			return &UserError{Status: http.StatusNotFound, Message: "That is not one of this tenant's custom hostnames."}
		} else if err != nil {
			return err
		}
		if _, err := d.opts.Publisher.Publish(s.Ctx, tx, events.TenantHostnameRemoved, host, nil); err != nil {
			return err
		}
		return auditRecord(s.Ctx, tx, sess, "remove-hostname", "/v1/tenants/"+s.T.Slug+"/hostnames/"+host, http.StatusNoContent, nil)
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, map[string]any{"Error": msg})
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
	_, err := d.dir.VerifyHostname(s.Ctx, s.T.ID, host, func(tx pgx.Tx, h tenancy.Hostname) error {
		if _, err := d.opts.Publisher.Publish(s.Ctx, tx, events.TenantHostnameVerified, h.Name, nil); err != nil {
			return err
		}
		return auditRecord(s.Ctx, tx, sess, "verify-hostname", "/v1/tenants/"+s.T.Slug+"/hostnames/"+h.Name+"/verify", http.StatusOK, nil)
	})
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		d.settingsPage(w, r, s, http.StatusNotFound, map[string]any{"Error": "That is not one of this tenant's custom hostnames."})
		return
	case errors.Is(err, tenancy.ErrUnproven):
		// What DNS showed is on the page, beside the name.
		d.settingsPage(w, r, s, http.StatusConflict, map[string]any{"Error": "The hostname is not verified yet: its TXT record is not in DNS as shown below."})
		return
	case err != nil:
		code, msg := d.problem(r, err)
		d.settingsPage(w, r, s, code, map[string]any{"Error": msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/settings", "hostname-verified")
}
