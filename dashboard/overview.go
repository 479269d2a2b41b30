package dashboard

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// bar is one bar of a server-rendered SVG chart.
type bar struct {
	Label         string
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
		out[i] = bar{Label: labels[i], Value: v, X: i*w + 6, W: w - 12, H: h, Y: base - h, LabelX: i*w + w/2, TextY: base - h - 4}
	}
	return out
}

// overview is a tenant's fleet at a glance: devices by platform and
// status, compliance, and how recently they checked in.
func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var sum inventory.Summary
	var standing compliance.Standing
	err := d.db.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		if sum, err = d.inv.Summarize(ctx, tx); err != nil {
			return err
		}
		if d.opts.Compliance != nil {
			standing, err = d.opts.Compliance.Summarize(ctx, tx)
		}
		return err
	})
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard overview", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The fleet cannot be read right now; try again in a moment.")
		return
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
	role, _ := sessionFrom(r.Context()).principal().RoleIn(t)
	d.page(w, r, "overview-content", map[string]any{"Title": t.Name, "Tenant": t, "Summary": sum, "Standing": standing,
		"Rate": rate, "Evaluated": evaluated > 0, "Bars": bars, "Enrolled": sum.ByStatus[inventory.Enrolled], "Unenrolled": sum.ByStatus[inventory.Unenrolled], "ChartDesc": desc, "IsAdmin": role.AtLeast(identity.Admin),
		"Platforms": []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}})
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
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	const size = 50
	entries, err := d.opts.Audit.List(tenancy.WithTenant(r.Context(), t.ID), audit.Filter{Before: max(before, 0), Limit: size + 1})
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard audit", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The audit log cannot be read right now; try again in a moment.")
		return
	}
	data := map[string]any{"Title": "Audit log · " + t.Name, "Tenant": t, "Entries": entries, "IsAdmin": true}
	if len(entries) > size {
		data["Entries"] = entries[:size]
		data["Older"] = "/dashboard/t/" + t.Slug + "/audit?before=" + strconv.FormatInt(entries[size-1].ID, 10)
	}
	d.page(w, r, "audit-content", data)
}
