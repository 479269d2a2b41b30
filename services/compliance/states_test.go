package compliance_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// States says, per device asked for, whether it complies: for the device
// list's compliance column. A device no rule was evaluated for is absent,
// and so is another tenant's.
func TestStates(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	other := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	c := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	record := func(ctx context.Context, r inventory.Report) inventory.Device {
		var d inventory.Device
		if err := db.Tx(ctx, func(tx pgx.Tx) (err error) { d, err = inv.RecordTx(ctx, tx, r); return err }); err != nil {
			t.Fatal(err)
		}
		return d
	}
	current := record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: "new", OSVersion: "10.0.26100", Status: inventory.Enrolled})
	old := record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: "old", OSVersion: "10.0.19045", Status: inventory.Enrolled})
	none := record(ctx, inventory.Report{Platform: inventory.Android, Identifier: "phone", OSVersion: "14", Status: inventory.Enrolled})
	foreign := record(other, inventory.Report{Platform: inventory.Windows, Identifier: "theirs", OSVersion: "10.0.19045", Status: inventory.Enrolled})
	if _, err := c.Create(ctx, compliance.Rule{Name: "24H2", Platform: inventory.Windows, Kind: compliance.OSVersionMin,
		Params: compliance.Params{Version: "10.0.26100"}, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []inventory.Device{current, old, none} {
		if _, err := c.Evaluate(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.States(ctx, []uuid.UUID{current.ID, old.ID, none.ID, foreign.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]string{current.ID: "compliant", old.ID: "noncompliant"}
	if len(got) != len(want) || got[current.ID] != want[current.ID] || got[old.ID] != want[old.ID] {
		t.Errorf("states %v; want %v", got, want)
	}
}
