package inventory_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Saved views are a person's, in one tenant: saving a name again
// replaces its query, another person's or tenant's are not listed and
// cannot be deleted, and bad names and queries are refused.
func TestSavedViews(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	other := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	inv := inventory.New(db, events.NewPublisher(nil))
	first, err := inv.SaveView(ctx, "ana", "Failing Macs", "compliance=noncompliant&platform=apple")
	if err != nil {
		t.Fatal(err)
	}
	again, err := inv.SaveView(ctx, "ana", "Failing Macs", "compliance=noncompliant")
	if err != nil || again.ID != first.ID || again.Query != "compliance=noncompliant" {
		t.Fatalf("saved again: %+v %v", again, err)
	}
	if _, err := inv.SaveView(ctx, "bo", "Bo's", "platform=windows"); err != nil {
		t.Fatal(err)
	}
	if _, err := inv.SaveView(other, "ana", "Elsewhere", "platform=android"); err != nil {
		t.Fatal(err)
	}
	views, err := inv.Views(ctx, "ana")
	if err != nil || len(views) != 1 || views[0].Name != "Failing Macs" {
		t.Fatalf("ana's views: %+v %v", views, err)
	}
	for _, bad := range [][2]string{{"", "q=x"}, {strings.Repeat("x", 101), "q=x"}, {"long", strings.Repeat("q", 2001)}} {
		if _, err := inv.SaveView(ctx, "ana", bad[0], bad[1]); !fault.Is(err, fault.Invalid) {
			t.Errorf("saved %q: %v", bad[0][:min(len(bad[0]), 10)], err)
		}
	}
	if err := inv.DeleteView(ctx, "bo", first.ID); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("bo deletes ana's view: %v", err)
	}
	if err := inv.DeleteView(other, "ana", first.ID); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("deleted through another tenant: %v", err)
	}
	if err := inv.DeleteView(ctx, "ana", first.ID); err != nil {
		t.Fatal(err)
	}
	if views, _ := inv.Views(ctx, "ana"); len(views) != 0 {
		t.Errorf("after the delete: %+v", views)
	}
}
