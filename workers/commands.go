package workers

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

// deliverCommandWorker sees a command to its end (commands.NextDelivery):
// it wakes the device and snoozes, again and again with growing pauses,
// until the device answers or the command expires. Snoozing does not use
// up the job's attempts, so a week-long command is one job.
type deliverCommandWorker struct {
	river.WorkerDefaults[commands.DeliverArgs]
	db     *tenancy.DB
	cmds   *commands.Queue
	wakers map[inventory.Platform]commands.Waker
	log    *slog.Logger
}

func (w *deliverCommandWorker) Work(ctx context.Context, job *river.Job[commands.DeliverArgs]) error {
	if w.cmds == nil {
		return errors.New("commands: this process does not deliver commands")
	}
	var c commands.Command
	var d inventory.Device
	err := w.db.ReadWithin(ctx, func(ctx context.Context) (err error) {
		if c, err = w.cmds.Get(ctx, job.Args.CommandID); err != nil {
			return err
		}
		d, err = w.cmds.Device(ctx, c)
		return err
	})
	if errors.Is(err, tenancy.ErrNotFound) || errors.Is(err, tenancy.ErrNotFound) {
		return nil // the device (and its commands) were deleted
	}
	if err != nil {
		return err
	}
	action, wait := commands.NextDelivery(c, time.Now())
	switch action {
	case commands.Finished:
		return nil
	case commands.Expire:
		return w.cmds.Expire(ctx, c.ID)
	case commands.Wake:
		if waker := w.wakers[d.Platform]; waker != nil {
			if err := waker.Wake(ctx, d); errors.Is(err, commands.ErrUnreachable) {
				w.log.WarnContext(ctx, "device cannot be woken; the command waits for its next check-in",
					"command", c.ID, "device", d.ID, "err", err)
			} else if err != nil {
				w.log.InfoContext(ctx, "waking the device failed; trying again later", "command", c.ID, "device", d.ID, "err", err)
			}
		}
	}
	return river.JobSnooze(wait)
}

// bulkWorker runs one batch of a bulk command and enqueues the next batch
// in the same transaction.
type bulkWorker struct {
	river.WorkerDefaults[commands.BulkArgs]
	db   *tenancy.DB
	cmds *commands.Queue
	log  *slog.Logger
}

func (w *bulkWorker) Work(ctx context.Context, job *river.Job[commands.BulkArgs]) error {
	if w.cmds == nil {
		return errors.New("commands: this process does not queue bulk commands")
	}
	return w.db.Within(ctx, func(ctx context.Context) error {
		next, n, err := w.cmds.BulkStep(ctx, job.Args)
		if err != nil {
			return err
		}
		w.log.InfoContext(ctx, "bulk command batch", "bulk", job.Args.BulkID, "kind", job.Args.Command, "queued", n)
		if next != nil {
			if err := jobs.Insert(ctx, w.db, river.InsertManyParams{Args: *next}); err != nil {
				return err
			}
		}
		// The job ends in the batch's transaction: were it completed after
		// (River's default), a stop between the commit and that update would
		// run the batch again and queue its commands twice.
		return jobs.Complete(ctx, w.db, job)
	})
}
