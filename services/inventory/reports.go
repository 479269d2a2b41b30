package inventory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// Property is what CountBy groups enrolled devices by.
type Property string

const (
	ByOSVersion Property = "os_version"
	ByModel     Property = "model"
)

// Properties are what CountBy groups by.
var Properties = []Property{ByOSVersion, ByModel}

// propertyColumns are the devices' columns CountBy may group by: a fixed
// list, never the caller's text, goes into the statement.
var propertyColumns = map[Property]string{ByOSVersion: "os_version", ByModel: "model"}

// Count is how many of the tenant's enrolled devices of a platform (and,
// for Apple, a family: an iPhone's 17.4 is not a Mac's) have one value of
// a property ("" when they have not reported it).
type Count struct {
	Platform Platform `json:"platform"`
	Family   Family   `json:"family"` // "" for an Apple device whose model is not reported
	Value    string   `json:"value"`
	Devices  int      `json:"devices"`
}

// CountBy counts the tenant's enrolled devices by family and p, the
// largest groups first (at most limit of them).
func (inv *Inventory) CountBy(ctx context.Context, p Property, limit int) ([]Count, error) {
	col, ok := propertyColumns[p]
	if !ok {
		return nil, fmt.Errorf("inventory: cannot count by %q", p)
	}
	// The family comes from the model (Device.Family): counted by model
	// too, then folded.
	type row struct {
		Platform     Platform
		Model, Value string
		Devices      int
	}
	rows, err := tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]row, error) {
		rows, _ := tx.Query(ctx, `SELECT platform, model, `+col+`, count(*) FROM devices WHERE status = 'enrolled' GROUP BY 1, 2, 3`)
		return pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	})
	if err != nil {
		return nil, err
	}
	type key struct {
		f     Family
		p     Platform
		value string
	}
	sums := map[key]int{}
	for _, r := range rows {
		sums[key{Device{Platform: r.Platform, Model: r.Model}.Family(), r.Platform, r.Value}] += r.Devices
	}
	out := make([]Count, 0, len(sums))
	for k, n := range sums {
		out = append(out, Count{Platform: k.p, Family: k.f, Value: k.value, Devices: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Devices, a.Devices), cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Family, b.Family), cmp.Compare(a.Value, b.Value))
	})
	return out[:min(len(out), limit)], nil
}

// Week is how many devices first enrolled in the week starting Start
// (Monday, UTC).
type Week struct {
	Start   time.Time `json:"start"`
	Devices int       `json:"devices"`
}

// EnrolledByWeek counts the tenant's devices by the week they first
// enrolled, for the last weeks weeks up to this one, weeks with none
// included.
func (inv *Inventory) EnrolledByWeek(ctx context.Context, weeks int) ([]Week, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]Week, error) {
		rows, _ := tx.Query(ctx, `
WITH w AS (SELECT generate_series(date_trunc('week', now() AT TIME ZONE 'UTC') - ($1 - 1) * interval '1 week',
                                  date_trunc('week', now() AT TIME ZONE 'UTC'), interval '1 week') AS start)
SELECT w.start AT TIME ZONE 'UTC', count(d.id)::int FROM w
LEFT JOIN devices d ON d.enrolled_at >= w.start AT TIME ZONE 'UTC' AND d.enrolled_at < (w.start + interval '1 week') AT TIME ZONE 'UTC'
GROUP BY w.start ORDER BY w.start`, weeks)
		return pgx.CollectRows(rows, pgx.RowToStructByPos[Week])
	})
}
