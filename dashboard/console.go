package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// consoleView is one MSP's console on its admin's home page: the live
// part (consolePart) and the stream it follows.
type consoleView struct {
	MSP  tenancy.MSP
	Live string
	Part consolePart
}

// consolePart is what the console's stream sends again when a rollup of
// the MSP changes: rendered once per change for every open console.
type consolePart struct {
	MSP       tenancy.MSP
	Tag       string   // the tag it is narrowed to, if any
	Tags      []string // every tag of the MSP's tenants
	Totals    msp.Counts
	Enrolled  int
	Rate      string // the compliant share of evaluated devices, or ""
	Silent    int    // enrolled devices out of touch 7 days or more
	Bars      []bar  // enrolled devices by last check-in
	ChartDesc string
	Tenants   []consoleTenant
	Pending   []tenancy.Tenant
	Attention []consoleItem
	Critical  int
}

type consoleTenant struct {
	Tenant     tenancy.Tenant
	Tags       []string
	Devices    int
	Enrolled   int
	Rate       string
	Attention  int
	Worst      attention.Severity // the most urgent item's, if any
	ComputedAt time.Time
	Unread     string
}

type consoleItem struct {
	Tenant tenancy.Tenant
	attention.Item
	Href string
}

// rate is the compliant share of evaluated devices, in words.
func rate(compliant, failing int) string {
	if compliant+failing == 0 {
		return ""
	}
	return strconv.Itoa(compliant*100/(compliant+failing)) + "%"
}

// consoleOf lays c (narrowed to tag, if any) out for the page.
func consoleOf(m tenancy.MSP, c msp.Console, tag string) consolePart {
	p := consolePart{MSP: m, Tag: tag, Tags: c.Tags, Totals: c.Totals, Enrolled: c.Totals.ByStatus[inventory.Enrolled], Rate: rate(c.Totals.Compliant, c.Totals.Failing),
		Silent: c.Totals.LastSeen[3] + c.Totals.LastSeen[4], Pending: c.Pending}
	p.Bars = chart(inventory.LastSeenBuckets[:], c.Totals.LastSeen[:])
	p.ChartDesc = fmt.Sprintf("Enrolled devices across %d tenants by last check-in: %s.", len(c.Tenants), describeBars(p.Bars))
	for _, t := range c.Tenants {
		ct := consoleTenant{Tenant: t.Tenant, Tags: t.Tags, Devices: t.Devices, Enrolled: t.ByStatus[inventory.Enrolled], Rate: rate(t.Compliant, t.Failing),
			Attention: len(t.Attention), ComputedAt: t.ComputedAt, Unread: t.Unread}
		if len(t.Attention) > 0 {
			ct.Worst = slices.MinFunc(t.Attention, attention.Compare).Severity
		}
		p.Tenants = append(p.Tenants, ct)
	}
	for _, it := range c.Attention {
		if it.Severity == attention.Critical {
			p.Critical++
		}
		p.Attention = append(p.Attention, consoleItem{Tenant: it.Tenant, Item: it.Item, Href: it.Href(it.Tenant.Slug)})
	}
	return p
}

// describeBars says a bar chart's values in words, for its description.
func describeBars(bars []bar) string {
	var b bytes.Buffer
	for i, x := range bars {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", x.Label, x.Value)
	}
	return b.String()
}

// consoles reads the consoles of the MSPs the person administers, each
// narrowed to tag if given.
func (d *Dashboard) consoles(ctx context.Context, slugs []string, tag string) ([]consoleView, error) {
	var out []consoleView
	for _, slug := range slugs {
		m, err := d.dir.MSPBySlug(ctx, slug)
		if errors.Is(err, tenancy.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		c, err := d.opts.MSP.Console(ctx, m.ID, tag)
		if err != nil {
			return nil, err
		}
		v := consoleView{MSP: m, Part: consoleOf(m, c, tag)}
		if d.opts.Changes != nil {
			v.Live = "/dashboard/msps/" + m.Slug + "/live"
			if tag != "" {
				v.Live += "?" + url.Values{"tag": {tag}}.Encode()
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// consoleLive streams an MSP's console to its admin's open home page: a
// "console" event with the console's live part after each change of one
// of its tenants' rollups (at most one a second).
func (d *Dashboard) consoleLive(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	slug := r.PathValue("msp")
	if d.opts.MSP == nil || d.opts.Changes == nil || !s.principal().AdministersMSP(slug) {
		http.Error(w, "no such MSP, or you are not its admin", http.StatusNotFound)
		return
	}
	m, err := d.dir.MSPBySlug(r.Context(), slug)
	if err != nil {
		http.Error(w, "no such MSP, or you are not its admin", http.StatusNotFound)
		return
	}
	release, ok := d.acquireStream(w, r)
	if !ok {
		return
	}
	defer release()
	tag := tagParam(r)
	changed, stop := d.opts.Changes.Subscribe(m.ID)
	defer stop()
	rc, ok := startStream(w)
	if !ok {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-changed:
			html, err := d.renderedConsole(ctx, m, tag)
			if err != nil {
				d.log.InfoContext(ctx, "dashboard console live", "msp", m.Slug, "err", err)
				continue
			}
			writeEvent(w, 0, "console", html)
			// At most one a second: a burst of refreshes is one render.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// renderedConsole is m's console part as of its latest change, rendered
// once for every open console of m in this process.
func (d *Dashboard) renderedConsole(ctx context.Context, m tenancy.MSP, tag string) (string, error) {
	v := d.opts.Changes.Version(m.ID)
	// The MSP's id stands in the tenant's place of the key, the change's
	// number in the event's.
	e := d.renders.entry(m.ID, int64(v), "console:"+tag)
	ctx = context.WithoutCancel(ctx)
	e.once.Do(func() {
		c, err := d.opts.MSP.Console(ctx, m.ID, tag)
		if err != nil {
			e.err = err
			return
		}
		var b bytes.Buffer
		e.err = pages.ExecuteTemplate(&b, "console", consoleOf(m, c, tag))
		e.row = b.String()
	})
	return e.row, e.err
}

// searchView is a search across an MSP's tenants.
type searchView struct {
	view
	MSP   tenancy.MSP
	Q     string
	Found []msp.Found
	Next  string // the next page, if any
}

// searchPage finds devices in every tenant of an MSP (its admins), a
// page at a time, as the API's search-msp-devices.
func (d *Dashboard) searchPage(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	v := &searchView{view: view{Title: "Find a device · " + m.Name, Crumbs: []crumb{{Name: "Find a device"}}}, MSP: m, Q: strings.TrimSpace(r.URL.Query().Get("q"))}
	if len(v.Q) > 200 {
		v.Q = v.Q[:200]
	}
	if len([]rune(v.Q)) < 2 {
		if v.Q != "" {
			v.Error = "Type at least two characters."
		}
		d.page(w, r, "search-content", v)
		return
	}
	var after msp.After
	after.Tenant, after.Key = r.URL.Query().Get("t"), r.URL.Query().Get("k")
	after.ID, _ = uuid.Parse(r.URL.Query().Get("i"))
	tenants, err := d.dir.ListTenants(r.Context(), m.ID)
	if err == nil {
		v.Found, err = d.opts.MSP.Search(r.Context(), tenants, v.Q, pageSize+1, after)
	}
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard search", "msp", m.Slug, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The search failed; try again in a moment.")
		return
	}
	if len(v.Found) > pageSize {
		v.Found = v.Found[:pageSize]
		last := v.Found[pageSize-1]
		v.Next = "/dashboard/msps/" + m.Slug + "/devices?" + url.Values{"q": {v.Q}, "t": {last.Tenant.Slug}, "k": {last.Key}, "i": {last.Device.ID.String()}}.Encode()
	}
	d.page(w, r, "search-content", v)
}

// tagParam is the ?tag= a console is narrowed to (at most a tag's 63
// characters).
func tagParam(r *http.Request) string {
	tag := r.URL.Query().Get("tag")
	return tag[:min(len(tag), 63)]
}
