package dashboard

import (
	"context"
	"errors"
	"net/http"
	"slices"

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
// operators; destructive kinds need an admin and the confirmation box.
func (d *Dashboard) groupCommand(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	s := sessionFrom(r.Context())
	role, _ := s.principal().RoleIn(t)
	reply := func(code int, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		name := "composer-error"
		if code < 300 {
			name = "composer-ok"
		}
		pages.ExecuteTemplate(w, name, msg)
	}
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
	payload, code, problem := jsonPayload(r)
	if problem == "" {
		code, problem = checkCommand(kind, payload, role, boxTicked(r))
	}
	if problem != "" {
		reply(code, problem)
		return
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var name string
	err = d.db.Within(ctx, func(ctx context.Context) (err error) {
		name, err = d.queueForGroup(ctx, t, s, group, "", kind, payload)
		return err
	})
	switch {
	case errors.Is(err, errNoGroup):
		reply(http.StatusNotFound, err.Error())
	case err != nil:
		d.log.ErrorContext(ctx, "dashboard group command", "tenant", t.ID, "err", err)
		reply(http.StatusInternalServerError, "The command could not be queued; try again.")
	default:
		d.log.InfoContext(ctx, "dashboard group command", "subject", s.Subject, "kind", kind, "group", group)
		reply(http.StatusAccepted, kind+" is being queued for every enrolled device of "+name+
			" that supports it; each device's page shows its command.")
	}
}

// queueForGroup queues kind in the background for every enrolled device
// of group (of platform; "" for any that supports it), as the API's
// queue-bulk-command and audited as it, in the transaction ctx is within. It answers the group's
// name, or errNoGroup.
func (d *Dashboard) queueForGroup(ctx context.Context, t tenancy.Tenant, s *session, group uuid.UUID,
	platform inventory.Platform, kind string, payload map[string]any) (string, error) {
	gs, err := d.inv.Groups(ctx)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(gs, func(g inventory.Group) bool { return g.ID == group })
	if i < 0 {
		return "", errNoGroup
	}
	bulk, err := d.cmds.QueueBulk(ctx, t.ID, commands.Bulk{Kind: kind, Payload: payload, Group: group, Platform: platform, By: s.Subject})
	if err != nil {
		return "", err
	}
	return gs[i].Name, d.record(ctx, s, "queue-bulk-command", "/v1/tenants/"+t.Slug+"/commands/bulk", http.StatusAccepted,
		map[string]string{"kind": kind, "group": group.String(), "bulk": bulk.String()})
}
