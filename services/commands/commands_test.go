package commands_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	dir   *tenancy.Directory
	tn    tenancy.Tenant
	db    *tenancy.DB
	ctx   context.Context
	inv   *inventory.Inventory
	q     *commands.Queue
	store *events.Store
}

func setup(t testing.TB) fixture {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	tn := testenv.Tenant(t, dir)
	return fixture{dir: dir, tn: tn, db: db, ctx: tenancy.WithTenant(context.Background(), tn.ID),
		inv: inv, q: commands.New(db, inv, pub), store: events.NewStore(db)}
}

func (f fixture) tx(t testing.TB, fn func(tx pgx.Tx) error) {
	t.Helper()
	if err := f.db.Tx(f.ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) kinds(t testing.TB) []string {
	evs, err := f.store.Since(f.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestRecordPublishesOnlyChanges(t *testing.T) {
	f := setup(t)
	r := inventory.Report{Platform: inventory.Apple, Identifier: "UDID-1", Name: "Mac", OSVersion: "15.1", Facts: map[string]any{"a": 1}}
	var first, again inventory.Device
	f.tx(t, func(tx pgx.Tx) (err error) { first, err = f.inv.Record(f.ctx, r); return })
	f.tx(t, func(tx pgx.Tx) (err error) {
		again, err = f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Apple, Identifier: "UDID-1", Facts: map[string]any{"b": 2}})
		return
	})
	if again.ID != first.ID || again.Name != "Mac" || string(again.Facts) != `{"a": 1, "b": 2}` {
		t.Fatalf("a check-in lost what was known: %+v", again)
	}
	f.tx(t, func(tx pgx.Tx) (err error) {
		_, err = f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Apple, Identifier: "UDID-1", OSVersion: "15.2"})
		return
	})
	f.tx(t, func(tx pgx.Tx) (err error) { // a plain check-in
		_, err = f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Apple, Identifier: "UDID-1"})
		return
	})
	got := f.kinds(t)
	if len(got) != 3 || got[0] != "device.enrolled" || got[1] != "device.reported" || got[2] != "device.updated" {
		t.Fatalf("events %v; want device.enrolled, device.reported (new facts), device.updated (new OS), and nothing for a plain check-in", got)
	}
	err := f.db.Within(f.ctx, func(ctx context.Context) error {
		_, err := f.inv.Record(f.ctx, inventory.Report{Platform: "palm", Identifier: "x"})
		return err
	})
	var verr *fault.Error
	if !errors.As(err, &verr) || verr.Code != fault.Invalid {
		t.Fatalf("unknown platform: %v", err)
	}
}

func TestQueueLifecycle(t *testing.T) {
	f := setup(t)
	var dev inventory.Device
	f.tx(t, func(tx pgx.Tx) (err error) {
		dev, err = f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Windows, Identifier: "W-1"})
		return
	})
	var lock, restart, short commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) {
		if lock, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "lock"}); err != nil {
			return err
		}
		if short, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "device_information", Lifetime: time.Minute}); err != nil {
			return err
		}
		restart, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "restart"})
		return err
	})
	err := f.db.Within(f.ctx, func(ctx context.Context) error {
		_, err := f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "clear_passcode"})
		return err
	})
	var verr *fault.Error
	if !errors.As(err, &verr) || verr.Code != fault.Invalid {
		t.Fatalf("a kind Windows lacks: %v", err)
	}
	// The short-lived command's deadline passes before the device comes.
	f.tx(t, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, short.ID)
		return err
	})

	next := func() *commands.Command {
		var c *commands.Command
		f.tx(t, func(tx pgx.Tx) (err error) { c, err = f.q.NextTx(f.ctx, tx, dev.ID); return })
		return c
	}
	complete := func(id commands.Command, o commands.Outcome) {
		f.tx(t, func(tx pgx.Tx) error { _, err := f.q.CompleteTx(f.ctx, tx, id.DeviceID, id.ID, o); return err })
	}
	c := next()
	if c == nil || c.ID != lock.ID || c.Status != commands.Sent || c.Attempts != 1 {
		t.Fatalf("first: %+v", c)
	}
	complete(*c, commands.Outcome{Status: commands.NotNow})
	// NotNow keeps the command first in line for the next contact.
	if c = next(); c == nil || c.ID != lock.ID || c.Attempts != 2 {
		t.Fatalf("after NotNow: %+v", c)
	}
	complete(*c, commands.Outcome{Status: commands.Acknowledged, Result: map[string]any{"ok": true}})
	// The expired one is skipped.
	if c = next(); c == nil || c.ID != restart.ID {
		t.Fatalf("after the lock: %+v; want the restart (the expired command skipped)", c)
	}
	complete(*c, commands.Outcome{Status: commands.Error, Error: "device busy"})
	if c = next(); c != nil {
		t.Fatalf("queue should be empty: %+v", c)
	}
	err = f.db.Tx(f.ctx, func(tx pgx.Tx) error {
		_, err := f.q.CompleteTx(f.ctx, tx, lock.DeviceID, lock.ID, commands.Outcome{Status: commands.Acknowledged})
		return err
	})
	if !errors.Is(err, commands.ErrState) {
		t.Fatalf("completing twice: %v", err)
	}
	var s commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) { s, err = f.q.Get(f.ctx, short.ID); return })
	if s.Status != commands.Expired {
		t.Fatalf("short-lived command is %s", s.Status)
	}
	want := []string{"device.enrolled", "command.queued", "command.queued", "command.queued", "command.sent", "command.not_now",
		"command.sent", "command.acknowledged", "command.expired", "command.sent", "command.error"}
	if got := f.kinds(t); len(got) != len(want) {
		t.Fatalf("events %v\nwant %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("events %v\nwant %v", got, want)
			}
		}
	}
}

func TestCancelAndExpire(t *testing.T) {
	f := setup(t)
	var dev inventory.Device
	var a, b commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) {
		if dev, err = f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Android, Identifier: "enterprises/e/devices/1"}); err != nil {
			return err
		}
		if a, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "restart"}); err != nil {
			return err
		}
		b, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "lock"})
		return err
	})
	f.tx(t, func(tx pgx.Tx) error { _, err := f.q.Cancel(f.ctx, a.ID); return err })
	err := f.db.Within(f.ctx, func(ctx context.Context) error { _, err := f.q.Cancel(f.ctx, a.ID); return err })
	if !errors.Is(err, commands.ErrState) {
		t.Fatalf("cancel twice: %v", err)
	}
	f.tx(t, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, b.ID)
		return err
	})
	var n int
	f.tx(t, func(tx pgx.Tx) (err error) { n, err = f.q.ExpireDue(f.ctx); return })
	if n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
}

// A suspended tenant's devices get no new work: every way a command is
// handed out holds it, changing nothing, until the tenant is resumed.
func TestSuspendedTenantsCommandsHold(t *testing.T) {
	f := setup(t)
	var dev inventory.Device
	var lock, info commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) {
		if dev, err = f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Windows, Identifier: "W-hold"}); err != nil {
			return err
		}
		if info, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "device_information"}); err != nil {
			return err
		}
		lock, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "lock"})
		return err
	})
	var sent *commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) { sent, err = f.q.NextTx(f.ctx, tx, dev.ID); return })
	if sent == nil || sent.ID != info.ID {
		t.Fatalf("first: %+v", sent)
	}
	before := f.kinds(t)
	if err := f.dir.SetStatus(context.Background(), f.tn.ID, tenancy.Suspended); err != nil {
		t.Fatal(err)
	}
	f.tx(t, func(tx pgx.Tx) error {
		if c, err := f.q.NextTx(f.ctx, tx, dev.ID); err != nil || c != nil {
			t.Errorf("Next while suspended: %+v, %v; want nothing", c, err)
		}
		if _, err := f.q.Hand(f.ctx, tx, dev.ID, lock.ID); !errors.Is(err, commands.ErrHeld) {
			t.Errorf("Hand while suspended: %v, want ErrHeld", err)
		}
		return nil
	})
	if again, err := f.q.Resend(f.ctx, dev.ID); err != nil || len(again) != 0 {
		t.Errorf("Resend while suspended: %+v, %v; want nothing", again, err)
	}
	for id, want := range map[uuid.UUID]commands.Status{info.ID: commands.Sent, lock.ID: commands.Queued} {
		if c, err := f.q.Get(f.ctx, id); err != nil || c.Status != want || c.Attempts > 1 {
			t.Errorf("after holding, %s: %+v, %v; want %s as it was", id, c, err, want)
		}
	}
	if got := f.kinds(t); len(got) != len(before) {
		t.Errorf("holding published %v", got[len(before):])
	}
	if err := f.dir.SetStatus(context.Background(), f.tn.ID, tenancy.Active); err != nil {
		t.Fatal(err)
	}
	if again, err := f.q.Resend(f.ctx, dev.ID); err != nil || len(again) != 1 || again[0].ID != info.ID {
		t.Errorf("Resend after resuming: %+v, %v", again, err)
	}
	f.tx(t, func(tx pgx.Tx) (err error) { sent, err = f.q.NextTx(f.ctx, tx, dev.ID); return })
	if sent == nil || sent.ID != lock.ID {
		t.Errorf("Next after resuming: %+v, want the lock", sent)
	}
}

// A deployment queues at most DeployBatch commands a call and says more
// are left; the next call queues the rest, and then nothing.
func TestDeployInBatches(t *testing.T) {
	f := setup(t)
	f.tx(t, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `INSERT INTO devices (id, platform, identifier) SELECT gen_random_uuid(), 'windows', 'batch-' || g FROM generate_series(1, $1) g`,
			commands.DeployBatch+1)
		return err
	})
	d := commands.Deployment{Tag: "baseline:" + uuid.NewString() + ":info:0123456789ab", Kind: "device_information", Platform: "windows"}
	deploy := func() (commands.Rollout, bool) {
		t.Helper()
		var r commands.Rollout
		var more bool
		f.tx(t, func(tx pgx.Tx) (err error) { r, more, err = f.q.DeployTx(f.ctx, tx, d, true); return err })
		return r, more
	}
	if r, more := deploy(); !more || r.Queued != commands.DeployBatch || r.Missing != 1 {
		t.Errorf("first call: %+v more %v; want %d queued and one left", r, more, commands.DeployBatch)
	}
	if r, more := deploy(); more || r.Queued != 1 || r.Waiting != commands.DeployBatch+1 {
		t.Errorf("second call: %+v more %v", r, more)
	}
	if r, more := deploy(); more || r.Queued != 0 {
		t.Errorf("third call: %+v more %v", r, more)
	}
}
