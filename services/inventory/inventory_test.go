package inventory_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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

type marks map[string]time.Time

func (m marks) Mark(_ uuid.UUID, id string, t time.Time) { m[id] = t }

// A device's own request records the address it came from: when it first
// reports, and when a plain check-in comes from a new address (batched
// or not); a report without an address (a vendor's cloud posting for the
// device) keeps the one it has. A search that is an address finds the
// devices last seen at it.
func TestLastAddress(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	at := func(ip string) context.Context { return inventory.WithAddr(ctx, netip.MustParseAddr(ip)) }
	for round, inv := range []*inventory.Inventory{inventory.New(db, events.NewPublisher(nil)), inventory.New(db, events.NewPublisher(nil), inventory.BatchSeen(marks{}))} {
		id := "W-" + uuid.NewString()[:8]
		moved := fmt.Sprintf("2001:db8::%d", round+7) // each round's device its own
		addr := func() string {
			t.Helper()
			d, err := inv.List(ctx, inventory.Query{Search: id, Limit: 1})
			if err != nil || len(d.Devices) != 1 {
				t.Fatalf("the device: %+v %v", d, err)
			}
			return d.Devices[0].LastIP
		}
		if _, err := inv.Record(at("203.0.113.5"), inventory.Report{Platform: inventory.Windows, Identifier: id}); err != nil {
			t.Fatal(err)
		}
		if got := addr(); got != "203.0.113.5" {
			t.Errorf("enrolled from 203.0.113.5: %q", got)
		}
		if _, err := inv.Record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: id, Name: "Desk"}); err != nil {
			t.Fatal(err)
		}
		if got := addr(); got != "203.0.113.5" {
			t.Errorf("a report with no address: %q, want the one before", got)
		}
		for _, ip := range []string{"203.0.113.5", moved} {
			if err := db.Tx(at(ip), func(tx pgx.Tx) error { _, err := inv.Seen(at(ip), tx, inventory.Windows, id); return err }); err != nil {
				t.Fatal(err)
			}
			if got := addr(); got != ip {
				t.Errorf("checked in from %s: %q", ip, got)
			}
		}
		for _, q := range []string{moved, strings.Replace(moved, "2001:db8::", "2001:0db8:0000::", 1)} {
			p, err := inv.List(ctx, inventory.Query{Search: q, Limit: 10})
			if err != nil || len(p.Devices) != 1 || p.Devices[0].Identifier != id {
				t.Errorf("search %s: %+v %v", q, p.Devices, err)
			}
		}
	}
}
