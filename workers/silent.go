package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// WakeSilentSweepArgs is the periodic job that enqueues one
// commands.WakeSilentArgs and one commands.ExpireDueArgs per tenant.
type WakeSilentSweepArgs struct{}

// Kind names the job kind in River.
func (WakeSilentSweepArgs) Kind() string { return "commands.wake_silent_sweep" }

type wakeSilentSweepWorker struct {
	river.WorkerDefaults[WakeSilentSweepArgs]
	dir *tenancy.Directory
}

func (w *wakeSilentSweepWorker) Work(ctx context.Context, job *river.Job[WakeSilentSweepArgs]) error {
	_, err := fanOut(ctx, w.dir, time.Hour, func(t tenancy.Tenant) river.JobArgs {
		if t.Status != tenancy.Active {
			return nil
		}
		return commands.WakeSilentArgs{TenantID: t.ID}
	})
	if err != nil {
		return err
	}
	_, err = fanOut(ctx, w.dir, time.Hour, func(t tenancy.Tenant) river.JobArgs { return commands.ExpireDueArgs{TenantID: t.ID} })
	return err
}

// expireDueWorker expires one tenant's open commands past their deadline:
// the backstop to each command's delivery job, which expires it at its
// deadline (and to hand-out, which never hands out an expired one).
type expireDueWorker struct {
	river.WorkerDefaults[commands.ExpireDueArgs]
	db   *tenancy.DB
	cmds *commands.Queue
	log  *slog.Logger
}

func (w *expireDueWorker) Work(ctx context.Context, job *river.Job[commands.ExpireDueArgs]) error {
	if w.cmds == nil {
		return errors.New("commands: this process does not expire commands")
	}
	var n int
	n, err := w.cmds.ExpireDue(ctx)
	if n > 0 {
		w.log.InfoContext(ctx, "expired commands past their deadline", "tenant", job.Args.TenantID, "expired", n)
	}
	return err
}

// wakeSilentWorker wakes one tenant's devices that have been silent for a
// day, up to 1,000 per run (the longest silent first).
type wakeSilentWorker struct {
	river.WorkerDefaults[commands.WakeSilentArgs]
	db     *tenancy.DB
	inv    *inventory.Inventory
	wakers map[inventory.Platform]commands.Waker
	log    *slog.Logger
}

func (w *wakeSilentWorker) Work(ctx context.Context, job *river.Job[commands.WakeSilentArgs]) error {
	if w.inv == nil {
		return nil
	}
	var silent []inventory.Device
	silent, err := w.inv.Silent(ctx, time.Now().Add(-commands.SilentAfter), 1000)
	if err != nil {
		return fmt.Errorf("list silent devices: %w", err)
	}
	woken := 0
	for _, d := range silent {
		if waker := w.wakers[d.Platform]; waker != nil {
			if err := waker.Wake(ctx, d); err != nil {
				w.log.InfoContext(ctx, "waking a silent device failed", "device", d.ID, "err", err)
				continue
			}
			woken++
		}
	}
	if len(silent) > 0 {
		w.log.InfoContext(ctx, "woke silent devices", "tenant", job.Args.TenantID, "silent", len(silent), "woken", woken)
	}
	return nil
}
