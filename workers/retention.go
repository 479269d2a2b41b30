package workers

import (
	"context"
	"log/slog"
	"time"

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
	n, err := fanOut(ctx, w.dir, w.interval, func(t tenancy.Tenant) river.JobArgs { return events.RetentionArgs{TenantID: t.ID} })
	if err != nil {
		return err
	}
	w.log.InfoContext(ctx, "event retention sweep", "tenants", n)
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
