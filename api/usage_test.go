package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
)

// The usage API answers the metered days: per tenant and platform for
// the MSP (and as CSV), day by day for the tenant; a month that is not
// one is a 422.
func TestUsageAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1"}, inventory.Report{Platform: inventory.Apple, Identifier: "M1"})
	tomorrow := time.Now().UTC().AddDate(0, 0, 1)
	if _, _, err := w.msp.Meter(context.Background(), w.a, tomorrow, 0); err != nil {
		t.Fatal(err)
	}
	month := time.Now().UTC().Format("2006-01")
	today := time.Now().UTC().Format(time.DateOnly)
	r := w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/usage?month="+month, nil)
	if r.status != 200 || !strings.Contains(r.raw, `"tenant":"`+w.a.Slug+`","platform":"windows","device_days":1,"enrollments":1,"unenrollments":0,"days":1`) {
		t.Fatalf("the MSP's usage: %d %s", r.status, r.raw)
	}
	r = w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/usage/export?month="+month, nil)
	if r.status != 200 || !strings.Contains(r.raw, w.a.Slug+","+today+",apple,1,1,0") {
		t.Fatalf("the CSV: %d %s", r.status, r.raw)
	}
	r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/usage?month="+month, nil)
	if r.status != 200 || !strings.Contains(r.raw, `{"day":"`+today+`","platform":"android","device_days":0,"enrollments":0,"unenrollments":0}`) {
		t.Fatalf("the tenant's usage: %d %s", r.status, r.raw)
	}
	isProblem(t, w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/usage?month=2026-13", nil), 422)
	isProblem(t, w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/usage", nil), 422)
	if r := w.do(t, "msp-admin-b", "GET", "/v1/msps/"+w.mspB.Slug+"/usage?month="+month, nil); strings.Contains(r.raw, w.a.Slug) {
		t.Errorf("another MSP's usage lists tenant a: %s", r.raw)
	}
}

// The MSP sets a tenant's device limit (audited in the tenant's log);
// the tenant reads it; bad limits are refused; another MSP cannot.
func TestDeviceLimitAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1"})
	path := "/v1/msps/" + w.mspA.Slug + "/tenants/" + w.a.Slug + "/device-limit"
	isProblem(t, w.do(t, "msp-admin-a", "PUT", path, map[string]any{"limit": -1}), 422)
	isProblem(t, w.do(t, "msp-admin-a", "PUT", path, map[string]any{}), 422)
	isProblem(t, w.do(t, "msp-admin-b", "PUT", path, map[string]any{"limit": 5}), 404)
	isProblem(t, w.do(t, "admin-a", "PUT", path, map[string]any{"limit": 500}), 404)
	if r := w.do(t, "msp-admin-a", "PUT", path, map[string]any{"limit": 1}); r.status != 200 || !strings.Contains(r.raw, `"limit":1,"enrolled":1}`) {
		t.Fatalf("set: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/device-limit", nil); r.status != 200 || !strings.Contains(r.raw, `"limit":1,"enrolled":1`) {
		t.Fatalf("read: %d %s", r.status, r.raw)
	}
	r := w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/audit?action=set-device-limit", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["access"] != "msp" {
		t.Errorf("the tenant's audit: %s", r.raw)
	}
	if r := w.do(t, "msp-admin-a", "PUT", path, map[string]any{"limit": nil}); r.status != 200 || !strings.Contains(r.raw, `"limit":null`) {
		t.Errorf("removed: %d %s", r.status, r.raw)
	}
}
