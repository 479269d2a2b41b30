package commands_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// List is the tenant's command history, newest first, every device's:
// filtered by status and kind, paged after a command (issue 24: no
// history of a tenant's commands).
func TestListTheTenantsCommands(t *testing.T) {
	f := setup(t)
	var ids []uuid.UUID
	f.tx(t, func(tx pgx.Tx) error {
		for i, id := range []string{"a", "b"} {
			dev, err := f.inv.Record(f.ctx, inventory.Report{Platform: inventory.Windows, Identifier: id})
			if err != nil {
				return err
			}
			for _, kind := range []string{"restart", "lock"}[:i+1] {
				c, err := f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: kind})
				if err != nil {
					return err
				}
				ids = append(ids, c.ID)
			}
		}
		return nil
	})
	f.tx(t, func(tx pgx.Tx) error { _, err := f.q.Cancel(f.ctx, ids[1]); return err })
	list := func(q commands.Query) []uuid.UUID {
		t.Helper()
		cs, err := f.q.List(f.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []uuid.UUID
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	// Made in one transaction: the same created_at, so ids break the tie.
	all := list(commands.Query{Limit: 10})
	if len(all) != 3 {
		t.Fatalf("listed %v", all)
	}
	if got := list(commands.Query{Status: commands.Canceled, Limit: 10}); len(got) != 1 || got[0] != ids[1] {
		t.Errorf("canceled: %v, want %v", got, ids[1])
	}
	if got := list(commands.Query{Kind: "restart", Limit: 10}); len(got) != 2 {
		t.Errorf("restarts: %v", got)
	}
	if got := list(commands.Query{Limit: 2, After: all[1]}); len(got) != 1 || got[0] != all[2] {
		t.Errorf("after %v: %v, want %v", all[1], got, all[2])
	}
	other := setup(t)
	if cs, err := other.q.List(other.ctx, commands.Query{Limit: 10}); err != nil || len(cs) != 0 {
		t.Errorf("another tenant's history: %v %v", cs, err)
	}
	if _, err := f.q.List(f.ctx, commands.Query{Status: "sleeping", Limit: 10}); err == nil {
		t.Error("an unknown status is taken")
	}
}
