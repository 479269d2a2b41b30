package dashboard

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/csvcell"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
)

// report is one table of the reports page: the same rows make the page's
// table and the report's CSV.
type report struct {
	Name   string // in its CSV's URL: /reports/{name}.csv
	Title  string
	About  string
	Header []string
	Rows   []reportRow
}

type reportRow struct {
	Cells []string
	Link  string // a link for the first cell (the devices it counts), if any
}

// reportsView is the reports page: the tables, and the enrollments by
// week as a chart.
type reportsView struct {
	view
	Reports   []report
	Weeks     []bar
	WeeksDesc string
}

// reportWeeks is how far back the enrollment report goes.
const reportWeeks = 12

// reportRows bounds the by-value reports (the long tail is in the export).
const reportRows = 200

// reports reads every report of the tenant, in one read transaction.
func (d *Dashboard) reports(ctx context.Context, slug string) ([]report, []inventory.Week, error) {
	var osv, models []inventory.Count
	var weeks []inventory.Week
	var sum inventory.Summary
	var rules []compliance.Rule
	var failing map[uuid.UUID]int
	err := d.db.ReadWithin(ctx, func(ctx context.Context) (err error) {
		if osv, err = d.inv.CountBy(ctx, inventory.ByOSVersion, reportRows); err != nil {
			return err
		}
		if models, err = d.inv.CountBy(ctx, inventory.ByModel, reportRows); err != nil {
			return err
		}
		if weeks, err = d.inv.EnrolledByWeek(ctx, reportWeeks); err != nil {
			return err
		}
		if sum, err = d.inv.Summarize(ctx); err != nil {
			return err
		}
		if d.opts.Compliance != nil {
			if rules, err = d.opts.Compliance.Rules(ctx); err != nil {
				return err
			}
			failing, err = d.opts.Compliance.Failing(ctx)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	out := []report{
		{Name: "os-versions", Title: "Operating system versions", About: "Enrolled devices by family and the version they last reported.",
			Header: []string{"Family", "Version", "Devices"}},
		{Name: "models", Title: "Models", About: "Enrolled devices by model.",
			Header: []string{"Family", "Model", "Model identifier", "Devices"}},
		{Name: "check-ins", Title: "Last check-in", About: "Enrolled devices by how long ago they last reached Trident.",
			Header: []string{"Last check-in", "Devices"}},
		{Name: "enrollments", Title: "Enrollments by week", About: "Devices by the week (from Monday, UTC) they enrolled; a device enrolled again counts in its latest week.",
			Header: []string{"Week of", "Devices"}},
	}
	for _, c := range osv {
		out[0].Rows = append(out[0].Rows, reportRow{Cells: []string{familyName(c), orUnknown(c.Value), strconv.Itoa(c.Devices)}})
	}
	for _, c := range models {
		out[1].Rows = append(out[1].Rows, reportRow{Cells: []string{familyName(c), orUnknown(inventory.ModelName(c.Value)), c.Value, strconv.Itoa(c.Devices)}})
	}
	for i, name := range inventory.LastSeenBuckets {
		out[2].Rows = append(out[2].Rows, reportRow{Cells: []string{name, strconv.Itoa(sum.LastSeen[i])}})
	}
	for _, w := range weeks {
		out[3].Rows = append(out[3].Rows, reportRow{Cells: []string{w.Start.Format("2006-01-02"), strconv.Itoa(w.Devices)}})
	}
	if d.opts.Compliance != nil {
		rep := report{Name: "compliance", Title: "Compliance by rule", About: "The devices each enabled rule fails; devices it does not apply to are not counted.",
			Header: []string{"Rule", "Applies to", "Failing devices"}}
		for _, r := range rules {
			if !r.Enabled {
				continue
			}
			n := failing[r.ID]
			row := reportRow{Cells: []string{r.Name, platformName(r.Platform), strconv.Itoa(n)}}
			if n > 0 {
				row.Link = "/dashboard/t/" + slug + "/devices?rule=" + r.ID.String()
			}
			rep.Rows = append(rep.Rows, row)
		}
		out = append(out, rep)
	}
	return out, weeks, nil
}

// familyName is how people write a counted family ("Apple" for Apple
// devices whose model is not reported).
func familyName(c inventory.Count) string {
	if c.Family == "" {
		return "Apple, model not reported"
	}
	return platformName(inventory.Platform(c.Family))
}

func orUnknown(s string) string {
	if s == "" {
		return "not reported"
	}
	return s
}

// reportsPage shows the tenant's reports (viewers).
func (d *Dashboard) reportsPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	reps, weeks, err := d.reports(s.Ctx, s.T.Slug)
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard reports", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The reports cannot be read right now; try again in a moment.")
		return
	}
	labels, values := make([]string, len(weeks)), make([]int, len(weeks))
	total := 0
	for i, w := range weeks {
		labels[i], values[i] = w.Start.Format("Jan 2"), w.Devices
		total += w.Devices
	}
	v := &reportsView{view: s.view("Reports", flash{}), Reports: reps, Weeks: chart(labels, values),
		WeeksDesc: fmt.Sprintf("%d devices enrolled in the last %d weeks.", total, len(weeks))}
	for i := range v.Weeks {
		if (len(v.Weeks)-1-i)%2 == 0 { // every other week labelled, back from this one
			v.Weeks[i].Tick = v.Weeks[i].Label
		}
	}
	d.page(w, r, "reports-content", v)
}

// reportCSV answers one report as CSV (viewers), spreadsheet-safe.
func (d *Dashboard) reportCSV(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	name := r.PathValue("report")
	reps, _, err := d.reports(s.Ctx, s.T.Slug)
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard report export", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The report cannot be read right now; try again in a moment.")
		return
	}
	for _, rep := range reps {
		if rep.Name+".csv" != name {
			continue
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.csv"`, s.T.Slug, rep.Name, time.Now().UTC().Format("2006-01-02")))
		cw := csv.NewWriter(w)
		cw.Write(rep.Header)
		for _, row := range rep.Rows {
			cells := make([]string, len(row.Cells))
			for i, c := range row.Cells {
				cells[i] = csvcell.Safe(c)
			}
			cw.Write(cells)
		}
		cw.Flush()
		return
	}
	d.errorPage(w, r, http.StatusNotFound, "There is no such report.")
}
