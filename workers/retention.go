package workers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// RetentionSweepArgs is the periodic job that enqueues one events.RetentionArgs
// job per active tenant, so each tenant's cleanup runs, fails and retries on
// its own.
type RetentionSweepArgs struct{}

// Kind names the job kind in River.
func (RetentionSweepArgs) Kind() string { return "events.retention_sweep" }

type retentionSweepWorker struct {
	river.WorkerDefaults[RetentionSweepArgs]
	dir      *tenancy.Directory
	interval time.Duration
	log      *slog.Logger
}

func (w *retentionSweepWorker) Work(ctx context.Context, job *river.Job[RetentionSweepArgs]) error {
	tenants, err := w.dir.ListTenants(ctx, uuid.Nil)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	params := make([]river.InsertManyParams, 0, len(tenants))
	for _, t := range tenants {
		params = append(params, river.InsertManyParams{
			Args: events.RetentionArgs{TenantID: t.ID},
			// One cleanup per tenant per sweep, even if sweeps overlap.
			InsertOpts: &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: w.interval}},
		})
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params); err != nil {
		return fmt.Errorf("enqueue retention jobs: %w", err)
	}
	w.log.InfoContext(ctx, "event retention sweep", "tenants", len(params))
	return nil
}

type retentionWorker struct {
	river.WorkerDefaults[events.RetentionArgs]
	events *events.Store
	keep   time.Duration
	log    *slog.Logger
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[events.RetentionArgs]) error {
	n, err := w.events.DeleteBefore(ctx, time.Now().Add(-w.keep), 5000)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.InfoContext(ctx, "deleted old events", "tenant", job.Args.TenantID, "count", n)
	}
	return nil
}
