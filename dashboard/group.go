package dashboard

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// errNoGroup refuses a group command for a group the tenant lacks.
var errNoGroup = errors.New("there is no such group in this tenant")

// groupCommand queues a command for every enrolled device of a group, in
// the background (commands.BulkArgs, as the API's queue-bulk-command):
// operators; destructive kinds need an admin and the group's name typed.
func (d *Dashboard) groupCommand(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	s := sessionFrom(r.Context())
	role, _ := d.roleIn(r, t)
	reply := func(code int, msg string) { statusLine(w, code, msg) }
	if d.opts.Jobs == nil {
		reply(http.StatusNotFound, noGroupCommands)
		return
	}
	group, err := uuid.Parse(r.PostFormValue("group"))
	if err != nil {
		reply(http.StatusUnprocessableEntity, "Choose a group.")
		return
	}
	kind := r.PostFormValue("kind")
	// Typed fields for every family (a group may hold any); a script's
	// JSON "payload" is still the start.
	payload, code, problem := typedPayload(r, kind, "")
	if problem != "" {
		reply(code, problem)
		return
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var name string
	err = d.db.Within(ctx, func(ctx context.Context) error {
		g, err := d.groupOf(ctx, group)
		if err != nil {
			return err
		}
		if code, problem := checkCommand(kind, payload, role, nameTyped(r, "group", g.Name)); problem != "" {
			return &UserError{Status: code, Message: problem}
		}
		name = g.Name
		return d.queueForGroup(ctx, t, s, g, "", kind, payload)
	})
	var uerr *UserError
	switch {
	case errors.Is(err, errNoGroup):
		reply(http.StatusNotFound, err.Error())
	case errors.As(err, &uerr):
		reply(uerr.Status, uerr.Message)
	case err != nil:
		d.log.ErrorContext(ctx, "dashboard group command", "tenant", t.ID, "err", err)
		reply(http.StatusInternalServerError, "The command could not be queued; try again.")
	default:
		d.log.InfoContext(ctx, "dashboard group command", "subject", s.Subject, "kind", kind, "group", group)
		reply(http.StatusAccepted, kind+" is being queued for every enrolled device of "+name+
			" that supports it; each device's page shows its command.")
	}
}

// groupFields answers the group composer's fields for the chosen kind
// (operators).
func (d *Dashboard) groupFields(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	role, _ := d.roleIn(r, t)
	d.kindFields(w, r, role)
}

// kindFields answers the fields of the ?kind= a person of role may send
// to many devices (groupForms), for the group composer and the
// operations form: none for a kind not chosen, or not theirs to send.
func (d *Dashboard) kindFields(w http.ResponseWriter, r *http.Request, role identity.Role) {
	kind := r.URL.Query().Get("kind")
	for _, f := range groupForms(role) {
		if f.Name == kind {
			d.fragment(w, r, "group-fields", f)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
}

// groupOf is the tenant's group of that id, or errNoGroup.
func (d *Dashboard) groupOf(ctx context.Context, id uuid.UUID) (inventory.Group, error) {
	gs, err := d.inv.Groups(ctx)
	if err != nil {
		return inventory.Group{}, err
	}
	i := slices.IndexFunc(gs, func(g inventory.Group) bool { return g.ID == id })
	if i < 0 {
		return inventory.Group{}, errNoGroup
	}
	return gs[i], nil
}

// queueForGroup queues kind in the background for every enrolled device
// of g (of platform; "" for any that supports it), as the API's
// queue-bulk-command and audited as it, in the transaction ctx is within.
func (d *Dashboard) queueForGroup(ctx context.Context, t tenancy.Tenant, s *session, g inventory.Group,
	platform inventory.Platform, kind string, payload map[string]any) error {
	bulk, err := d.cmds.QueueBulk(ctx, t.ID, commands.Bulk{Kind: kind, Payload: payload, Group: g.ID, Platform: platform, By: s.Subject})
	if err != nil {
		return err
	}
	return d.record(ctx, s, "queue-bulk-command", "/v1/tenants/"+t.Slug+"/commands/bulk", http.StatusAccepted,
		map[string]string{"kind": kind, "group": g.ID.String(), "bulk": bulk.String()})
}

// groups lists the tenant's device groups with their sizes (everyone);
// admins make and delete them. Members are picked in the device list.
func (d *Dashboard) groups(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	d.groupsPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) groupsPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	var gs []inventory.Group
	if err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) (err error) { gs, err = d.inv.Groups(ctx); return err }); err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard groups", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The groups cannot be read right now; try again in a moment.")
		return
	}
	d.pageStatus(w, r, code, "groups-content", &groupsView{view: s.view("Groups", f), Groups: gs})
}

// createGroup makes a device group (admins), as the API's create-group.
func (d *Dashboard) createGroup(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	sess := sessionFrom(r.Context())
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		g, err := d.inv.CreateGroup(ctx, name)
		if errors.Is(err, tenancy.ErrConflict) {
			return &UserError{Status: http.StatusConflict, Message: "There is a group named " + name + " already."}
		} else if err != nil {
			return err
		}
		return d.record(ctx, sess, "create-group", "/v1/tenants/"+s.T.Slug+"/groups", http.StatusCreated, map[string]string{"group": g.ID.String()})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.groupsPage(w, r, s, code, flash{Error: msg, Form: map[string]string{"name": name}})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/groups", "group-created")
}

// deleteGroup deletes a device group, not its devices (admins, after the
// confirmation), as the API's delete-group.
func (d *Dashboard) deleteGroup(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("group"))
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such group in this tenant.")
		return
	}
	what := "the group"
	if g, err := d.groupOf(s.Ctx, id); err == nil { // the confirmation names it if it can
		what = named(what, g.Name)
	}
	if !d.confirmed(w, r, s, what, "/dashboard/t/"+s.T.Slug+"/groups") {
		return
	}
	sess := sessionFrom(r.Context())
	err = d.db.Within(s.Ctx, func(ctx context.Context) error {
		if err := d.inv.DeleteGroup(ctx, id); err != nil {
			return err
		}
		return d.record(ctx, sess, "delete-group", "/v1/tenants/"+s.T.Slug+"/groups/"+id.String(), http.StatusNoContent, nil)
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.groupsPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/groups", "group-deleted")
}
