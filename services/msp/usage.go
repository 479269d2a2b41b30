package msp

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Usage metering: what an MSP bills its tenants by. Each UTC day that has
// ended is computed once per tenant and platform from the devices'
// enrolled spans (inventory.UsageOn) and kept in usage_days. Computing is
// idempotent (a day past is fixed, and recomputing writes the same row)
// and resumable: each day commits on its own, and the next run starts
// after the last day kept, so a killed job loses nothing and counts
// nothing twice.

// MeterArgs is the job that brings one tenant's metering up to date.
type MeterArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (MeterArgs) Kind() string { return "msp.meter_usage" }

// meterBatch is how many days one run computes before it yields.
const meterBatch = 100

// Meter computes tenant t's days not kept yet, oldest first, up to the
// last UTC day that ended before now and at most max of them (0: a batch),
// each in its own transaction. It answers how many it computed and
// whether more remain.
func (s *Service) Meter(ctx context.Context, t tenancy.Tenant, now time.Time, max int) (int, bool, error) {
	if max <= 0 {
		max = meterBatch
	}
	ctx = tenancy.WithTenant(ctx, t.ID)
	next, err := s.nextDay(ctx, t)
	if err != nil {
		return 0, false, err
	}
	today := utcDay(now)
	done := 0
	for ; next.Before(today); next = next.AddDate(0, 0, 1) {
		if done == max {
			return done, true, nil
		}
		day := next
		err := s.db.Within(ctx, func(ctx context.Context) error {
			use, err := s.inv.UsageOn(ctx, day)
			if err != nil {
				return err
			}
			return s.db.Tx(ctx, func(tx pgx.Tx) error {
				for _, u := range use {
					if _, err := tx.Exec(ctx, `
INSERT INTO usage_days (msp_id, day, platform, device_days, enrollments, unenrollments) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, day, platform) DO UPDATE SET device_days = $4, enrollments = $5, unenrollments = $6, computed_at = now()`,
						t.MSPID, day, u.Platform, u.DeviceDays, u.Enrollments, u.Unenrollments); err != nil {
						return fmt.Errorf("msp: keep %s's usage of %s: %w", t.Slug, day.Format(time.DateOnly), err)
					}
				}
				return nil
			})
		})
		if err != nil {
			return done, false, err
		}
		done++
	}
	return done, false, nil
}

// nextDay is the first day of t not kept: the day after the last kept,
// or the first day t or one of its devices' spans began.
func (s *Service) nextDay(ctx context.Context, t tenancy.Tenant) (time.Time, error) {
	var last *time.Time
	if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT max(day) FROM usage_days`).Scan(&last)
	}); err != nil {
		return time.Time{}, fmt.Errorf("msp: %s's last metered day: %w", t.Slug, err)
	}
	if last != nil {
		return utcDay(*last).AddDate(0, 0, 1), nil
	}
	first, err := s.inv.FirstEnrolled(ctx)
	if err != nil {
		return time.Time{}, err
	}
	start := t.CreatedAt
	if !first.IsZero() && first.Before(start) {
		start = first
	}
	return utcDay(start), nil
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// UsageDay is one tenant's use of one platform on one UTC day.
type UsageDay struct {
	TenantID uuid.UUID
	Tenant   string // its slug, in the MSP's reads
	Day      time.Time
	inventory.DayUsage
}

// UsageTotal is a tenant's use of one platform over a month.
type UsageTotal struct {
	Tenant string
	inventory.DayUsage
	Days int // how many of the month's days are computed
}

// Month parses "2026-11" to its first day, UTC.
func Month(s string) (time.Time, error) {
	m, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, fault.InvalidField("month", fmt.Sprintf("%q is not a month written YYYY-MM", s))
	}
	return m, nil
}

// TenantUsage is the tenant in ctx's computed days of month, by day and
// platform.
func (s *Service) TenantUsage(ctx context.Context, month time.Time) ([]UsageDay, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]UsageDay, error) {
		rows, _ := tx.Query(ctx, `SELECT tenant_id, '', day, platform, device_days, enrollments, unenrollments FROM usage_days
WHERE day >= $1 AND day < $2 ORDER BY day, platform`, month, month.AddDate(0, 1, 0))
		return pgx.CollectRows(rows, scanUsageDay)
	})
}

func scanUsageDay(r pgx.CollectableRow) (UsageDay, error) {
	var u UsageDay
	err := r.Scan(&u.TenantID, &u.Tenant, &u.Day, &u.Platform, &u.DeviceDays, &u.Enrollments, &u.Unenrollments)
	return u, err
}

// MSPUsage totals each of MSP m's tenants' use of month by platform, in
// one read of the rows the tenants share with their MSP; tenants with
// nothing computed are left out.
func (s *Service) MSPUsage(ctx context.Context, m uuid.UUID, month time.Time) ([]UsageTotal, error) {
	slugs, err := s.slugs(ctx, m)
	if err != nil {
		return nil, err
	}
	var out []UsageTotal
	err = s.db.MSPReadTx(ctx, m, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
SELECT tenant_id, platform, sum(device_days)::int, sum(enrollments)::int, sum(unenrollments)::int, count(*)::int
FROM usage_days WHERE day >= $1 AND day < $2 GROUP BY tenant_id, platform`, month, month.AddDate(0, 1, 0))
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (UsageTotal, error) {
			var u UsageTotal
			var id uuid.UUID
			err := r.Scan(&id, &u.Platform, &u.DeviceDays, &u.Enrollments, &u.Unenrollments, &u.Days)
			u.Tenant = slugs[id]
			return u, err
		})
		return err
	})
	slices.SortFunc(out, func(a, b UsageTotal) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(string(a.Platform), string(b.Platform)))
	})
	return out, err
}

// slugs are MSP m's tenants' slugs by id.
func (s *Service) slugs(ctx context.Context, m uuid.UUID) (map[uuid.UUID]string, error) {
	ts, err := s.dir.ListTenants(ctx, m)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]string, len(ts))
	for _, t := range ts {
		out[t.ID] = t.Slug
	}
	return out, nil
}

// ExportUsage writes MSP m's tenants' days of month as CSV, a row a
// tenant, day and platform (zeros included), for a billing system.
func (s *Service) ExportUsage(ctx context.Context, m uuid.UUID, month time.Time, w io.Writer) error {
	slugs, err := s.slugs(ctx, m)
	if err != nil {
		return err
	}
	return s.db.MSPReadTx(ctx, m, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT tenant_id, '', day, platform, device_days, enrollments, unenrollments
FROM usage_days WHERE day >= $1 AND day < $2`, month, month.AddDate(0, 1, 0))
		days, err := pgx.CollectRows(rows, scanUsageDay)
		if err != nil {
			return err
		}
		for i := range days {
			days[i].Tenant = slugs[days[i].TenantID]
		}
		slices.SortFunc(days, func(a, b UsageDay) int {
			return cmp.Or(strings.Compare(a.Tenant, b.Tenant), a.Day.Compare(b.Day), strings.Compare(string(a.Platform), string(b.Platform)))
		})
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"tenant", "day", "platform", "device_days", "enrollments", "unenrollments"})
		for _, d := range days {
			_ = cw.Write([]string{d.Tenant, d.Day.Format(time.DateOnly), string(d.Platform),
				strconv.Itoa(d.DeviceDays), strconv.Itoa(d.Enrollments), strconv.Itoa(d.Unenrollments)})
		}
		cw.Flush()
		return cw.Error()
	})
}
