package api_test

import (
	"context"
	"testing"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
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

// An MSP admin finds a device in any tenant of the MSP, a page at a time;
// nothing of another MSP's tenants; a query of one letter is refused.
func TestSearchAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	second, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-2", "Second")
	if err != nil {
		t.Fatal(err)
	}
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1", Name: "Front desk"})
	w.enroll(t, second, inventory.Report{Platform: inventory.Windows, Identifier: "W2", Name: "Front door"})
	w.enroll(t, w.b, inventory.Report{Platform: inventory.Windows, Identifier: "W3", Name: "Front of another MSP"})
	path := "/v1/msps/" + w.mspA.Slug + "/devices?limit=1&q=front"
	r := w.do(t, "msp-admin-a", "GET", path, nil)
	items, _ := r.body["items"].([]any)
	next, _ := r.body["next_cursor"].(string)
	if r.status != 200 || len(items) != 1 || items[0].(map[string]any)["tenant"] != w.a.Slug || next == "" {
		t.Fatalf("the first page: %d %s", r.status, r.raw)
	}
	r = w.do(t, "msp-admin-a", "GET", path+"&cursor="+next, nil)
	items, _ = r.body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["tenant"] != second.Slug || r.body["next_cursor"] != nil {
		t.Fatalf("the second page: %s", r.raw)
	}
	isProblem(t, w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/devices?q=f", nil), 422)
}

// An MSP admin tags the MSP's tenants and narrows the console to a tag;
// a bad tag is a 422 that changes nothing; a tenant of another MSP is a
// 404; the change is in the tenant's audit log.
func TestTenantTagsAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	second, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-2", "Second")
	if err != nil {
		t.Fatal(err)
	}
	s := msp.New(w.db, w.dir, w.inv, w.comp, events.NewStore(w.db), nil)
	for _, tn := range []tenancy.Tenant{w.a, second} {
		if err := s.Refresh(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	tags := func(tenant string) string { return "/v1/msps/" + w.mspA.Slug + "/tenants/" + tenant + "/tags" }
	applications := func() (n int) {
		t.Helper()
		if err := testenv.Superuser(t).QueryRow(ctx, `SELECT count(*) FROM `+migrations.RiverSchema+`.river_job
WHERE kind = 'msp.apply_baselines' AND unique_key IS NULL AND args->>'tenant_id' = $1`, w.a.ID.String()).Scan(&n); err != nil { // not the sweep's (unique per period)
			t.Fatal(err)
		}
		return n
	}
	before := applications()
	r := w.do(t, "msp-admin-a", "PUT", tags(w.a.Slug), map[string]any{"tags": []string{"region:eu", "plan:gold", "region:eu"}})
	if got, _ := r.body["tags"].([]any); r.status != 200 || len(got) != 2 || got[0] != "plan:gold" {
		t.Fatalf("set tags: %d %s", r.status, r.raw)
	}
	if n := applications(); n != before+1 {
		t.Errorf("baseline applications queued for the tagged tenant: %d, want %d (baselines may be assigned by tag)", n, before+1)
	}
	isProblem(t, w.do(t, "msp-admin-a", "PUT", tags(w.a.Slug), map[string]any{"tags": []string{"Region EU"}}), 422)
	isProblem(t, w.do(t, "msp-admin-a", "PUT", tags(w.b.Slug), map[string]any{"tags": []string{"x"}}), 404)
	r = w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/console?tag=region:eu", nil)
	tenants, _ := r.body["tenants"].([]any)
	all, _ := r.body["tags"].([]any)
	if len(tenants) != 1 || tenants[0].(map[string]any)["slug"] != w.a.Slug || len(all) != 2 {
		t.Errorf("the console narrowed to region:eu: %s", r.raw)
	}
	r = w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/console", nil)
	if tenants, _ := r.body["tenants"].([]any); len(tenants) != 2 {
		t.Errorf("the whole console: %s", r.raw)
	}
	r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/audit?action=set-tenant-tags", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 {
		t.Errorf("set-tenant-tags in the tenant's audit log: %s", r.raw)
	}
}
