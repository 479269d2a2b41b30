package commands_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// A command is queued for one device, waits for it, and ends once: what
// an admin cancels never runs, and a command that ended cannot be
// canceled again.
func ExampleQueue() {
	ctx := context.Background()
	db, err := tenancy.Open(ctx, testenv.AppURL(), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	dir, _ := tenancy.NewDirectory(db, "trident.example")
	suffix := uuid.NewString()[:8]
	msp, _ := dir.CreateMSP(ctx, "example-"+suffix, "Example IT")
	t, _ := dir.CreateTenant(ctx, msp.ID, "acme-"+suffix, "Acme")
	ctx = tenancy.WithTenant(ctx, t.ID)

	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	q := commands.New(db, inv, pub)
	pc, err := inv.Record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: "PC-1", Name: "Reception"})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := q.Enqueue(ctx, commands.NewCommand{DeviceID: pc.ID, Kind: "restart", CreatedBy: "example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Kind, c.Status)
	c, err = q.Cancel(ctx, c.ID)
	fmt.Println(c.Status, err)
	_, err = q.Cancel(ctx, c.ID)
	fmt.Println("canceled again:", errors.Is(err, commands.ErrState))
	_, err = q.Enqueue(ctx, commands.NewCommand{DeviceID: pc.ID, Kind: "reboot_everything"})
	fmt.Println(err)
	// Output:
	// restart queued
	// canceled <nil>
	// canceled again: true
	// invalid kind: "reboot_everything" is not a command kind
}
