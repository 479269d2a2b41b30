package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// bar is one bar of a server-rendered SVG chart.
type bar struct {
	Label         string
	Tick          string // the axis label, when it differs from Label
	Value         int
	X, Y, W, H    int
	LabelX, TextY int
}

// chart lays out bars in a 360×160 viewBox, scaled to the largest value.
func chart(labels []string, values []int) []bar {
	top := 1
	for _, v := range values {
		top = max(top, v)
	}
	const height, base, width = 105, 130, 360
	w := width / len(values)
	out := make([]bar, len(values))
	for i, v := range values {
		h := v * height / top
		if v > 0 && h < 2 {
			h = 2
		}
		gap := min(6, w/5)
		out[i] = bar{Label: labels[i], Value: v, X: i*w + gap, W: w - 2*gap, H: h, Y: base - h, LabelX: i*w + w/2, TextY: base - h - 4}
	}
	return out
}

// dot is one point of a line chart.
type dot struct {
	Label string
	Text  string
	X, Y  int
}

// lineChart lays out percentages (nil: no value that day) in the same
// 360×160 viewBox; the line breaks where a value is missing.
func lineChart(labels []string, values []*int) (dots []dot, lines []string) {
	const height, base, width = 105, 130, 360
	step := width / len(values)
	var line []string
	for i, v := range values {
		if v == nil {
			if len(line) > 1 {
				lines = append(lines, strings.Join(line, " "))
			}
			line = nil
			continue
		}
		x, y := i*step+step/2, base-*v*height/100
		dots = append(dots, dot{Label: labels[i], Text: strconv.Itoa(*v) + "%", X: x, Y: y})
		line = append(line, fmt.Sprintf("%d,%d", x, y))
	}
	if len(line) > 1 {
		lines = append(lines, strings.Join(line, " "))
	}
	return dots, lines
}

// historyCharts turns the fleet's hourly points into the overview's two
// charts: the compliance rate at the end of each of the last 14 days,
// and how many devices checked in in each of the last 24 hours.
func historyCharts(points []compliance.Point, now time.Time) (historyView, bool) {
	const days, hours = 14, 24
	first := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -days+1) // the first day's midnight
	thisHour := now.UTC().Truncate(time.Hour)
	dayLabels := make([]string, days)
	for i := range dayLabels {
		dayLabels[i] = first.AddDate(0, 0, i).Format("Jan 2")
	}
	hourLabels := make([]string, hours)
	for i := range hourLabels {
		hourLabels[i] = thisHour.Add(time.Duration(i-hours+1) * time.Hour).Format("15:04")
	}
	rates := make([]*int, days)
	checkins := make([]int, hours)
	has := false
	for _, p := range points { // oldest first: each day keeps its last rate
		if d := int(p.Hour.Sub(first) / (24 * time.Hour)); !p.Hour.Before(first) && d < days {
			if r, ok := p.Rate(); ok {
				rates[d] = &r
				has = true
			}
		}
		if h := int(thisHour.Sub(p.Hour) / time.Hour); h >= 0 && h < hours {
			checkins[hours-1-h] = p.CheckedIn
			has = true
		}
	}
	dots, lines := lineChart(dayLabels, rates)
	desc := "Compliance rate at the end of each day:"
	for _, d := range dots {
		desc += " " + d.Label + " " + d.Text + ";"
	}
	// The axis names every other day (and the last), every third hour.
	var ticks []dot
	for i, l := range dayLabels {
		if i%2 == 1 || i == days-1 {
			ticks = append(ticks, dot{Label: l, X: i*(360/days) + (360/days)/2})
		}
	}
	hourly := chart(hourLabels, checkins)
	hdesc := "Devices that checked in, by hour (UTC):"
	for i, b := range hourly {
		hdesc += fmt.Sprintf(" %s %d;", b.Label, b.Value)
		if i%3 == 2 {
			hourly[i].Tick = b.Label[:2]
		}
	}
	return historyView{Dots: dots, Lines: lines, DayTicks: ticks, RateDesc: desc, Hourly: hourly, HourlyDesc: hdesc}, has
}

// fleetView is what the overview's live part shows: the counters and
// the check-in chart, as they are now.
type fleetView struct {
	Summary    inventory.Summary
	Standing   compliance.Standing
	Rate       string
	Evaluated  bool
	Bars       []bar
	Enrolled   int
	Unenrolled int
	ChartDesc  string
	Platforms  []inventory.Platform
}

// fleet reads the tenant's fleet at a glance, in ctx's transaction.
func (d *Dashboard) fleet(ctx context.Context) (fleetView, error) {
	sum, err := d.inv.Summarize(ctx)
	if err != nil {
		return fleetView{}, err
	}
	var standing compliance.Standing
	if d.opts.Compliance != nil {
		if standing, err = d.opts.Compliance.Summarize(ctx); err != nil {
			return fleetView{}, err
		}
	}
	evaluated := standing.Compliant + standing.NonCompliant
	rate := "no rules evaluated yet"
	if evaluated > 0 {
		rate = strconv.Itoa(standing.Compliant*100/evaluated) + "%"
	}
	bars := chart(inventory.LastSeenBuckets[:], sum.LastSeen[:])
	desc := "Enrolled devices by last check-in:"
	for _, b := range bars {
		desc += fmt.Sprintf(" %s %d;", b.Label, b.Value)
	}
	return fleetView{Summary: sum, Standing: standing, Rate: rate, Evaluated: evaluated > 0, Bars: bars,
		Enrolled: sum.ByStatus[inventory.Enrolled], Unenrolled: sum.ByStatus[inventory.Unenrolled], ChartDesc: desc,
		Platforms: []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}}, nil
}

// fleetHTML renders the overview's live part as it is now (from the
// writer: the event that asked for it was committed there).
func (d *Dashboard) fleetHTML(ctx context.Context) (string, error) {
	var f fleetView
	err := d.db.Within(ctx, func(ctx context.Context) (err error) { f, err = d.fleet(ctx); return err })
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = pages.ExecuteTemplate(&b, "fleet", f)
	return b.String(), err
}

// overview is a tenant's fleet at a glance: devices by platform and
// status, compliance, and how recently they checked in. Its counters and
// check-in chart follow the tenant's stream.
func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	live := d.liveURL(ctx, t)
	if live != "" {
		live += "&parts=fleet"
	}
	var f fleetView
	var history []compliance.Point
	now := time.Now()
	err := d.db.ReadWithin(ctx, func(ctx context.Context) error {
		var err error
		if f, err = d.fleet(ctx); err != nil {
			return err
		}
		if d.opts.Compliance != nil {
			history, err = d.opts.Compliance.History(ctx, now.Add(-15*24*time.Hour))
		}
		return err
	})
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard overview", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The fleet cannot be read right now; try again in a moment.")
		return
	}
	role, _ := d.roleIn(r, t)
	charts, hasHistory := historyCharts(history, now)
	v := tenantView(t.Name, t, role)
	v.Notice = notice(r)
	d.page(w, r, "overview-content", &overviewView{view: v, Fleet: f, Live: live, History: charts,
		HasHistory: hasHistory, HasCompliance: d.opts.Compliance != nil})
}

// auditLog lists who did what in the tenant, newest first (admins).
func (d *Dashboard) auditLog(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Admin)
	if !ok {
		return
	}
	if d.opts.Audit == nil {
		d.errorPage(w, r, http.StatusNotFound, "The audit log is not available on this server.")
		return
	}
	q := r.URL.Query()
	v := &auditView{view: tenantView("Audit log · "+t.Name, t, identity.Admin),
		Filter: map[string]string{"actor": q.Get("actor"), "action": q.Get("action"), "target": q.Get("target"), "since": q.Get("since"), "until": q.Get("until")}}
	f, problem := auditFilter(q)
	if problem != "" {
		v.Error = problem
		d.pageStatus(w, r, http.StatusUnprocessableEntity, "audit-content", v)
		return
	}
	const size = 50
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	// New entries come live on the log's first page as it is, unfiltered
	// (a new entry may not match a filter); the stream's position is read
	// before the entries.
	if f == (audit.Filter{}) {
		if v.Live = d.liveURL(ctx, t); v.Live != "" {
			v.Live += "&parts=audit"
		}
	}
	f.Limit = size + 1
	var entries []audit.Entry
	err := d.db.ReadWithin(ctx, func(ctx context.Context) (err error) {
		if entries, err = d.opts.Audit.List(ctx, f); err != nil {
			return err
		}
		v.Entries, err = d.auditRows(ctx, entries)
		return err
	})
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard audit", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The audit log cannot be read right now; try again in a moment.")
		return
	}
	if len(entries) > size {
		v.Entries = v.Entries[:size]
		older := url.Values{"before": {strconv.FormatInt(entries[size-1].ID, 10)}}
		for k, val := range v.Filter {
			if val != "" {
				older.Set(k, val)
			}
		}
		v.Older = "/dashboard/t/" + t.Slug + "/audit?" + older.Encode()
	}
	d.page(w, r, "audit-content", v)
}

// auditFilter reads the audit log's filters from the page's query; a
// date that is not YYYY-MM-DD is a problem to show.
func auditFilter(q url.Values) (audit.Filter, string) {
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	f := audit.Filter{Before: max(before, 0), Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target"))}
	for _, x := range []struct {
		name string
		to   *time.Time
		day  time.Duration // until a date means through its end
	}{{"since", &f.Since, 0}, {"until", &f.Until, 24 * time.Hour}} {
		if s := q.Get(x.name); s != "" {
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				return f, fmt.Sprintf("%q is not a date: write it YYYY-MM-DD.", s)
			}
			*x.to = d.Add(x.day)
		}
	}
	return f, ""
}

// reTargetDevice finds the device an entry's target is, or is under.
var reTargetDevice = regexp.MustCompile(`/devices/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:/|$)`)

func targetDevice(target string) (uuid.UUID, bool) {
	m := reTargetDevice.FindStringSubmatch(target)
	if m == nil {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(m[1])
	return id, err == nil
}

// auditRows are entries with the names of the devices their targets are
// (one query for all; a device deleted since keeps its path).
func (d *Dashboard) auditRows(ctx context.Context, entries []audit.Entry) ([]auditRow, error) {
	var ids []uuid.UUID
	for _, e := range entries {
		if id, ok := targetDevice(e.Target); ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var devices map[uuid.UUID]inventory.Device
	if len(ids) > 0 {
		var err error
		if devices, err = d.inv.Some(ctx, ids); err != nil { // one query, not one per entry
			return nil, err
		}
	}
	rows := make([]auditRow, len(entries))
	for i, e := range entries {
		rows[i].Entry = e
		if id, ok := targetDevice(e.Target); ok {
			if dev, ok := devices[id]; ok {
				rows[i].Name = deviceName(dev)
			}
		}
	}
	return rows, nil
}
