package compliance_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Snapshot counts enrolled devices by compliance and recent check-in, a
// second snapshot in the same hour replaces the first, history reads the
// points back oldest first, and points past the retention are dropped.
func TestSnapshotHistory(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	c := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	now := time.Now()
	tx := func(f func(tx pgx.Tx) error) {
		t.Helper()
		if err := db.Tx(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(tx pgx.Tx) error {
		// Four enrolled devices: two encrypted, one not, one never
		// evaluated; two seen within the hour; and one unenrolled, which
		// counts nowhere.
		_, err := tx.Exec(ctx, `INSERT INTO devices (id, platform, identifier, status, last_seen_at, facts) VALUES
 (gen_random_uuid(), 'apple', 'a', 'enrolled', now() - interval '5 minutes', '{"disk_encrypted": true}'),
 (gen_random_uuid(), 'apple', 'b', 'enrolled', now() - interval '3 hours', '{"disk_encrypted": true}'),
 (gen_random_uuid(), 'apple', 'c', 'enrolled', now() - interval '50 minutes', '{"disk_encrypted": false}'),
 (gen_random_uuid(), 'apple', 'd', 'enrolled', NULL, '{}'),
 (gen_random_uuid(), 'apple', 'e', 'unenrolled', now(), '{"disk_encrypted": false}')`)
		return err
	})
	if _, err := c.Create(ctx, compliance.Rule{Name: "Encryption", Kind: compliance.DiskEncrypted, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		var d inventory.Device
		tx(func(tx pgx.Tx) (err error) { d, err = inv.ByIdentifier(ctx, tx, inventory.Apple, id); return err })
		if _, err := c.Evaluate(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(tx pgx.Tx) error {
		// An old point, past the retention.
		_, err := tx.Exec(ctx, `INSERT INTO fleet_history (hour, enrolled, compliant, non_compliant, checked_in)
VALUES (date_trunc('hour', now() - interval '91 days'), 1, 1, 0, 1)`)
		return err
	})
	first, err := c.Snapshot(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := compliance.Point{Hour: now.UTC().Truncate(time.Hour), Enrolled: 4, Compliant: 2, NonCompliant: 1, CheckedIn: 2}
	if first != want {
		t.Errorf("Snapshot = %+v; want %+v", first, want)
	}
	if r, ok := first.Rate(); !ok || r != 66 {
		t.Errorf("Rate = %d, %v; want 66, true", r, ok)
	}
	tx(func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE devices SET status = 'unenrolled' WHERE identifier = 'c'`)
		return err
	})
	second, err := c.Snapshot(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	history, err := c.History(ctx, now.Add(-100*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 1 || history[0] != second || second.Enrolled != 3 || second.NonCompliant != 0 {
		t.Errorf("history = %+v after a second snapshot %+v; want just the second, with 3 enrolled, none failing", history, second)
	}
	if _, ok := (compliance.Point{Enrolled: 2}).Rate(); ok {
		t.Error("a point with nothing evaluated has a rate")
	}
}
