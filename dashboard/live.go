package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// liveURL is the stream a page of t follows, starting after the tenant's
// newest event: called before the page reads its data, so nothing that
// changes a row after the read is missed. "" when pages are not live.
func (d *Dashboard) liveURL(ctx context.Context, t tenancy.Tenant) string {
	if d.opts.Bus == nil {
		return ""
	}
	last, err := d.opts.Events.LastID(tenancy.WithTenant(ctx, t.ID))
	if err != nil {
		return ""
	}
	return "/dashboard/t/" + t.Slug + "/live?after=" + strconv.FormatInt(last, 10)
}

// heartbeat keeps idle streams (and the load balancers between) open.
const heartbeat = 20 * time.Second

// live streams a tenant's device changes to an open page as server-sent
// events: each names the row it replaces (device-{id}) and carries its new
// HTML, which htmx's SSE extension swaps in. A reconnecting browser sends
// Last-Event-ID and misses nothing; the first connection starts at the
// event the page was rendered after.
func (d *Dashboard) live(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	if d.opts.Bus == nil {
		http.Error(w, "live updates are off", http.StatusNotFound)
		return
	}
	release, ok := d.acquireStream(w, r)
	if !ok {
		return
	}
	defer release()
	after, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if err != nil {
		after, _ = strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	}
	parts, ok := d.liveParts(w, r, t)
	if !ok {
		return
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	sub, err := d.opts.Bus.Subscribe(ctx, max(after, 0))
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard live", "tenant", t.ID, "err", err)
		http.Error(w, "live updates are unavailable", http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	rc, ok := startStream(w)
	if !ok {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	p, had := sessionFrom(r.Context()).principal(), d.access(r, t)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// An MSP's access or a grant that ended ends the stream
			// within a heartbeat.
			if ok, err := d.opts.Grants.Holds(ctx, p, t, had); !ok {
				d.log.InfoContext(ctx, "dashboard live stream ended: the person's access ended", "err", err)
				return
			}
			fmt.Fprint(w, ": ping\n\n")
		case ev, ok := <-sub.C():
			if !ok {
				if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
					d.log.InfoContext(ctx, "dashboard live stream ended", "err", err)
				}
				return
			}
			d.liveEvent(ctx, w, t.Slug, ev, parts)
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// acquireStream holds one of the person's live streams for the request
// (events.StreamLimit), or answers 429 when they have all theirs open.
func (d *Dashboard) acquireStream(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	release, ok = d.streams.Acquire(sessionFrom(r.Context()).Subject)
	if !ok {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many live pages open: close one", http.StatusTooManyRequests)
	}
	return release, ok
}

// startStream answers 200 with the server-sent events headers and a
// first comment, flushed, so the browser knows it is connected; ok is
// false when the connection is gone.
func startStream(w http.ResponseWriter) (*http.ResponseController, bool) {
	rc := http.NewResponseController(w) // through wrappers (request logging) to the connection
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": connected\n\n")
	return rc, rc.Flush() == nil
}

// pageParts are the parts of a page its stream carries besides rows.
type pageParts struct {
	fleet bool // the overview's counters and chart
	rules bool // the compliance page's failing counts and standing
	audit bool // the audit log's new entries (admins)
	// webhook is the endpoint whose page this is: its new deliveries
	// (admins).
	webhook *events.Endpoint
}

// liveParts reads the page's parts from the stream's query: the
// overview asks for parts=fleet, the compliance page parts=rules, the
// audit log parts=audit, which, like the log, is for admins only (403).
func (d *Dashboard) liveParts(w http.ResponseWriter, r *http.Request, t tenancy.Tenant) (pageParts, bool) {
	switch r.URL.Query().Get("parts") {
	case "fleet":
		return pageParts{fleet: true}, true
	case "rules":
		return pageParts{rules: d.opts.Compliance != nil}, true
	case "audit":
		if role, _ := d.roleIn(r, t); !role.AtLeast(identity.Admin) {
			http.Error(w, "the audit log is for the tenant's admins", http.StatusForbidden)
			return pageParts{}, false
		}
		return pageParts{audit: d.opts.Audit != nil}, true
	case "deliveries":
		if role, _ := d.roleIn(r, t); !role.AtLeast(identity.Admin) || d.opts.Webhooks == nil {
			http.Error(w, "webhooks are for the tenant's admins", http.StatusForbidden)
			return pageParts{}, false
		}
		id, err := uuid.Parse(r.URL.Query().Get("webhook"))
		if err != nil {
			http.Error(w, "which webhook? (webhook=<id>)", http.StatusBadRequest)
			return pageParts{}, false
		}
		e, err := d.opts.Webhooks.Get(tenancy.WithTenant(r.Context(), t.ID), id)
		if err != nil {
			code, msg := d.problem(r, err)
			http.Error(w, msg, code)
			return pageParts{}, false
		}
		return pageParts{webhook: &e}, true
	}
	return pageParts{}, true
}

// liveEvent writes what ev changes on an open page: the row it names, if
// any, and the page's live parts it asked for (the overview's fleet, the
// compliance page's rules, the audit log's entries); with none, an empty
// message, which still moves the browser's Last-Event-ID on.
func (d *Dashboard) liveEvent(ctx context.Context, w http.ResponseWriter, slug string, ev events.Event, parts pageParts) {
	wrote := false
	name, row, err := d.rendered(ctx, slug, ev)
	if err != nil {
		d.log.InfoContext(ctx, "dashboard live: row", "event", ev.ID, "err", err)
	} else if name != "" {
		writeEvent(w, ev.ID, name, row)
		wrote = true
	}
	if parts.rules && ev.Kind == compliance.EventResultChanged {
		if rule, failing, standing, err := d.renderedRules(ctx, slug, ev); err == nil {
			writeEvent(w, ev.ID, "rule-"+rule.String(), failing)
			writeEvent(w, ev.ID, "standing", standing)
			wrote = true
		} else {
			d.log.InfoContext(ctx, "dashboard live: rules", "event", ev.ID, "err", err)
		}
	}
	if parts.audit && ev.Kind == audit.EventRecorded {
		if html, err := d.renderedAudit(ctx, ev); err == nil {
			writeEvent(w, ev.ID, "audit-new", html)
			wrote = true
		} else {
			d.log.InfoContext(ctx, "dashboard live: audit", "event", ev.ID, "err", err)
		}
	}
	if e := parts.webhook; e != nil && (e.Wants(ev.Kind) || (ev.Kind == events.WebhookPingKind && ev.Subject == e.ID.String())) {
		if html, err := d.renderedDeliveries(ctx, slug, e.ID, ev); err != nil {
			d.log.InfoContext(ctx, "dashboard live: deliveries", "event", ev.ID, "err", err)
		} else if html != "" {
			writeEvent(w, ev.ID, "delivery-new", html)
			wrote = true
		}
	}
	if parts.fleet && changesFleet(ev.Kind) {
		if html, err := d.renderedFleet(ctx, ev); err == nil {
			writeEvent(w, ev.ID, "fleet", html)
			wrote = true
		} else {
			d.log.InfoContext(ctx, "dashboard live: fleet", "event", ev.ID, "err", err)
		}
	}
	if !wrote {
		fmt.Fprintf(w, "id: %d\nevent: other\ndata: \n\n", ev.ID)
	}
}

// writeEvent writes one server-sent event (id 0: one without an id,
// which leaves the browser's Last-Event-ID as it was).
func writeEvent(w http.ResponseWriter, id int64, name, data string) {
	if id > 0 {
		fmt.Fprintf(w, "id: %d\n", id)
	}
	fmt.Fprintf(w, "event: %s\n", name)
	for _, line := range strings.Split(data, "\n") {
		fmt.Fprintf(w, "data: %s\n", line)
	}
	fmt.Fprint(w, "\n")
}

// changesFleet reports whether an event of kind may change the
// overview's counters or check-in chart.
func changesFleet(kind string) bool {
	return strings.HasPrefix(kind, "device.") || kind == compliance.EventResultChanged
}

// renderedFleet is the overview's live part after ev, rendered once for
// every open overview of the tenant (kept beside the rows).
func (d *Dashboard) renderedFleet(ctx context.Context, ev events.Event) (string, error) {
	e := d.renders.entry(ev.TenantID, ev.ID, "fleet")
	ctx = context.WithoutCancel(ctx)
	e.once.Do(func() { e.row, e.err = d.fleetHTML(ctx) })
	return e.row, e.err
}

// renderedRules is the compliance page's live parts after ev (a result
// of a rule changed), rendered once for every open compliance page.
func (d *Dashboard) renderedRules(ctx context.Context, slug string, ev events.Event) (rule uuid.UUID, failing, standing string, err error) {
	var c compliance.ResultChanged
	if err := json.Unmarshal(ev.Payload, &c); err != nil {
		return uuid.Nil, "", "", err
	}
	e := d.renders.entry(ev.TenantID, ev.ID, "rules")
	ctx = context.WithoutCancel(ctx)
	e.once.Do(func() { e.name, e.row, e.err = d.ruleLive(ctx, slug, c.RuleID) })
	return c.RuleID, e.name, e.row, e.err
}

// renderedAudit is the audit log's row for an audit.recorded event,
// rendered once for every open audit page of the tenant.
func (d *Dashboard) renderedAudit(ctx context.Context, ev events.Event) (string, error) {
	e := d.renders.entry(ev.TenantID, ev.ID, "audit")
	ctx = context.WithoutCancel(ctx)
	e.once.Do(func() {
		var entry audit.Entry
		if e.err = json.Unmarshal(ev.Payload, &entry); e.err != nil {
			return
		}
		var rows []auditRow
		if rows, e.err = d.auditRows(ctx, []audit.Entry{entry}); e.err != nil {
			return
		}
		var b bytes.Buffer
		e.err = pages.ExecuteTemplate(&b, "audit-row", rows[0])
		e.row = b.String()
	})
	return e.row, e.err
}

// renderedDeliveries is a webhook's new delivery rows after ev, rendered
// once for every open page of the webhook.
func (d *Dashboard) renderedDeliveries(ctx context.Context, slug string, endpoint uuid.UUID, ev events.Event) (string, error) {
	e := d.renders.entry(ev.TenantID, ev.ID, "deliveries-"+endpoint.String())
	ctx = context.WithoutCancel(ctx)
	e.once.Do(func() { e.row, e.err = d.deliveriesLive(ctx, slug, endpoint, ev) })
	return e.row, e.err
}

// rendered is an event's SSE name and row as the live streams send it:
// rendered once per event, not once per open stream (a tenant's thousand
// open pages would otherwise read the row a thousand times).
func (d *Dashboard) rendered(ctx context.Context, slug string, ev events.Event) (name, row string, err error) {
	e := d.renders.entry(ev.TenantID, ev.ID, "")
	// The first stream's request may end while it renders; the others
	// still want the row.
	ctx = context.WithoutCancel(ctx)
	e.once.Do(func() {
		id, err := uuid.Parse(ev.Subject)
		switch {
		case err != nil:
		// New rows: whole rows, for the pages that take them (live.js puts
		// one in, or refreshes the row already there).
		case ev.Kind == inventory.EventDeviceEnrolled:
			e.name = "device-new"
			e.row, e.err = d.row(ctx, slug, id, "device-row")
		case ev.Kind == commands.EventKind(commands.Queued):
			var c commands.CommandChanged
			if e.err = json.Unmarshal(ev.Payload, &c); e.err == nil {
				e.name = "command-new-" + c.DeviceID.String()
				e.row, e.err = d.commandRow(ctx, slug, id, "command-row")
			}
		case strings.HasPrefix(ev.Kind, "device."):
			e.name = "device-" + id.String()
			e.row, e.err = d.row(ctx, slug, id, "device-cells")
		case strings.HasPrefix(ev.Kind, "command."):
			e.name = "command-" + id.String()
			e.row, e.err = d.commandRow(ctx, slug, id, "command-cells")
		}
	})
	return e.name, e.row, e.err
}

// renderCache keeps the rows of the latest events.
type renderCache struct {
	mu      sync.Mutex
	entries map[renderKey]*renderEntry
	order   []renderKey // oldest first, at most renderKeep
}

type renderKey struct {
	tenant uuid.UUID
	event  int64
	part   string // "" for a row; "fleet", "rules" for a page's live parts
}

type renderEntry struct {
	once      sync.Once
	name, row string
	err       error
}

// renderKeep bounds the cache: streams render an event within moments of
// each other, so the latest few hundred are enough.
const renderKeep = 512

func (c *renderCache) entry(tenant uuid.UUID, event int64, part string) *renderEntry {
	k := renderKey{tenant, event, part}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		return e
	}
	if c.entries == nil {
		c.entries = map[renderKey]*renderEntry{}
	}
	e := &renderEntry{}
	c.entries[k] = e
	c.order = append(c.order, k)
	if len(c.order) > renderKeep {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	return e
}

// row renders one device's table row (device-row) or its cells
// (device-cells) as they are now.
func (d *Dashboard) row(ctx context.Context, slug string, id uuid.UUID, tmpl string) (string, error) {
	var dev inventory.Device
	states := map[uuid.UUID]string{}
	// The writer: the event was committed there, a replica may lag.
	err := d.db.Within(ctx, func(ctx context.Context) error {
		var err error
		if dev, err = d.inv.Get(ctx, id); err != nil || d.opts.Compliance == nil {
			return err
		}
		states, err = d.opts.Compliance.States(ctx, []uuid.UUID{id})
		return err
	})
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = pages.ExecuteTemplate(&b, tmpl, deviceRow{Slug: slug, Device: dev, Compliance: states[id]})
	return b.String(), err
}
