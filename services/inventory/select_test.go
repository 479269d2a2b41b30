package inventory_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// SelectTx picks what each of its callers asks for (a bulk command's
// enrolled devices of one platform or group, a fleet's devices not
// unenrolled, an Android policy's devices not on it yet), in id order and
// in batches, and only the tenant's own.
func TestSelect(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	other := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	inv := inventory.New(db, events.NewPublisher(nil))
	rec := func(ctx context.Context, p inventory.Platform, id string, st inventory.Status, facts map[string]any) uuid.UUID {
		t.Helper()
		d, err := inv.Record(ctx, inventory.Report{Platform: p, Identifier: id, Status: st, Facts: facts})
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	mac := rec(ctx, inventory.Apple, "mac", inventory.Enrolled, nil)
	pending := rec(ctx, inventory.Apple, "pending", inventory.Pending, nil)
	gone := rec(ctx, inventory.Apple, "gone", inventory.Unenrolled, nil)
	onPolicy := rec(ctx, inventory.Android, "enterprises/e/devices/1", inventory.Enrolled, map[string]any{"policy_name": "p1"})
	offPolicy := rec(ctx, inventory.Android, "enterprises/e/devices/2", inventory.Enrolled, map[string]any{"policy_name": "p0"})
	noPolicy := rec(ctx, inventory.Android, "enterprises/e/devices/3", inventory.Enrolled, nil)
	rec(other, inventory.Apple, "someone else's", inventory.Enrolled, nil)
	g, err := inv.CreateGroup(ctx, "field")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.SetMembers(ctx, g.ID, []uuid.UUID{mac, onPolicy, offPolicy, noPolicy}, true); err != nil {
		t.Fatal(err)
	}
	sorted := func(ids ...uuid.UUID) []uuid.UUID {
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return ids
	}
	pick := func(s inventory.Selection) []uuid.UUID {
		t.Helper()
		var ids []uuid.UUID
		err := db.ReadTx(ctx, func(tx pgx.Tx) error {
			got, err := inv.SelectTx(ctx, tx, s)
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for _, c := range []struct {
		name string
		s    inventory.Selection
		want []uuid.UUID
	}{
		{"every device not unenrolled", inventory.Selection{}, sorted(mac, pending, onPolicy, offPolicy, noPolicy)},
		{"enrolled only", inventory.Selection{Enrolled: true}, sorted(mac, onPolicy, offPolicy, noPolicy)},
		{"one platform", inventory.Selection{Platform: inventory.Apple}, sorted(mac, pending)},
		{"listed devices", inventory.Selection{Devices: []uuid.UUID{pending, gone, noPolicy}}, sorted(pending, noPolicy)},
		{"a group's", inventory.Selection{Group: g.ID, Platform: inventory.Android}, sorted(onPolicy, offPolicy, noPolicy)},
		{"not on a policy yet", inventory.Selection{Group: g.ID, Platform: inventory.Android,
			Except: &inventory.Fact{Key: "policy_name", Value: "p1"}}, sorted(offPolicy, noPolicy)},
	} {
		if got := pick(c.s); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// In batches: each after the last of the one before.
	all := sorted(mac, pending, onPolicy, offPolicy, noPolicy)
	var batched []uuid.UUID
	for after := uuid.Nil; ; {
		b := pick(inventory.Selection{After: after, Limit: 2})
		batched = append(batched, b...)
		if len(b) < 2 {
			break
		}
		after = b[len(b)-1]
	}
	if !slices.Equal(batched, all) {
		t.Errorf("in batches of 2: %v, want %v", batched, all)
	}
}
