package inventory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// The reports count enrolled devices only, of the tenant only, the largest
// groups first; the weeks go back as far as asked with empty weeks kept.
func TestReports(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	record := func(tn tenancy.Tenant, reports ...inventory.Report) {
		t.Helper()
		ctx := tenancy.WithTenant(context.Background(), tn.ID)
		if err := db.Tx(ctx, func(tx pgx.Tx) error {
			for _, r := range reports {
				if _, err := inv.RecordTx(ctx, tx, r); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	record(a,
		inventory.Report{Platform: inventory.Windows, Identifier: "W1", OSVersion: "10.0.26100", Model: "Surface Pro"},
		inventory.Report{Platform: inventory.Windows, Identifier: "W2", OSVersion: "10.0.26100", Model: "Surface Pro"},
		inventory.Report{Platform: inventory.Windows, Identifier: "W3", OSVersion: "10.0.22631", Model: "Latitude"},
		inventory.Report{Platform: inventory.Apple, Identifier: "M1", OSVersion: "15.1", Model: "Mac14,2"},
		inventory.Report{Platform: inventory.Apple, Identifier: "P1", OSVersion: "15.1", Model: "iPhone8,1"}, // an iPhone's 15.1 is not a Mac's
		inventory.Report{Platform: inventory.Windows, Identifier: "GONE", OSVersion: "10.0.19045", Status: inventory.Unenrolled})
	record(b, inventory.Report{Platform: inventory.Windows, Identifier: "B1", OSVersion: "10.0.26100"})
	ctx := tenancy.WithTenant(context.Background(), a.ID)

	got, err := inv.CountBy(ctx, inventory.ByOSVersion, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Count{{Platform: inventory.Windows, Family: inventory.WindowsFamily, Value: "10.0.26100", Devices: 2},
		{Platform: inventory.Apple, Family: inventory.IOS, Value: "15.1", Devices: 1}, {Platform: inventory.Apple, Family: inventory.MacOS, Value: "15.1", Devices: 1},
		{Platform: inventory.Windows, Family: inventory.WindowsFamily, Value: "10.0.22631", Devices: 1}}
	if !slices.Equal(got, want) {
		t.Errorf("by OS version: %v, want %v", got, want)
	}
	if got, _ := inv.CountBy(ctx, inventory.ByModel, 1); len(got) != 1 || got[0].Value != "Surface Pro" {
		t.Errorf("by model, the largest: %v", got)
	}
	if _, err := inv.CountBy(ctx, "name; DROP TABLE devices", 10); err == nil {
		t.Error("counted by a property that is not one")
	}

	weeks, err := inv.EnrolledByWeek(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(weeks) != 4 || weeks[3].Devices != 5 || weeks[0].Devices != 0 || weeks[3].Start.Weekday() != time.Monday ||
		!weeks[3].Start.Add(7*24*time.Hour).After(time.Now()) {
		t.Errorf("enrolled by week: %v; want four weeks, this one (from Monday) with the 5 enrolled now", weeks)
	}
}

// A device's user is searched like its name; SetUser names the user of a
// device Trident has and makes no device it does not have.
func TestUser(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	inv := inventory.New(db, events.NewPublisher(nil))
	if _, err := inv.Record(ctx, inventory.Report{Platform: inventory.Apple, Identifier: "MAC-1", Name: "Studio Mac"}); err != nil {
		t.Fatal(err)
	}
	if err := inv.SetUser(ctx, inventory.Apple, "MAC-1", "Ana Lima (ana)"); err != nil {
		t.Fatal(err)
	}
	if err := inv.SetUser(ctx, inventory.Apple, "NO-SUCH-MAC", "Bo"); err != nil {
		t.Fatal(err)
	}
	p, err := inv.List(ctx, inventory.Query{Search: "lima", Limit: 10})
	if err != nil || len(p.Devices) != 1 || p.Devices[0].User() != "Ana Lima (ana)" {
		t.Fatalf("by user: %+v %v", p.Devices, err)
	}
	if n, _ := inv.Count(ctx, inventory.Query{}); n != 1 {
		t.Errorf("%d devices; SetUser made one for a device Trident did not have", n)
	}
}
