package msp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/api/option"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/commands"
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

// The console's queue has what failed: an MSP operation that did not
// start in a tenant (linking to the operation), bulk commands that ended
// in error in the last day (to the tenant's errored commands), and
// Google's recent quota answers.
func TestConsoleShowsFailures(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	tctx := tenancy.WithTenant(ctx, tn.ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	cmds := commands.New(db, inv, pub)
	droid, err := android.New(ctx, db, pub, nil, inv, cmds, android.Options{Project: "p", Topic: "projects/p/topics/t",
		Client: []option.ClientOption{option.WithEndpoint("http://127.0.0.1:1/"), option.WithoutAuthentication()}})
	if err != nil {
		t.Fatal(err)
	}
	s := msp.New(db, dir, inv, nil, events.NewStore(db), attention.New(attention.Sources{Inventory: inv, Bulks: cmds, Android: droid}, time.Now))
	kinds := func() map[string]attention.Item {
		t.Helper()
		if err := s.Refresh(ctx, tn); err != nil {
			t.Fatal(err)
		}
		c, err := s.Console(ctx, tn.MSPID, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]attention.Item{}
		for _, it := range c.Attention {
			out[it.Kind] = it.Item
		}
		return out
	}
	if got := kinds(); len(got) != 0 {
		t.Fatalf("a quiet tenant's queue: %v", got)
	}

	op, err := s.CreateOperation(ctx, tn.MSPID, "restart", "", "mo")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailPart(ctx, op, tn, "the tenant is suspended"); err != nil {
		t.Fatal(err)
	}
	var dev inventory.Device
	bulk := uuid.New()
	if err := db.Tx(tctx, func(tx pgx.Tx) error {
		var err error
		if dev, err = inv.RecordTx(tctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "W-fail"}); err != nil {
			return err
		}
		for i := range 3 {
			c, err := cmds.EnqueueTx(tctx, tx, commands.NewCommand{DeviceID: dev.ID, Kind: "restart", CreatedBy: "bulk:" + bulk.String() + ":mo"})
			if err != nil {
				return err
			}
			if i < 2 { // two end in error; one is still queued
				if _, err := tx.Exec(tctx, `UPDATE commands SET status = 'error' WHERE id = $1`, c.ID); err != nil {
					return err
				}
			}
		}
		// One person's own command that failed is not a bulk's.
		c, err := cmds.EnqueueTx(tctx, tx, commands.NewCommand{DeviceID: dev.ID, Kind: "lock", CreatedBy: "mo"})
		if err != nil {
			return err
		}
		_, err = tx.Exec(tctx, `UPDATE commands SET status = 'error' WHERE id = $1`, c.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.Superuser(t).Exec(ctx, `INSERT INTO android_enterprises (tenant_id, status, name, quota_at) VALUES ($1, 'bound', 'enterprises/e1', now())`, tn.ID); err != nil {
		t.Fatal(err)
	}
	got := kinds()
	if it, ok := got[msp.FailedOperation]; !ok || it.Count != 1 || it.Href(tn.Slug) != "/dashboard/msps/"+tn.MSPSlug+"/operations/"+op.ID.String() ||
		!strings.Contains(it.Text, "the tenant is suspended") {
		t.Errorf("the operation that did not start: %+v", it)
	}
	if it, ok := got[attention.FailedBulk]; !ok || it.Count != 2 || it.Href(tn.Slug) != "/dashboard/t/"+tn.Slug+"/commands?status=error" ||
		!strings.Contains(it.Text, "restart: 2") {
		t.Errorf("the failed bulk command: %+v", it)
	}
	if it, ok := got[attention.AndroidQuota]; !ok || it.Severity != attention.Warning {
		t.Errorf("Google's quota answer: %+v", it)
	}
	// An hour on, the quota answer is old news; a day on, so are the errors.
	if _, err := testenv.Superuser(t).Exec(ctx, `UPDATE android_enterprises SET quota_at = now() - interval '2 hours' WHERE tenant_id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.Superuser(t).Exec(ctx, `UPDATE commands SET created_at = now() - interval '25 hours' WHERE tenant_id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	got = kinds()
	if _, ok := got[attention.AndroidQuota]; ok {
		t.Error("a quota answer two hours old is still on the console")
	}
	if _, ok := got[attention.FailedBulk]; ok {
		t.Error("bulk errors older than a day are still on the console")
	}
}
