package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
)

// waitFor polls the API until check holds.
func (w *world) waitFor(t *testing.T, caller, path string, check func(response) bool) response {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := w.do(t, caller, "GET", path, nil)
		if check(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got there: %d %s", path, r.status, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *world) lockCommands(t *testing.T, deviceID string) int {
	r := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices/"+deviceID+"/commands", nil)
	n := 0
	for _, it := range r.body["items"].([]any) {
		if it.(map[string]any)["kind"] == "lock" {
			n++
		}
	}
	return n
}

// A rule change re-evaluates the tenant's devices; device reports
// re-evaluate the device; remediation runs once per fall into
// non-compliance; every change is an event.
func TestCompliance(t *testing.T) {
	w := newWorld(t, api.Limits{CallerRate: 1000, CallerBurst: 1000, TenantRate: 1000, TenantBurst: 1000})
	dev := w.enroll(t, w.a, inventory.Report{Platform: inventory.Apple, Identifier: "mac-1", OSVersion: "17.0",
		Facts: map[string]any{"passcode_present": false}})[0]
	other := w.enroll(t, w.b, inventory.Report{Platform: inventory.Apple, Identifier: "mac-b", OSVersion: "17.0",
		Facts: map[string]any{"passcode_present": false}})[0]
	compliancePath := "/v1/tenants/" + w.a.Slug + "/devices/" + dev.ID.String() + "/compliance"
	stream, _ := w.openStream(t, "viewer-a", w.a.Slug, "")

	r := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/compliance/rules", map[string]any{
		"name": "Passcode", "kind": "passcode_set", "remediation": map[string]any{"command": "lock"}})
	if r.status != 201 {
		t.Fatalf("create rule: %d %s", r.status, r.raw)
	}
	ruleID := r.body["id"].(string)
	isProblem(t, w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/compliance/rules", map[string]any{
		"name": "Bad", "kind": "os_version_min", "params": map[string]any{"version": "new"}}), 422)
	// Every field the rule's own checks find wrong is named, not only the
	// first (both pass the schema: a blank name, a version that is none).
	bad := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/compliance/rules", map[string]any{
		"name": "   ", "kind": "os_version_min", "params": map[string]any{"version": "new"}})
	isProblem(t, bad, 422)
	if !strings.Contains(bad.raw, `"location":"body.name"`) || !strings.Contains(bad.raw, `"location":"body.params.version"`) {
		t.Fatalf("a rule wrong in two fields: %s", bad.raw)
	}
	// A body's platform is named in the body, not as the query parameter
	// that list-devices has by the same name.
	plat := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/compliance/rules", map[string]any{
		"name": "Plat", "kind": "passcode_set", "platform": "amiga"})
	isProblem(t, plat, 422)
	if !strings.Contains(plat.raw, `"location":"body.platform"`) {
		t.Fatalf("a rule for no platform: %s", plat.raw)
	}
	isProblem(t, w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/compliance/rules", map[string]any{
		"name": "x", "kind": "passcode_set"}), 403)

	// The rule's creation re-evaluates A's devices: non-compliant, locked once.
	w.waitFor(t, "viewer-a", compliancePath, func(r response) bool {
		res, _ := r.body["results"].([]any)
		return len(res) == 1 && r.body["compliant"] == false
	})
	w.waitFor(t, "viewer-a", "/v1/tenants/"+w.a.Slug+"/devices/"+dev.ID.String()+"/commands", func(r response) bool {
		return strings.Contains(r.raw, `"kind":"lock"`)
	})
	// The devices failing the rule, as the dashboard's drill-down lists
	// them (issue 24: the API had no such filter).
	failing := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?failing_rule="+ruleID, nil)
	if items, _ := failing.body["items"].([]any); failing.status != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != dev.ID.String() {
		t.Fatalf("devices failing the rule: %d %s", failing.status, failing.raw)
	}
	isProblem(t, w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?failing_rule=nope", nil), 422)

	// The dashboard's stream saw the rule, the result and the device turn.
	seen := map[string]bool{}
	for !(seen["compliance.rule_created"] && seen["compliance.changed"] && seen["device.compliance_changed"] && seen["command.queued"]) {
		var e struct{ Kind string }
		json.Unmarshal([]byte(next(t, stream).data), &e)
		seen[e.Kind] = true
	}

	// The device reports a passcode: compliant, no remediation.
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Apple, Identifier: "mac-1", Facts: map[string]any{"passcode_present": true}})
	w.waitFor(t, "viewer-a", compliancePath, func(r response) bool { return r.body["compliant"] == true })
	// It drops it again: non-compliant, locked a second time (a new transition).
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Apple, Identifier: "mac-1", Facts: map[string]any{"passcode_present": false}})
	w.waitFor(t, "viewer-a", compliancePath, func(r response) bool { return r.body["compliant"] == false })
	w.waitFor(t, "viewer-a", "/v1/tenants/"+w.a.Slug+"/devices/"+dev.ID.String()+"/commands", func(r response) bool {
		return strings.Count(r.raw, `"kind":"lock"`) == 2
	})
	// Re-evaluating without a change remediates nothing more.
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Apple, Identifier: "mac-1", Facts: map[string]any{"unrelated": 1}})
	time.Sleep(500 * time.Millisecond) // give a wrong extra remediation the chance to show
	if n := w.lockCommands(t, dev.ID.String()); n != 2 {
		t.Fatalf("%d lock commands; want one per transition (2)", n)
	}

	// The changes are events.
	evs := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/events?kind=device.compliance_changed", nil)
	if items, _ := evs.body["items"].([]any); len(items) != 3 {
		t.Fatalf("device.compliance_changed events: %s", evs.raw)
	}

	// Tenant B's device was never judged by A's rule.
	rb := w.do(t, "admin-b", "GET", "/v1/tenants/"+w.b.Slug+"/devices/"+other.ID.String()+"/compliance", nil)
	var b struct{ Results []any }
	json.Unmarshal([]byte(rb.raw), &b)
	if rb.status != 200 || len(b.Results) != 0 {
		t.Fatalf("tenant B's device: %s", rb.raw)
	}

	// Turning the rule off re-evaluates: no rule, compliant.
	if r := w.do(t, "admin-a", "PATCH", "/v1/tenants/"+w.a.Slug+"/compliance/rules/"+ruleID, map[string]any{"enabled": false}); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.raw)
	}
	w.waitFor(t, "viewer-a", compliancePath, func(r response) bool {
		res, _ := r.body["results"].([]any)
		return len(res) == 0 && r.body["compliant"] == true
	})
}

// A rule may name an Apple device family (issue 24); the API takes each
// family the service does and echoes it.
func TestRulesForDeviceFamilies(t *testing.T) {
	w := newWorld(t, api.Limits{})
	for _, family := range []string{"macos", "ios", "ipados", "tvos"} {
		r := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/compliance/rules", map[string]any{
			"name": "For " + family, "kind": "passcode_set", "platform": family})
		if r.status != 201 || r.body["platform"] != family {
			t.Errorf("a rule for %s: %d %s", family, r.status, r.raw)
		}
	}
}
