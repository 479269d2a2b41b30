package workers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// wakes records the devices a delivery woke.
type wakes struct {
	mu  sync.Mutex
	ids []string
}

func (w *wakes) Wake(_ context.Context, d inventory.Device) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ids = append(w.ids, d.Identifier)
	return nil
}

func (w *wakes) count() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.ids) }

// The delivery job, worked by River's rivertest: while the command waits it
// wakes the device and snoozes for the pause NextDelivery chose (a minute
// for a new command; an hour after a NotNow, never past the deadline); at
// the deadline it expires the command and ends; a finished command ends
// it without a wake. Replacing the snooze with a plain return, or
// dropping the expiry, fails here.
func TestDeliverCommandSnoozesAndExpires(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	q := commands.New(db, inv, pub)
	woken := &wakes{}
	w := &deliverCommandWorker{db: db, cmds: q, wakers: map[inventory.Platform]commands.Waker{inventory.Windows: woken},
		log: testenv.Logger(t)}
	tw := rivertest.NewWorker(t, riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema,
		Middleware: []rivertype.Middleware{river.WorkerMiddlewareFunc(tenantMiddleware)}}, w)

	var dev inventory.Device
	queue := func(lifetime time.Duration) commands.Command {
		var c commands.Command
		if err := db.Tx(ctx, func(tx pgx.Tx) (err error) {
			if dev.ID == [16]byte{} {
				if dev, err = inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "W-deliver", Status: inventory.Enrolled}); err != nil {
					return err
				}
			}
			c, err = q.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: dev.ID, Kind: "lock", Lifetime: lifetime})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	work := func(c commands.Command) *rivertest.WorkResult {
		t.Helper()
		tx, err := db.Writer().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		res, err := tw.Work(ctx, t, tx, commands.DeliverArgs{TenantID: tn.ID, CommandID: c.ID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	status := func(c commands.Command) commands.Status {
		var got commands.Command
		if err := db.Within(ctx, func(ctx context.Context) (err error) { got, err = q.Get(ctx, c.ID); return }); err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	near := func(got, want time.Time) bool { d := got.Sub(want); return d > -10*time.Second && d < 10*time.Second }

	// A new command: wake, and look again in a minute.
	c := queue(time.Hour)
	res := work(c)
	if res.EventKind != river.EventKindJobSnoozed || !near(res.Job.ScheduledAt, time.Now().Add(time.Minute)) {
		t.Fatalf("a waiting command: %s, next run %s; want snoozed for a minute", res.EventKind, res.Job.ScheduledAt)
	}
	if woken.count() != 1 {
		t.Fatalf("woken %d times, want once", woken.count())
	}

	// After a NotNow: no wake, look again in an hour, but never past the
	// deadline (here 30 minutes away).
	nn := queue(30 * time.Minute)
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := q.Hand(ctx, tx, dev.ID, nn.ID); err != nil {
			return err
		}
		_, err := q.CompleteTx(ctx, tx, dev.ID, nn.ID, commands.Outcome{Status: commands.NotNow})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	res = work(nn)
	if res.EventKind != river.EventKindJobSnoozed || !near(res.Job.ScheduledAt, nn.ExpiresAt.Add(time.Second)) || woken.count() != 1 {
		t.Fatalf("after NotNow: %s, next run %s (deadline %s), woken %d; want snoozed to the deadline, no wake",
			res.EventKind, res.Job.ScheduledAt, nn.ExpiresAt, woken.count())
	}

	// At the deadline: the command expires and the job ends.
	late := queue(time.Hour)
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, late.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	res = work(late)
	if res.EventKind != river.EventKindJobCompleted || status(late) != commands.Expired {
		t.Fatalf("at the deadline: %s, command %s; want completed and expired", res.EventKind, status(late))
	}

	// A canceled command ends its job without a wake.
	gone := queue(time.Hour)
	if err := db.Within(ctx, func(ctx context.Context) error { _, err := q.Cancel(ctx, gone.ID); return err }); err != nil {
		t.Fatal(err)
	}
	before := woken.count()
	if res = work(gone); res.EventKind != river.EventKindJobCompleted || woken.count() != before {
		t.Fatalf("a canceled command: %s, woken %d more; want completed, no wake", res.EventKind, woken.count()-before)
	}
}

// The hourly backstop expires every open command past its deadline, of
// its tenant only.
func TestExpireDueWorker(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	q := commands.New(db, inv, pub)
	tw := rivertest.NewWorker(t, riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema,
		Middleware: []rivertype.Middleware{river.WorkerMiddlewareFunc(tenantMiddleware)}},
		&expireDueWorker{db: db, cmds: q, log: testenv.Logger(t)})
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	ids := map[tenancy.Tenant]commands.Command{}
	for _, tn := range []tenancy.Tenant{a, b} {
		ctx := tenancy.WithTenant(context.Background(), tn.ID)
		if err := db.Tx(ctx, func(tx pgx.Tx) error {
			d, err := inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Android, Identifier: "enterprises/e/devices/x", Status: inventory.Enrolled})
			if err != nil {
				return err
			}
			c, err := q.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: d.ID, Kind: "restart"})
			ids[tn] = c
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE commands SET expires_at = now() - interval '1 minute'`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	tx, err := db.Writer().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if res, err := tw.Work(ctx, t, tx, commands.ExpireDueArgs{TenantID: a.ID}, nil); err != nil || res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("expire a's commands: %v %v", res, err)
	}
	for tn, want := range map[tenancy.Tenant]commands.Status{a: commands.Expired, b: commands.Queued} {
		tctx := tenancy.WithTenant(ctx, tn.ID)
		var c commands.Command
		if err := db.Within(tctx, func(ctx context.Context) (err error) { c, err = q.Get(tctx, ids[tn].ID); return }); err != nil {
			t.Fatal(err)
		}
		if c.Status != want {
			t.Fatalf("tenant %s's command is %s, want %s", tn.Slug, c.Status, want)
		}
	}
}
