package api_test

import (
	"context"
	"testing"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
)

// The console (issue 25) answers an MSP admin with its tenants' figures
// and a tenant not counted yet as pending; another MSP's admin and a
// tenant admin get nothing of it (the authorization matrix covers every
// caller).
func TestConsoleAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1"}, inventory.Report{Platform: inventory.Apple, Identifier: "M1"})
	more, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-new", "Just made")
	if err != nil {
		t.Fatal(err)
	}
	if err := msp.New(w.db, w.dir, w.inv, w.comp, events.NewStore(w.db), nil).Refresh(ctx, w.a); err != nil {
		t.Fatal(err)
	}
	path := "/v1/msps/" + w.mspA.Slug + "/console"
	r := w.do(t, "msp-admin-a", "GET", path, nil)
	if r.status != 200 {
		t.Fatalf("the console: %d %s", r.status, r.raw)
	}
	totals, _ := r.body["totals"].(map[string]any)
	tenants, _ := r.body["tenants"].([]any)
	pending, _ := r.body["pending"].([]any)
	if totals["devices"] != 2.0 || len(tenants) != 1 || tenants[0].(map[string]any)["slug"] != w.a.Slug ||
		len(pending) != 1 || pending[0] != more.Slug {
		t.Errorf("the console: %s", r.raw)
	}
	isProblem(t, w.do(t, "msp-admin-b", "GET", path, nil), 404)
	isProblem(t, w.do(t, "admin-a", "GET", path, nil), 404)
}
