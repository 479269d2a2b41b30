package workers

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
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
	err := w.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := w.c.Evaluate(ctx, tx, job.Args.DeviceID)
		return err
	})
	if errors.Is(err, inventory.ErrNotFound) {
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
	return w.db.Tx(ctx, func(tx pgx.Tx) error {
		ids, err := w.c.Devices(ctx, tx, job.Args.After, compliance.BatchSize)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := w.c.Evaluate(ctx, tx, id); err != nil {
				return err
			}
		}
		if len(ids) < compliance.BatchSize {
			return nil
		}
		// The next batch, committed with this one's results.
		_, err = river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx,
			compliance.EvaluateTenantArgs{TenantID: job.Args.TenantID, After: ids[len(ids)-1]}, nil)
		return err
	})
}
