package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// HistoryRetention is how long Snapshot keeps the hourly numbers.
const HistoryRetention = 90 * 24 * time.Hour

// Point is the fleet's standing in one hour: enrolled devices, how many of
// them were compliant and not (the rest were not evaluated), and how many
// checked in within the hour before the numbers were taken.
type Point struct {
	Hour                    time.Time
	Enrolled                int
	Compliant, NonCompliant int
	CheckedIn               int
}

// Rate is the compliant share of the evaluated devices, in percent, and
// whether any device was evaluated.
func (p Point) Rate() (int, bool) {
	n := p.Compliant + p.NonCompliant
	if n == 0 {
		return 0, false
	}
	return p.Compliant * 100 / n, true
}

// SnapshotArgs is the hourly job that records one tenant's Point.
type SnapshotArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (SnapshotArgs) Kind() string { return "compliance.snapshot" }

// Snapshot records the tenant's standing for now's hour (again, if the
// hour has one: the later numbers win) and drops points older than
// HistoryRetention.
func (c *Compliance) Snapshot(ctx context.Context, now time.Time) (Point, error) {
	return tenancy.Write(ctx, c.db, func(tx pgx.Tx) (Point, error) { return c.snapshotTx(ctx, tx, now) })
}

func (c *Compliance) snapshotTx(ctx context.Context, tx pgx.Tx, now time.Time) (Point, error) {
	p := Point{Hour: now.UTC().Truncate(time.Hour)}
	err := tx.QueryRow(ctx, `
INSERT INTO fleet_history (hour, enrolled, compliant, non_compliant, checked_in)
SELECT $1, count(*), `+compliantCount+`, `+failingCount+`,
       count(*) FILTER (WHERE d.last_seen_at > $2::timestamptz - interval '1 hour')
`+enrolledWithResults+`
ON CONFLICT (tenant_id, hour) DO UPDATE SET enrolled = EXCLUDED.enrolled, compliant = EXCLUDED.compliant,
    non_compliant = EXCLUDED.non_compliant, checked_in = EXCLUDED.checked_in, taken_at = now()
RETURNING enrolled, compliant, non_compliant, checked_in`, p.Hour, now).Scan(&p.Enrolled, &p.Compliant, &p.NonCompliant, &p.CheckedIn)
	if err != nil {
		return Point{}, fmt.Errorf("compliance: snapshot: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM fleet_history WHERE hour < $1`, now.Add(-HistoryRetention)); err != nil {
		return Point{}, fmt.Errorf("compliance: drop old snapshots: %w", err)
	}
	return p, nil
}

// History returns the tenant's points from since on, oldest first.
func (c *Compliance) History(ctx context.Context, since time.Time) ([]Point, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) ([]Point, error) { return c.historyTx(ctx, tx, since) })
}

func (c *Compliance) historyTx(ctx context.Context, tx pgx.Tx, since time.Time) ([]Point, error) {
	rows, _ := tx.Query(ctx, `SELECT hour, enrolled, compliant, non_compliant, checked_in FROM fleet_history
WHERE hour >= $1 ORDER BY hour`, since.UTC().Truncate(time.Hour))
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Point, error) {
		var p Point
		err := r.Scan(&p.Hour, &p.Enrolled, &p.Compliant, &p.NonCompliant, &p.CheckedIn)
		p.Hour = p.Hour.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("compliance: history: %w", err)
	}
	return ps, nil
}
