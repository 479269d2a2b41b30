package dashboard

import (
	"context"
	"net/http"
	"time"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/identity"
)

// roleText says what a role may do in a tenant.
type roleText struct {
	Role  identity.Role
	Does  string
	Group string // the identity provider's group that grants it here
}

// peopleView is who may act in the tenant, and who did.
type peopleView struct {
	view
	Roles    []roleText
	MSPGroup string // the group that makes someone an admin of every tenant of the MSP
	Claims   []string
	Actors   []audit.Actor
}

// actorsSince is how far back the people page looks.
const actorsSince = 90 * 24 * time.Hour

// people shows the tenant's roles, the identity provider's groups that
// grant each (Trident reads roles from the sign-in's claims; it keeps no
// grants of its own yet), and who acted in the tenant lately (admins).
func (d *Dashboard) people(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	var actors []audit.Actor
	if err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) (err error) {
		actors, err = d.opts.Audit.Actors(ctx, time.Now().Add(-actorsSince), 200)
		return err
	}); err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard people", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The audit log cannot be read right now; try again in a moment.")
		return
	}
	prefix := d.opts.Claims.Prefix
	if prefix == "" {
		prefix = "trident"
	}
	group := func(role identity.Role) string {
		return "/" + prefix + "/msp/" + s.T.MSPSlug + "/tenant/" + s.T.Slug + "/" + string(role)
	}
	d.page(w, r, "people-content", &peopleView{view: s.view("People", flash{}), Actors: actors, Claims: d.opts.Claims.RoleClaims,
		MSPGroup: "/" + prefix + "/msp/" + s.T.MSPSlug + "/admin",
		Roles: []roleText{
			{identity.Viewer, "Sees the devices, their commands, compliance, profiles, enrollment and Apple Business Manager.", group(identity.Viewer)},
			{identity.Operator, "Also sends commands that lose nothing (restart, lock, ask for facts), installs profiles on groups, makes enrollment tokens and starts ABM syncs.", group(identity.Operator)},
			{identity.Admin, "Also erases devices and clears passcodes, writes compliance rules, manages groups, webhooks, hostnames, the push certificate and ABM tokens, and reads the audit log.", group(identity.Admin)},
		}})
}
