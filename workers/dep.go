package workers

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

// DEPSyncSweepArgs is the periodic job that enqueues one
// dep.SyncTenantArgs per active tenant.
type DEPSyncSweepArgs struct{}

// Kind names the job kind in River.
func (DEPSyncSweepArgs) Kind() string { return "dep.sync_sweep" }

var errNoDEP = errors.New("dep: this process does not run ABM jobs")

type depSyncSweepWorker struct {
	river.WorkerDefaults[DEPSyncSweepArgs]
	dir    *tenancy.Directory
	period time.Duration
}

func (w *depSyncSweepWorker) Work(ctx context.Context, job *river.Job[DEPSyncSweepArgs]) error {
	_, err := fanOut(ctx, w.dir, w.period, func(t tenancy.Tenant) river.JobArgs {
		if t.Status != tenancy.Active {
			return nil
		}
		return dep.SyncTenantArgs{TenantID: t.ID}
	})
	return err
}

type depSyncTenantWorker struct {
	river.WorkerDefaults[dep.SyncTenantArgs]
	db  *tenancy.DB
	dep *dep.Service
}

func (w *depSyncTenantWorker) Work(ctx context.Context, job *river.Job[dep.SyncTenantArgs]) error {
	if w.dep == nil {
		return errNoDEP
	}
	_, err := w.dep.EnqueueAll(ctx)
	return err
}

type depSyncWorker struct {
	river.WorkerDefaults[dep.SyncArgs]
	dep *dep.Service
	db  *tenancy.DB
}

// Timeout allows a full fetch of a large account (each page is its own
// transaction; a run cut short goes on from its cursor).
func (w *depSyncWorker) Timeout(*river.Job[dep.SyncArgs]) time.Duration { return 30 * time.Minute }

func (w *depSyncWorker) Work(ctx context.Context, job *river.Job[dep.SyncArgs]) error {
	if w.dep == nil {
		return errNoDEP
	}
	// The job completes with the run's last check for asks: one made
	// after it queues a new job instead of merging into this one.
	_, err := w.dep.SyncJob(ctx, job.Args.TokenID, func(ctx context.Context) error { return jobs.Complete(ctx, w.db, job) })
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil // the token was deleted
	}
	return err
}

type depAssignWorker struct {
	river.WorkerDefaults[dep.AssignArgs]
	dep *dep.Service
}

func (w *depAssignWorker) Work(ctx context.Context, job *river.Job[dep.AssignArgs]) error {
	if w.dep == nil {
		return errNoDEP
	}
	_, err := w.dep.Assign(ctx, job.Args)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil // the profile or token was deleted
	}
	return err
}
