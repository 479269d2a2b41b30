package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// commandable lists the command kinds a person of role may send to a
// platform's devices ("" for any platform: a group's).
func commandable(p inventory.Platform, role identity.Role) []commands.Kind {
	var out []commands.Kind
	for _, k := range commands.Kinds() {
		if k.Name == "device_configured" || (p != "" && !slices.Contains(k.Platforms, p)) {
			continue
		}
		if commands.Authorize(role, k.Name, nil) != nil {
			continue
		}
		out = append(out, k)
	}
	return out
}

// checkCommand checks a composer's command: a kind people send (not
// Trident's own device_configured), what the commands policy allows the
// person's role with that payload, and, for a destructive kind, the
// confirmation confirm asks for (it answers what to tell the person, or
// ""). On a problem it gives the status and what to tell the person.
func checkCommand(kind string, payload map[string]any, role identity.Role, confirm func(commands.Kind) string) (code int, problem string) {
	k, known := commands.LookupKind(kind)
	if !known || kind == "device_configured" {
		return http.StatusUnprocessableEntity, "Choose a command."
	}
	if err := commands.Authorize(role, kind, payload); err != nil {
		return http.StatusForbidden, capitalize(err.Error()) + "."
	}
	if k.Destructive {
		if problem := confirm(k); problem != "" {
			return http.StatusUnprocessableEntity, problem
		}
	}
	return 0, ""
}

// nameTyped is the confirmation of a destructive command: the name of
// what it goes to (a device, a group) typed in, so a wipe goes where the
// person means, not to the tab left open.
func nameTyped(r *http.Request, what, name string) func(commands.Kind) string {
	return func(k commands.Kind) string {
		if strings.TrimSpace(r.PostFormValue("confirm_name")) != name {
			return commandTexts[k.Name].Title + " cannot be undone: type the " + what + "'s name, " + name + ", to confirm."
		}
		return ""
	}
}

// statusLine answers a sentence for a form's status line: a refusal, or
// what was done.
func statusLine(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	name := "composer-error"
	if code < 300 {
		name = "composer-ok"
	}
	pages.ExecuteTemplate(w, name, msg)
}

func (d *Dashboard) deviceID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("device"))
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such device in this tenant.")
		return uuid.Nil, false
	}
	return id, true
}

// device shows one device: what it is, its facts, its commands, and the
// composer for a new one. The page follows the tenant's stream, so the
// commands' states change in place.
func (d *Dashboard) device(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	id, ok := d.deviceID(w, r)
	if !ok {
		return
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	live := d.liveURL(ctx, t)
	var dev inventory.Device
	var cmds []commands.Command
	var rules []compliance.Rule
	var results []compliance.Result
	var idents []pki.Identity
	var groups []inventory.Group
	states := map[uuid.UUID]string{}
	err := d.db.ReadWithin(ctx, func(ctx context.Context) error {
		var err error
		if dev, err = d.inv.Get(ctx, id); err != nil {
			return err
		}
		if d.opts.PKI != nil {
			if idents, err = d.opts.PKI.Identities(ctx, id); err != nil {
				return err
			}
		}
		if cmds, err = d.cmds.ListForDevice(ctx, id, uuid.Nil, 50); err != nil {
			return err
		}
		if groups, err = d.inv.GroupsOf(ctx, id); err != nil {
			return err
		}
		if d.opts.Compliance == nil {
			return nil
		}
		if rules, err = d.opts.Compliance.Rules(ctx); err != nil {
			return err
		}
		if results, err = d.opts.Compliance.Results(ctx, id); err != nil {
			return err
		}
		states, err = d.opts.Compliance.States(ctx, []uuid.UUID{id})
		return err
	})
	if errors.Is(err, tenancy.ErrNotFound) {
		d.errorPage(w, r, http.StatusNotFound, "There is no such device in this tenant.")
		return
	} else if err != nil {
		d.log.ErrorContext(ctx, "dashboard device", "device", id, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The device cannot be read right now; try again in a moment.")
		return
	}
	facts, apps := readableFacts(dev)
	role, _ := d.roleIn(r, t)
	v := tenantView(deviceName(dev)+" · "+t.Name, t, role)
	v.Crumbs = append([]crumb{{Name: "Devices", Link: "/dashboard/t/" + t.Slug + "/devices"}}, v.Crumbs...)
	d.page(w, r, "device-content", &deviceView{view: v, Device: dev,
		States: states, Groups: groups,
		Facts: facts, Apps: apps, Commands: commandViews(t.Slug, cmds, map[uuid.UUID]inventory.Device{dev.ID: dev}), Forms: commandForms(dev, role), CanSend: role.AtLeast(identity.Operator), Live: live,
		Compliance: standings(dev, rules, results), HasCompliance: d.opts.Compliance != nil, Identities: idents})
}

// standing is a device's result for one rule, for the device page.
type standing struct {
	Rule    compliance.Rule
	Result  *compliance.Result
	Applies bool // false: the rule is not for the device (no result, counted neither way)
}

// standings pairs the tenant's enabled rules with the device's results.
func standings(dev inventory.Device, rules []compliance.Rule, results []compliance.Result) []standing {
	by := map[uuid.UUID]*compliance.Result{}
	for i := range results {
		by[results[i].RuleID] = &results[i]
	}
	var out []standing
	for _, r := range rules {
		if res, ok := by[r.ID]; ok || r.Enabled {
			out = append(out, standing{Rule: r, Result: res, Applies: compliance.Applies(r, dev)})
		}
	}
	return out
}

// commandView is a command's row: the command with its device's name,
// and the tenant for the links.
type commandView struct {
	commands.Command
	Slug       string
	DeviceName string
}

// commandViews are the rows of cmds, their devices' names from devices.
func commandViews(slug string, cmds []commands.Command, devices map[uuid.UUID]inventory.Device) []commandView {
	out := make([]commandView, len(cmds))
	for i, c := range cmds {
		name := "a device no longer here"
		if dev, ok := devices[c.DeviceID]; ok {
			name = deviceName(dev)
		}
		out[i] = commandView{Command: c, Slug: slug, DeviceName: name}
	}
	return out
}

func deviceName(d inventory.Device) string {
	if d.Name != "" {
		return d.Name
	}
	return d.Identifier
}

// send queues a command from the composer (operators; destructive kinds
// need an admin and the confirmation box), audited like the API's
// queue-command, and answers the new command's row.
func (d *Dashboard) send(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	id, ok := d.deviceID(w, r)
	if !ok {
		return
	}
	s := sessionFrom(r.Context())
	role, _ := d.roleIn(r, t)
	kind := r.PostFormValue("kind")
	fail := func(code int, msg string) {
		// Where the person acted: the status line of the kind's form.
		target := "#flash"
		if _, ok := commands.LookupKind(kind); ok {
			target = "#status-" + kind
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("HX-Retarget", target)
		w.Header().Set("HX-Reswap", "innerHTML")
		w.WriteHeader(code)
		pages.ExecuteTemplate(w, "composer-error", msg)
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var c commands.Command
	var dev inventory.Device
	err := d.db.Within(ctx, func(ctx context.Context) (err error) {
		if dev, err = d.inv.Get(ctx, id); err != nil {
			return err
		}
		payload, code, problem := typedPayload(r, kind, dev.Family())
		if problem == "" {
			code, problem = checkCommand(kind, payload, role, nameTyped(r, "device", deviceName(dev)))
		}
		if problem != "" {
			return &UserError{Status: code, Message: problem}
		}
		if c, err = d.cmds.Enqueue(ctx, commands.NewCommand{DeviceID: id, Kind: kind, Payload: payload, CreatedBy: s.Subject}); err != nil {
			return err
		}
		return d.record(ctx, s, "queue-command", fmt.Sprintf("/v1/tenants/%s/devices/%s/commands", t.Slug, id), http.StatusCreated,
			map[string]string{"kind": kind, "command": c.ID.String()})
	})
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		fail(http.StatusNotFound, "There is no such device in this tenant.")
		return
	case err != nil:
		fail(d.problem(r, err))
		return
	}
	d.log.InfoContext(ctx, "dashboard command", "subject", s.Subject, "kind", kind, "command", c.ID)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	pages.ExecuteTemplate(w, "command-row", commandView{Command: c, Slug: t.Slug, DeviceName: deviceName(dev)})
}

// cancel cancels a command the device has not taken yet (operators),
// audited like the API's cancel-command, and answers the command's cells
// as they are now; the stream tells every other page.
func (d *Dashboard) cancel(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("command"))
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such command in this tenant.")
		return
	}
	s := sessionFrom(r.Context())
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var c commands.Command
	var dev inventory.Device
	err = d.db.Within(ctx, func(ctx context.Context) (err error) {
		if c, err = d.cmds.Cancel(ctx, id); err != nil {
			return err
		}
		if dev, err = d.inv.Get(ctx, c.DeviceID); err != nil {
			return err
		}
		return d.record(ctx, s, "cancel-command", fmt.Sprintf("/v1/tenants/%s/commands/%s/cancel", t.Slug, id), http.StatusOK,
			map[string]string{"kind": c.Kind, "command": c.ID.String()})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	d.log.InfoContext(ctx, "dashboard cancel", "subject", s.Subject, "command", c.ID)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "command-cells", commandView{Command: c, Slug: t.Slug, DeviceName: deviceName(dev)})
}

// commandRow renders one command's table row (command-row) or its cells
// (command-cells) as they are now.
func (d *Dashboard) commandRow(ctx context.Context, slug string, id uuid.UUID, tmpl string) (string, error) {
	var c commands.Command
	var dev inventory.Device
	err := d.db.Within(ctx, func(ctx context.Context) (err error) {
		if c, err = d.cmds.Get(ctx, id); err != nil {
			return err
		}
		dev, err = d.inv.Get(ctx, c.DeviceID)
		return err
	})
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = pages.ExecuteTemplate(&b, tmpl, commandView{Command: c, Slug: slug, DeviceName: deviceName(dev)})
	return b.String(), err
}

// record writes what a person did in the dashboard to the tenant's
// audit log, named as the API operation that does the same.
func (d *Dashboard) record(ctx context.Context, s *session, action, target string, status int, details map[string]string) error {
	if details == nil {
		details = map[string]string{}
	}
	details["via"] = "dashboard"
	b, _ := json.Marshal(details)
	e := audit.Entry{Actor: s.Subject, ActorName: s.Name, Action: action, Target: target, Status: status, Details: b}
	if id, ok := tenancy.FromContext(ctx); ok {
		if a, ok := s.access[id]; ok { // as the page's check found it (Dashboard.tenant)
			e.Access, e.Grant = string(a.Source), a.GrantID()
		}
	}
	return d.opts.Audit.Record(ctx, e)
}

// commandsPage is the tenant's command history, every device's, newest
// first, filtered by state and kind; rows follow the stream, and
// operators cancel what a device has not taken.
func (d *Dashboard) commandsPage(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	qv := r.URL.Query()
	q := commands.Query{Limit: pageSize + 1}
	if st := commands.Status(qv.Get("status")); slices.Contains(commands.Statuses(), st) {
		q.Status = st
	}
	if _, ok := commands.LookupKind(qv.Get("kind")); ok {
		q.Kind = qv.Get("kind")
	}
	q.After, _ = uuid.Parse(qv.Get("after"))
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	live := d.liveURL(ctx, t)
	var cmds []commands.Command
	var devices map[uuid.UUID]inventory.Device
	err := d.db.ReadWithin(ctx, func(ctx context.Context) (err error) {
		if cmds, err = d.cmds.List(ctx, q); err != nil {
			return err
		}
		ids := make([]uuid.UUID, len(cmds))
		for i, c := range cmds {
			ids[i] = c.DeviceID
		}
		devices, err = d.inv.Some(ctx, ids)
		return err
	})
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard commands", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The commands cannot be read right now; try again in a moment.")
		return
	}
	role, _ := d.roleIn(r, t)
	v := &commandsView{view: tenantView("Commands · "+t.Name, t, role), Status: string(q.Status), Kind: q.Kind, Live: live,
		Statuses: commands.Statuses(), Kinds: commands.Offered()}
	if len(cmds) > pageSize {
		cmds = cmds[:pageSize]
		older := url.Values{"after": {cmds[pageSize-1].ID.String()}}
		for k, x := range map[string]string{"status": v.Status, "kind": v.Kind} {
			if x != "" {
				older.Set(k, x)
			}
		}
		v.Older = "/dashboard/t/" + t.Slug + "/commands?" + older.Encode()
	}
	v.Commands = commandViews(t.Slug, cmds, devices)
	d.page(w, r, "commands-content", v)
}
