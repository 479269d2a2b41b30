package workers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

// RollupSweepArgs is the periodic job that finds the tenants whose
// console rollup is stale (new events, or old) and queues a refresh for
// each: the MSP console's tenant loop.
type RollupSweepArgs struct{}

// Kind names the job kind in River.
func (RollupSweepArgs) Kind() string { return "msp.rollup_sweep" }

type rollupSweepWorker struct {
	river.WorkerDefaults[RollupSweepArgs]
	dir      *tenancy.Directory
	msp      *msp.Service
	interval time.Duration
}

func (w *rollupSweepWorker) Work(ctx context.Context, job *river.Job[RollupSweepArgs]) error {
	if w.msp == nil {
		return nil
	}
	tenants, err := w.dir.ListTenants(ctx, uuid.Nil)
	if err != nil {
		return fmt.Errorf("list tenants: %w", err)
	}
	var params []river.InsertManyParams
	for _, t := range tenants {
		stale, err := w.msp.Stale(ctx, t)
		if err != nil {
			return fmt.Errorf("tenant %s's rollup: %w", t.Slug, err)
		}
		if stale {
			// At most one refresh per tenant per sweep interval.
			params = append(params, river.InsertManyParams{Args: msp.RefreshArgs{TenantID: t.ID},
				InsertOpts: &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: w.interval}}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	return jobs.InsertMany(ctx, params)
}

type rollupWorker struct {
	river.WorkerDefaults[msp.RefreshArgs]
	dir *tenancy.Directory
	msp *msp.Service
}

func (w *rollupWorker) Work(ctx context.Context, job *river.Job[msp.RefreshArgs]) error {
	if w.msp == nil {
		return nil
	}
	t, err := w.dir.Tenant(ctx, job.Args.TenantID)
	if err != nil {
		return err
	}
	return w.msp.Refresh(ctx, t)
}

type applyBaselinesWorker struct {
	river.WorkerDefaults[msp.ApplyArgs]
	dir *tenancy.Directory
	msp *msp.Service
}

func (w *applyBaselinesWorker) Work(ctx context.Context, job *river.Job[msp.ApplyArgs]) error {
	if w.msp == nil {
		return nil
	}
	t, err := w.dir.Tenant(ctx, job.Args.TenantID)
	if err != nil {
		return err
	}
	_, more, err := w.msp.ApplyMore(ctx, t)
	if err == nil && more {
		return river.JobSnooze(time.Second) // the next devices' commands, in another transaction
	}
	return err
}

// BaselineSweepArgs is the periodic job that queues every tenant's
// baseline application: applying is idempotent (a tenant as it should be
// is only read), so the sweep puts back local changes and finishes
// applications a crashed worker left (River rescues a killed worker's
// running jobs only after RescueStuckJobsAfter, an hour by default).
type BaselineSweepArgs struct{}

// Kind names the job kind in River.
func (BaselineSweepArgs) Kind() string { return "msp.baseline_sweep" }

type baselineSweepWorker struct {
	river.WorkerDefaults[BaselineSweepArgs]
	dir    *tenancy.Directory
	msp    *msp.Service
	period time.Duration
	log    *slog.Logger
}

// Work promotes the rings that have soaked, then applies every tenant's
// baselines (the promoted versions with them).
func (w *baselineSweepWorker) Work(ctx context.Context, job *river.Job[BaselineSweepArgs]) error {
	if w.msp != nil {
		msps, err := w.dir.ListMSPs(ctx)
		if err != nil {
			return fmt.Errorf("list MSPs: %w", err)
		}
		for _, m := range msps {
			promoted, err := w.msp.AutoPromote(ctx, m.ID, time.Now())
			if len(promoted) > 0 {
				w.log.InfoContext(ctx, "baseline rings promoted after their soak time", "msp", m.Slug, "promoted", promoted)
			}
			if err != nil {
				return fmt.Errorf("MSP %s's rings: %w", m.Slug, err)
			}
		}
	}
	_, err := fanOut(ctx, w.dir, w.period, func(t tenancy.Tenant) river.JobArgs { return msp.ApplyArgs{TenantID: t.ID} })
	return err
}

// MeterSweepArgs is the periodic job that queues every tenant's usage
// metering: hourly, so a day that ended is metered within the hour, and a
// worker that was down catches up.
type MeterSweepArgs struct{}

// Kind names the job kind in River.
func (MeterSweepArgs) Kind() string { return "msp.meter_sweep" }

type meterSweepWorker struct {
	river.WorkerDefaults[MeterSweepArgs]
	dir *tenancy.Directory
}

func (w *meterSweepWorker) Work(ctx context.Context, job *river.Job[MeterSweepArgs]) error {
	_, err := fanOut(ctx, w.dir, time.Hour, func(t tenancy.Tenant) river.JobArgs { return msp.MeterArgs{TenantID: t.ID} })
	return err
}

type meterWorker struct {
	river.WorkerDefaults[msp.MeterArgs]
	dir *tenancy.Directory
	msp *msp.Service
}

// Work meters a batch of the tenant's days; more wait for a snooze, in
// other transactions.
func (w *meterWorker) Work(ctx context.Context, job *river.Job[msp.MeterArgs]) error {
	if w.msp == nil {
		return nil
	}
	t, err := w.dir.Tenant(ctx, job.Args.TenantID)
	if err != nil {
		return err
	}
	_, more, err := w.msp.Meter(ctx, t, time.Now(), 0)
	if err == nil && more {
		return river.JobSnooze(time.Second)
	}
	return err
}
