package lastseen_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/lastseen"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Devices of two tenants are marked; one Flush writes each tenant's times
// in its own transaction, never moves a time backwards, and leaves
// nothing pending.
func TestFlushWritesEachTenantsTimes(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	batch := lastseen.New(db, "devices", inventory.SeenUpdate)
	inv := inventory.New(db, events.NewPublisher(nil), inventory.BatchSeen(batch))
	type dev struct {
		ctx context.Context
		id  uuid.UUID
	}
	var devs []dev
	for range 2 {
		ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
		err := db.Tx(ctx, func(tx pgx.Tx) error {
			d, err := inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Apple, Identifier: "UDID-1"})
			if err != nil {
				return err
			}
			devs = append(devs, dev{ctx, d.ID})
			_, err = tx.Exec(ctx, `UPDATE devices SET last_seen_at = now() - interval '5 minutes'`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lastSeen := func(d dev) (ts time.Time) {
		t.Helper()
		if err := db.Tx(d.ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(d.ctx, `SELECT last_seen_at FROM devices WHERE id = $1`, d.id).Scan(&ts)
		}); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	before := lastSeen(devs[0])

	// Seen reads; the write waits for the flush.
	for _, d := range devs {
		if err := db.Tx(d.ctx, func(tx pgx.Tx) error {
			ok, err := inv.Seen(d.ctx, tx, inventory.Apple, "UDID-1")
			if !ok && err == nil {
				t.Error("the device is not known")
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := lastSeen(devs[0]); !got.Equal(before) {
		t.Fatalf("Seen wrote in the check-in's transaction: %s, then %s", before, got)
	}
	if n := batch.Pending(); n != 2 {
		t.Fatalf("%d pending, want 2 (one per tenant)", n)
	}
	if err := batch.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if got := lastSeen(d); time.Since(got) > time.Minute {
			t.Errorf("after the flush, last seen %s", got)
		}
	}
	if n := batch.Pending(); n != 0 {
		t.Errorf("%d pending after the flush", n)
	}

	// An older time than the row's is not written over it.
	now := lastSeen(devs[0])
	tenant, _ := tenancy.FromContext(devs[0].ctx)
	batch.Mark(tenant, devs[0].id.String(), now.Add(-time.Hour))
	if err := batch.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(devs[0]); !got.Equal(now) {
		t.Errorf("an older mark moved last seen from %s to %s", now, got)
	}

	// Just seen: Seen does not mark again.
	if err := db.Tx(devs[0].ctx, func(tx pgx.Tx) error {
		_, err := inv.Seen(devs[0].ctx, tx, inventory.Apple, "UDID-1")
		return err
	}); err != nil || batch.Pending() != 0 {
		t.Errorf("a device seen just now was marked again (%v, %d pending)", err, batch.Pending())
	}
}

// A failed write keeps the times for the next flush.
func TestFailedFlushKeepsTimes(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tenant := testenv.Tenant(t, dir).ID
	batch := lastseen.New(db, "devices", inventory.SeenUpdate)
	batch.Mark(tenant, uuid.NewString(), time.Now())
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := batch.Flush(canceled); err == nil {
		t.Fatal("a flush on a canceled context succeeded")
	}
	if n := batch.Pending(); n != 1 {
		t.Fatalf("%d pending after a failed flush, want 1", n)
	}
	if err := batch.Flush(context.Background()); err != nil || batch.Pending() != 0 {
		t.Fatalf("the next flush: %v, %d pending", err, batch.Pending())
	}
}

// Run writes what is pending when its context ends.
func TestRunFlushesAtStop(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	batch := lastseen.New(db, "devices", inventory.SeenUpdate)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { batch.Run(ctx, time.Hour, testenv.Logger(t)); close(done) }()
	batch.Mark(testenv.Tenant(t, dir).ID, uuid.NewString(), time.Now())
	stop()
	<-done
	if n := batch.Pending(); n != 0 {
		t.Errorf("%d pending after Run stopped", n)
	}
}
