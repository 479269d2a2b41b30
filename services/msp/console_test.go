package msp_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The console adds up its own MSP's tenants and ranks their items, never
// another MSP's; a tenant not counted yet is pending; a tenant's rollup is
// stale after its next event; and a rollup cannot be filed under another
// MSP than its tenant's.
func TestConsole(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a1 := testenv.Tenant(t, dir)
	a2, err := dir.CreateTenant(ctx, a1.MSPID, "a2-"+uuid.NewString()[:6], "Second of A")
	if err != nil {
		t.Fatal(err)
	}
	a3, err := dir.CreateTenant(ctx, a1.MSPID, "a3-"+uuid.NewString()[:6], "Third of A")
	if err != nil {
		t.Fatal(err)
	}
	b1 := testenv.Tenant(t, dir) // another MSP's
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	record := func(tn tenancy.Tenant, silent int, reports ...inventory.Report) {
		t.Helper()
		tctx := tenancy.WithTenant(ctx, tn.ID)
		if err := db.Tx(tctx, func(tx pgx.Tx) error {
			for _, r := range reports {
				if _, err := inv.RecordTx(tctx, tx, r); err != nil {
					return err
				}
			}
			_, err := tx.Exec(tctx, `UPDATE devices SET last_seen_at = now() - interval '20 days'
WHERE id IN (SELECT id FROM devices ORDER BY identifier LIMIT $1)`, silent)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	win := func(id string) inventory.Report { return inventory.Report{Platform: inventory.Windows, Identifier: id} }
	record(a1, 2, win("W1"), win("W2"), win("W3"))
	record(a2, 0, inventory.Report{Platform: inventory.Apple, Identifier: "M1", Model: "Mac14,2"})
	record(b1, 5, win("B1"), win("B2"), win("B3"), win("B4"), win("B5"))
	if _, err := dir.AddHostname(ctx, a2.ID, "mdm-"+uuid.NewString()[:6]+".example.com"); err != nil {
		t.Fatal(err)
	}

	evs := events.NewStore(db)
	s := msp.New(db, dir, inv, nil, evs, attention.New(attention.Sources{Inventory: inv, Directory: dir}, time.Now))
	for _, tn := range []tenancy.Tenant{a1, a2, b1} {
		if err := s.Refresh(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Refresh(ctx, a1); err != nil { // again: the same one row
		t.Fatal(err)
	}
	c, err := s.Console(ctx, a1.MSPID, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Totals.Devices != 4 || c.Totals.ByPlatform[inventory.Windows] != 3 || c.Totals.ByPlatform[inventory.Apple] != 1 || len(c.Tenants) != 2 {
		t.Errorf("MSP A's totals: %+v over %d tenants; want its 4 devices over 2", c.Totals, len(c.Tenants))
	}
	if len(c.Pending) != 1 || c.Pending[0].ID != a3.ID {
		t.Errorf("pending: %v, want the third tenant", c.Pending)
	}
	// Ranked: the silent devices (a warning) before the hostname (a notice).
	if len(c.Attention) != 2 || c.Attention[0].Kind != attention.SilentDevices || c.Attention[0].Count != 2 || c.Attention[0].Tenant.ID != a1.ID ||
		c.Attention[1].Kind != attention.PendingHostname || c.Attention[1].Tenant.ID != a2.ID {
		t.Errorf("MSP A's attention: %+v", c.Attention)
	}
	other, err := s.Console(ctx, b1.MSPID, "")
	if err != nil {
		t.Fatal(err)
	}
	if other.Totals.Devices != 5 || len(other.Tenants) != 1 || other.Tenants[0].Tenant.ID != b1.ID {
		t.Errorf("MSP B's console: %+v", other)
	}

	if stale, err := s.Stale(ctx, a1); err != nil || stale {
		t.Errorf("just refreshed: stale %v, %v", stale, err)
	}
	tctx := tenancy.WithTenant(ctx, a1.ID)
	if err := db.Tx(tctx, func(tx pgx.Tx) error {
		_, err := pub.Publish(tctx, tx, events.TenantUpdated, a1.ID.String(), events.TenantPayload(a1))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if stale, err := s.Stale(ctx, a1); err != nil || !stale {
		t.Errorf("after an event: stale %v, %v", stale, err)
	}
	if stale, err := s.Stale(ctx, a3); err != nil || !stale {
		t.Errorf("never counted: stale %v, %v", stale, err)
	}

	err = db.Tx(tctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(tctx, `UPDATE tenant_rollups SET msp_id = $1`, b1.MSPID)
		return err
	})
	if err == nil {
		t.Error("a tenant's rollup was filed under another MSP")
	}
}

// Search finds a device by name, serial or identifier in each of the
// given tenants, in their order, a page at a time, and nothing in a
// tenant it was not given.
func TestSearch(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a := testenv.Tenant(t, dir)
	b, err := dir.CreateTenant(ctx, a.MSPID, "b-"+uuid.NewString()[:6], "B")
	if err != nil {
		t.Fatal(err)
	}
	other := testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	for _, c := range []struct {
		tn tenancy.Tenant
		r  inventory.Report
	}{
		{a, inventory.Report{Platform: inventory.Apple, Identifier: "UDID-A1", Name: "Reception iPad", SerialNumber: "F9XK1"}},
		{a, inventory.Report{Platform: inventory.Windows, Identifier: "W-A2", Name: "Reception PC"}},
		{b, inventory.Report{Platform: inventory.Windows, Identifier: "W-B1", Name: "Reception desk"}},
		{other, inventory.Report{Platform: inventory.Windows, Identifier: "W-O1", Name: "Reception elsewhere"}},
	} {
		tctx := tenancy.WithTenant(ctx, c.tn.ID)
		if err := db.Tx(tctx, func(tx pgx.Tx) error { _, err := inv.RecordTx(tctx, tx, c.r); return err }); err != nil {
			t.Fatal(err)
		}
	}
	s := msp.New(db, dir, inv, nil, events.NewStore(db), nil)
	mine := []tenancy.Tenant{a, b}
	page, err := s.Search(ctx, mine, "recep", 3, msp.After{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].Device.Name != "Reception iPad" || page[2].Tenant.ID != b.ID {
		t.Fatalf("the first page: %+v", page)
	}
	next, err := s.Search(ctx, mine, "recep", 3, msp.After{Tenant: page[1].Tenant.Slug, Key: page[1].Key, ID: page[1].Device.ID})
	if err != nil || len(next) != 1 || next[0].Device.Name != "Reception desk" {
		t.Fatalf("after the second: %+v %v", next, err)
	}
	for _, q := range []string{"F9XK", "UDID-A1"} {
		if got, _ := s.Search(ctx, mine, q, 10, msp.After{}); len(got) != 1 || got[0].Device.Identifier != "UDID-A1" {
			t.Errorf("by %s: %+v", q, got)
		}
	}
	if got, _ := s.Search(ctx, mine, "elsewhere", 10, msp.After{}); len(got) != 0 {
		t.Errorf("found a device of a tenant not searched: %+v", got)
	}
}
