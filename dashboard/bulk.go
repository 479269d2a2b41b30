package dashboard

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/csvcell"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// deviceIDs are the devices' ids.
func deviceIDs(ds []inventory.Device) []uuid.UUID {
	ids := make([]uuid.UUID, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// bulkKinds are the commands a person of role may send to devices picked
// in the list: not destructive (those name one device, or a group with
// its confirmation) and with nothing to fill in.
func bulkKinds(role identity.Role) []commandForm {
	var out []commandForm
	for _, k := range commandable("", role) {
		text := commandTexts[k.Name]
		if k.Destructive || text.Title == "" || slices.ContainsFunc(text.Fields, func(f commandField) bool { return f.Required }) {
			continue
		}
		out = append(out, commandForm{Kind: k, commandText: text})
	}
	slices.SortStableFunc(out, func(a, b commandForm) int { return order(a.Name) - order(b.Name) })
	return out
}

// maxSelected bounds the devices one bulk action takes: a page's worth,
// a few times over.
const maxSelected = 500

// bulkDevices acts on the devices selected in the list: a command for
// each (operators), as the API's queue-bulk-command, or joining or leaving
// a group (admins), as change-group-members; audited as those, in the
// change's transaction. It answers a sentence for the list's status line.
func (d *Dashboard) bulkDevices(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	s := sessionFrom(r.Context())
	role, _ := d.roleIn(r, t)
	reply := func(code int, msg string) { statusLine(w, code, msg) }
	ids, problem := selected(r)
	if problem != "" {
		reply(http.StatusUnprocessableEntity, problem)
		return
	}
	verb, arg, _ := strings.Cut(r.PostFormValue("action"), ":")
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var done string
	var err error
	switch verb {
	case "command":
		kinds := bulkKinds(role)
		i := slices.IndexFunc(kinds, func(f commandForm) bool { return f.Name == arg })
		if i < 0 {
			reply(http.StatusUnprocessableEntity, "Choose a command the selected devices can be sent from here.")
			return
		}
		err = d.db.Within(ctx, func(ctx context.Context) error {
			bulk, err := d.cmds.QueueBulk(ctx, t.ID, commands.Bulk{Kind: arg, Devices: ids, By: s.Subject})
			if err != nil {
				return err
			}
			return d.record(ctx, s, "queue-bulk-command", "/v1/tenants/"+t.Slug+"/commands/bulk", http.StatusAccepted,
				map[string]string{"kind": arg, "bulk": bulk.String(), "devices": strconv.Itoa(len(ids))})
		})
		done = fmt.Sprintf("%s is being queued for the %d selected device%s (those that support it); each device's page shows its command.",
			kinds[i].Title, len(ids), plural(len(ids)))
	case "add", "remove":
		if !role.AtLeast(identity.Admin) {
			reply(http.StatusForbidden, "Changing a group's members needs the admin role.")
			return
		}
		group, perr := uuid.Parse(arg)
		if perr != nil {
			reply(http.StatusUnprocessableEntity, "Choose a group.")
			return
		}
		var n int
		err = d.db.Within(ctx, func(ctx context.Context) (err error) {
			if n, err = d.inv.SetMembers(ctx, group, ids, verb == "add"); err != nil {
				return err
			}
			return d.record(ctx, s, "change-group-members", "/v1/tenants/"+t.Slug+"/groups/"+group.String()+"/members", http.StatusOK,
				map[string]string{verb: strconv.Itoa(n)})
		})
		done = fmt.Sprintf("%d device%s joined the group.", n, plural(n))
		if verb == "remove" {
			done = fmt.Sprintf("%d device%s left the group.", n, plural(n))
		}
	default:
		reply(http.StatusUnprocessableEntity, "Choose what to do with the selected devices.")
		return
	}
	if errors.Is(err, tenancy.ErrNotFound) {
		reply(http.StatusNotFound, "That group is not there any more: reload the page.")
		return
	} else if err != nil {
		reply(d.problem(r, err))
		return
	}
	reply(http.StatusAccepted, done)
}

// selected are the devices ticked in the list.
func selected(r *http.Request) ([]uuid.UUID, string) {
	if err := r.ParseForm(); err != nil {
		return nil, "The form could not be read."
	}
	raw := r.PostForm["device"]
	if len(raw) == 0 {
		return nil, "Select at least one device."
	}
	if len(raw) > maxSelected {
		return nil, fmt.Sprintf("Select at most %d devices at once; for more, use a group.", maxSelected)
	}
	ids := make([]uuid.UUID, 0, len(raw))
	for _, v := range raw {
		id, err := uuid.Parse(v)
		if err != nil {
			return nil, "The selection names no device: reload the page."
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, ""
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// exportPage is how many devices the export reads at a time.
const exportPage = 500

// exportDevices answers the device list, filtered and sorted as the page
// is, as CSV: every device it keeps, not one page, read a page at a
// time. A cell that a spreadsheet would run as a formula is quoted as
// text.
func (d *Dashboard) exportDevices(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	q := deviceQuery(r.URL.Query())
	q.Limit = exportPage
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var rows [][]string
	err := d.db.ReadWithin(ctx, func(ctx context.Context) error {
		for {
			p, err := d.inv.List(ctx, q)
			if err != nil {
				return err
			}
			states := map[uuid.UUID]string{}
			if d.opts.Compliance != nil && len(p.Devices) > 0 {
				if states, err = d.opts.Compliance.States(ctx, deviceIDs(p.Devices)); err != nil {
					return err
				}
			}
			for _, dev := range p.Devices {
				rows = append(rows, exportRow(dev, states[dev.ID]))
			}
			if len(p.Devices) < q.Limit {
				return nil
			}
			last := len(p.Devices) - 1
			q.AfterKey, q.AfterID = p.Keys[last], p.Devices[last].ID
		}
	})
	if fault.Is(err, fault.Invalid) {
		d.errorPage(w, r, http.StatusBadRequest, "Those filters do not make a list; start from the device list.")
		return
	} else if err != nil {
		d.log.ErrorContext(ctx, "dashboard export", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The devices cannot be read right now; try again in a moment.")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-devices-%s.csv"`, t.Slug, time.Now().UTC().Format("2006-01-02")))
	cw := csv.NewWriter(w)
	cw.Write([]string{"name", "id", "identifier", "serial_number", "platform", "family", "user", "model", "model_identifier", "os_version",
		"status", "compliance", "enrolled_at", "last_seen_at"})
	for _, row := range rows {
		cw.Write(row)
	}
	cw.Flush()
}

// exportRow is one device's CSV record.
func exportRow(dev inventory.Device, state string) []string {
	if state == "" {
		state = "unevaluated"
	}
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	row := []string{dev.Name, dev.ID.String(), dev.Identifier, dev.SerialNumber, string(dev.Platform), string(dev.Family()), dev.User(),
		inventory.ModelName(dev.Model), dev.Model, dev.OSVersion, string(dev.Status), state, at(dev.EnrolledAt), at(dev.LastSeenAt)}
	for i, c := range row {
		row[i] = csvcell.Safe(c)
	}
	return row
}

// saveView saves the device list's current filters and sort under a
// name, for the person alone (a preference of theirs: not audited).
func (d *Dashboard) saveView(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	qv, err := url.ParseQuery(r.PostFormValue("query"))
	if err != nil {
		d.errorPage(w, r, http.StatusUnprocessableEntity, "That view's filters cannot be read: save it again from the device list.")
		return
	}
	// Only what the list understands is kept.
	query := listValues(deviceQuery(qv)).Encode()
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	if _, err := d.inv.SaveView(ctx, sessionFrom(r.Context()).Subject, r.PostFormValue("name"), query); err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	http.Redirect(w, r, "/dashboard/t/"+t.Slug+"/devices?"+withNotice(query, "view-saved"), http.StatusSeeOther)
}

// deleteView deletes one of the person's saved views.
func (d *Dashboard) deleteView(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("view"))
	if err == nil {
		err = d.inv.DeleteView(tenancy.WithTenant(r.Context(), t.ID), sessionFrom(r.Context()).Subject, id)
	}
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such saved view of yours.")
		return
	}
	http.Redirect(w, r, "/dashboard/t/"+t.Slug+"/devices?"+withNotice("", "view-deleted"), http.StatusSeeOther)
}

// withNotice adds the notice key done would to an encoded query.
func withNotice(query, notice string) string {
	v, _ := url.ParseQuery(query)
	v.Set("done", notice)
	return v.Encode()
}
