// Package lastseen keeps when devices were last in contact in memory and
// writes those times in batches: one statement per tenant every few
// seconds, instead of a row version and a commit per check-in. A fleet's
// check-ins are mostly "still here" (an Apple Idle, a scheduled Windows
// session with nothing to report); written one by one, each rewrote its
// device row and every index on it, and PostgreSQL was the bottleneck of
// 100,000 devices checking in every 100 seconds (loadtest/RESULTS.md).
//
// The cost is precision: a device's last contact reaches the database up to
// one flush interval late, and a crash loses the times not yet written
// (the devices check in again). Changes of what a device is are not
// batched: they are written in their request's transaction, as ever.
package lastseen

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// Batch is the pending last-contact times of one table's rows.
type Batch struct {
	db     *tenancy.DB
	name   string
	update string

	mu      sync.Mutex
	pending map[uuid.UUID]map[string]time.Time // tenant, row id
}

// New returns a batch whose Flush runs update in each tenant's
// transaction with $1 the rows' ids (text[]) and $2 their times
// (timestamptz[]), in the same order. The update must scope itself to the
// tenant (tenant_id = current_tenant()) and never move a time backwards.
// name says which table, in logs and errors.
func New(db *tenancy.DB, name, update string) *Batch {
	return &Batch{db: db, name: name, update: update, pending: map[uuid.UUID]map[string]time.Time{}}
}

// Mark notes that row id of tenant was in contact at t.
func (b *Batch) Mark(tenant uuid.UUID, id string, t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rows := b.pending[tenant]
	if rows == nil {
		rows = map[string]time.Time{}
		b.pending[tenant] = rows
	}
	if t.After(rows[id]) {
		rows[id] = t
	}
}

// Pending counts the rows not yet written.
func (b *Batch) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, rows := range b.pending {
		n += len(rows)
	}
	return n
}

// Flush writes every pending time, one transaction per tenant. A tenant
// whose write fails keeps its times for the next Flush (merged with any
// marked since); the first error is returned after the others are tried.
func (b *Batch) Flush(ctx context.Context) error {
	b.mu.Lock()
	taken := b.pending
	b.pending = map[uuid.UUID]map[string]time.Time{}
	b.mu.Unlock()

	var first error
	for tenant, rows := range taken {
		ids := make([]string, 0, len(rows))
		times := make([]time.Time, 0, len(rows))
		for id, t := range rows {
			ids = append(ids, id)
			times = append(times, t)
		}
		// The batch acts for each tenant it holds times of, as a job
		// does: its own edge.
		tctx := tenancy.WithTenant(ctx, tenant)
		err := b.db.Tx(tctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(tctx, b.update, ids, times)
			return err
		})
		if err != nil {
			for id, t := range rows {
				b.Mark(tenant, id, t)
			}
			if first == nil {
				first = fmt.Errorf("lastseen: write %s of tenant %s: %w", b.name, tenant, err)
			}
		}
	}
	return first
}

// Run flushes every interval until ctx ends, then once more (for up to 10
// s) so that a clean stop loses nothing: call it after the server stopped
// taking requests, or cancel ctx only then.
func (b *Batch) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := b.Flush(ctx); err != nil {
				log.WarnContext(ctx, "last-seen times not written; trying again", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := b.Flush(fctx); err != nil {
				log.ErrorContext(fctx, "last-seen times lost at shutdown", "rows", b.Pending(), "err", err)
			}
			return
		}
	}
}
