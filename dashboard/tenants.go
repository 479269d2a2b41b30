package dashboard

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/tenancy"
)

// createTenant makes a tenant in one of the MSPs the person administers,
// as the API's create-tenant, its audit entry in the new tenant's log,
// and opens it.
func (d *Dashboard) createTenant(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	form := map[string]string{"msp": r.PostFormValue("msp"), "name": strings.TrimSpace(r.PostFormValue("name")),
		"slug": strings.ToLower(strings.TrimSpace(r.PostFormValue("slug")))}
	refuse := func(code int, msg string) { d.homePage(w, r, code, flash{Error: msg, Form: form}) }
	if !slices.Contains(s.MSPAdmin, form["msp"]) {
		// Not the person's MSP, whatever the form says: as if there were none.
		refuse(http.StatusNotFound, "Choose an MSP you administer.")
		return
	}
	m, err := d.dir.MSPBySlug(r.Context(), form["msp"])
	if errors.Is(err, tenancy.ErrNotFound) {
		refuse(http.StatusNotFound, "Choose an MSP you administer.")
		return
	} else if err != nil {
		refuse(http.StatusServiceUnavailable, "The tenant directory is unavailable; try again in a moment.")
		return
	}
	id := uuid.New()
	// The new tenant's own transaction: its audit entry commits with it.
	ctx := tenancy.WithTenant(r.Context(), id)
	var t tenancy.Tenant
	err = d.db.Within(ctx, func(ctx context.Context) error {
		var err error
		if t, err = d.opts.Tenants.Create(ctx, id, m.ID, form["slug"], form["name"]); errors.Is(err, tenancy.ErrConflict) {
			return &UserError{Status: http.StatusConflict, Message: "The short name " + form["slug"] + " is taken: choose another."}
		} else if err != nil {
			return err
		}
		return d.record(ctx, s, "create-tenant", "/v1/msps/"+m.Slug+"/tenants", http.StatusCreated, map[string]string{"tenant": t.Slug})
	})
	if err != nil {
		refuse(d.problem(r, err))
		return
	}
	d.log.InfoContext(r.Context(), "dashboard tenant created", "subject", s.Subject, "tenant", t.ID, "msp", m.Slug)
	done(w, r, "/dashboard/t/"+t.Slug+"/", "tenant-created")
}
