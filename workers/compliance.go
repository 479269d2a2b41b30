package workers

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

type evaluateWorker struct {
	river.WorkerDefaults[compliance.EvaluateArgs]
	db *tenancy.DB
	c  *compliance.Compliance
}

func (w *evaluateWorker) Work(ctx context.Context, job *river.Job[compliance.EvaluateArgs]) error {
	if w.c == nil {
		return errors.New("compliance: this process does not evaluate")
	}
	_, err := w.c.Evaluate(ctx, job.Args.DeviceID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil // the device is gone
	}
	return err
}

type evaluateTenantWorker struct {
	river.WorkerDefaults[compliance.EvaluateTenantArgs]
	db *tenancy.DB
	c  *compliance.Compliance
}

func (w *evaluateTenantWorker) Work(ctx context.Context, job *river.Job[compliance.EvaluateTenantArgs]) error {
	if w.c == nil {
		return errors.New("compliance: this process does not evaluate")
	}
	return w.db.Within(ctx, func(ctx context.Context) error {
		ids, err := w.c.Devices(ctx, job.Args.After, compliance.BatchSize)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := w.c.Evaluate(ctx, id); err != nil {
				return err
			}
		}
		if len(ids) < compliance.BatchSize {
			return nil
		}
		// The next batch, committed with this one's results.
		return jobs.Insert(ctx, w.db, river.InsertManyParams{
			Args: compliance.EvaluateTenantArgs{TenantID: job.Args.TenantID, After: ids[len(ids)-1]}})
	})
}

// SnapshotSweepArgs is the hourly job that enqueues one
// compliance.SnapshotArgs job per tenant.
type SnapshotSweepArgs struct{}

// Kind names the job kind in River.
func (SnapshotSweepArgs) Kind() string { return "compliance.snapshot_sweep" }

type snapshotSweepWorker struct {
	river.WorkerDefaults[SnapshotSweepArgs]
	dir *tenancy.Directory
}

func (w *snapshotSweepWorker) Work(ctx context.Context, job *river.Job[SnapshotSweepArgs]) error {
	_, err := fanOut(ctx, w.dir, 50*time.Minute, func(t tenancy.Tenant) river.JobArgs {
		return compliance.SnapshotArgs{TenantID: t.ID}
	})
	return err
}

type snapshotWorker struct {
	river.WorkerDefaults[compliance.SnapshotArgs]
	db *tenancy.DB
	c  *compliance.Compliance
}

func (w *snapshotWorker) Work(ctx context.Context, job *river.Job[compliance.SnapshotArgs]) error {
	if w.c == nil {
		return errors.New("compliance: this process does not evaluate")
	}
	_, err := w.c.Snapshot(ctx, time.Now())
	return err
}
