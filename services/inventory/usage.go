package inventory

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// DayUsage is one platform's use of the tenant on one UTC day, from the
// devices' enrolled spans: what an MSP bills by.
type DayUsage struct {
	Platform Platform `json:"platform"`
	// DeviceDays is how many devices were enrolled at some moment of the
	// day (each once, however often it enrolled). A span is enrolled from
	// its start up to, not including, its end: a device unenrolled at
	// midnight does not count on the day that begins then.
	DeviceDays    int `json:"device_days"`
	Enrollments   int `json:"enrollments"`   // spans that began on the day
	Unenrollments int `json:"unenrollments"` // spans that ended on the day
}

// UsageOn is the tenant's use of each platform (all three, zeros too) on
// the UTC day of day. A day past is fixed: spans only open and close now.
func (inv *Inventory) UsageOn(ctx context.Context, day time.Time) ([]DayUsage, error) {
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]DayUsage, error) {
		rows, _ := tx.Query(ctx, `
SELECT p.platform,
  (SELECT count(DISTINCT device_id) FROM device_enrollments e
   WHERE e.platform = p.platform AND e.enrolled_at < $2 AND (e.unenrolled_at IS NULL OR e.unenrolled_at > $1))::int,
  (SELECT count(*) FROM device_enrollments e WHERE e.platform = p.platform AND e.enrolled_at >= $1 AND e.enrolled_at < $2)::int,
  (SELECT count(*) FROM device_enrollments e WHERE e.platform = p.platform AND e.unenrolled_at >= $1 AND e.unenrolled_at < $2)::int
FROM unnest(ARRAY['apple', 'windows', 'android']) AS p (platform)`, start, start.AddDate(0, 0, 1))
		return pgx.CollectRows(rows, pgx.RowToStructByPos[DayUsage])
	})
}

// FirstEnrolled is when the tenant's first recorded span began (zero:
// none yet), where its metering starts.
func (inv *Inventory) FirstEnrolled(ctx context.Context) (time.Time, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (time.Time, error) {
		var t *time.Time
		err := tx.QueryRow(ctx, `SELECT min(enrolled_at) FROM device_enrollments`).Scan(&t)
		if t == nil {
			return time.Time{}, err
		}
		return *t, err
	})
}
