package inventory_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Seen says whether the device exists, and writes its last contact only
// when that is older than SeenPrecision.
func TestSeen(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	inv := inventory.New(db, events.NewPublisher(nil))
	lastSeen := func(tx pgx.Tx) (ts time.Time) {
		t.Helper()
		if err := tx.QueryRow(ctx, `SELECT last_seen_at FROM devices WHERE identifier = 'UDID-1'`).Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	err = db.Tx(ctx, func(tx pgx.Tx) error {
		if ok, err := inv.Seen(ctx, tx, inventory.Apple, "UDID-1"); err != nil || ok {
			t.Errorf("an unknown device: %v, %v; want false", ok, err)
		}
		if _, err := inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Apple, Identifier: "UDID-1"}); err != nil {
			return err
		}
		// Just seen: nothing is written.
		if _, err := tx.Exec(ctx, `UPDATE devices SET last_seen_at = now() - interval '10 seconds'`); err != nil {
			return err
		}
		before := lastSeen(tx)
		if ok, err := inv.Seen(ctx, tx, inventory.Apple, "UDID-1"); err != nil || !ok {
			t.Errorf("a known device: %v, %v; want true", ok, err)
		}
		if after := lastSeen(tx); !after.Equal(before) {
			t.Errorf("seen 10 s ago: last_seen_at moved from %s to %s", before, after)
		}
		// Seen a while ago: written.
		if _, err := tx.Exec(ctx, `UPDATE devices SET last_seen_at = now() - interval '5 minutes'`); err != nil {
			return err
		}
		before = lastSeen(tx)
		if ok, err := inv.Seen(ctx, tx, inventory.Apple, "UDID-1"); err != nil || !ok {
			t.Errorf("a known device: %v, %v; want true", ok, err)
		}
		if after := lastSeen(tx); after.Sub(before) < 4*time.Minute {
			t.Errorf("seen 5 min ago: last_seen_at %s, then %s", before, after)
		}
		// Another platform's identifier is another device.
		if ok, _ := inv.Seen(ctx, tx, inventory.Windows, "UDID-1"); ok {
			t.Error("a Windows device of the same identifier exists")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
