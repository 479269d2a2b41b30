package api_test

import (
	"testing"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
)

// The reports count a tenant's own enrolled devices, by family and value,
// and its enrollments by week; a bad "by" is a 422 naming the field.
func TestReportsAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	w.enroll(t, w.a,
		inventory.Report{Platform: inventory.Apple, Identifier: "P1", Model: "iPhone15,2", OSVersion: "17.4"},
		inventory.Report{Platform: inventory.Apple, Identifier: "P2", Model: "iPhone15,2", OSVersion: "17.4"},
		inventory.Report{Platform: inventory.Apple, Identifier: "M1", Model: "Mac14,2", OSVersion: "17.4"})
	w.enroll(t, w.b, inventory.Report{Platform: inventory.Apple, Identifier: "B1", Model: "iPhone15,2", OSVersion: "17.4"})
	base := "/v1/tenants/" + w.a.Slug + "/reports"
	r := w.do(t, "viewer-a", "GET", base+"/devices?by=os_version", nil)
	items, _ := r.body["items"].([]any)
	if r.status != 200 || len(items) != 2 {
		t.Fatalf("by OS version: %d %s", r.status, r.raw)
	}
	first := items[0].(map[string]any)
	if first["family"] != "ios" || first["value"] != "17.4" || first["devices"] != 2.0 {
		t.Errorf("the largest group: %v, want the two iPhones on 17.4 (not the Mac's 17.4)", first)
	}
	r = w.do(t, "viewer-a", "GET", base+"/devices?by=model&limit=1", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["value"] != "iPhone15,2" {
		t.Errorf("by model, the largest: %s", r.raw)
	}
	isProblem(t, w.do(t, "viewer-a", "GET", base+"/devices?by=name", nil), 422)
	r = w.do(t, "viewer-a", "GET", base+"/enrollments?weeks=3", nil)
	if items, _ := r.body["items"].([]any); r.status != 200 || len(items) != 3 || items[2].(map[string]any)["devices"] != 3.0 {
		t.Errorf("enrollments by week: %d %s", r.status, r.raw)
	}
	isProblem(t, w.do(t, "admin-b", "GET", base+"/devices", nil), 404)
}
