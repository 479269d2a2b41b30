package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
)

// Issue 25's whole flow through the server: an MSP with three tenants, a
// baseline of five rules assigned to two of them and applied in the
// background, one override with a reason, a local change shown as drift
// on the console, a ring promotion, and a command to many tenants
// counted, then run; bad input is refused and changes nothing.
func TestBaselinesAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	second, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-2", "Second")
	if err != nil {
		t.Fatal(err)
	}
	third, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-3", "Third")
	if err != nil {
		t.Fatal(err)
	}
	base := "/v1/msps/" + w.mspA.Slug + "/baselines"
	rule := func(name, kind string, params map[string]any) map[string]any {
		return map[string]any{"name": name, "kind": kind, "params": params}
	}
	items := []map[string]any{
		{"key": "disk", "rule": rule("Disk encrypted", "disk_encrypted", map[string]any{})},
		{"key": "passcode", "rule": rule("Passcode set", "passcode_set", map[string]any{})},
		{"key": "firewall", "rule": rule("Firewall on", "firewall_enabled", map[string]any{})},
		{"key": "seen", "rule": rule("Checked in today", "checked_in_within", map[string]any{"hours": 24})},
		{"key": "os", "rule": rule("Windows 11 24H2", "os_version_min", map[string]any{"version": "10.0.26100"})},
	}
	isProblem(t, w.do(t, "msp-admin-a", "POST", base, map[string]any{"name": "Bad", "items": []map[string]any{{"key": "x", "rule": rule("x", "nope", nil)}}}), 422)
	r := w.do(t, "msp-admin-a", "POST", base, map[string]any{"name": "Standard", "items": items})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	isProblem(t, w.do(t, "msp-admin-a", "PUT", base+"/"+id+"/assignment", map[string]any{"assigned_to": []string{"tenant:" + w.b.Slug}}), 422)
	if r := w.do(t, "msp-admin-a", "PUT", base+"/"+id+"/assignment", map[string]any{"assigned_to": []string{"tenant:" + w.a.Slug, "tenant:" + second.Slug}}); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.raw)
	}
	drift := func(tenant, who string) map[string]string {
		t.Helper()
		r := w.do(t, who, "GET", "/v1/tenants/"+tenant+"/baselines/drift", nil)
		out := map[string]string{}
		items, _ := r.body["items"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			out[m["item"].(string)] = m["state"].(string)
		}
		return out
	}
	wait := func(tenant, who string, want map[string]string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got := drift(tenant, who)
			same := len(got) == len(want)
			for k, v := range want {
				same = same && got[k] == v
			}
			if same {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's drift: %v, want %v", tenant, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	applied := map[string]string{"disk": "applied", "passcode": "applied", "firewall": "applied", "seen": "applied", "os": "applied"}
	wait(w.a.Slug, "admin-a", applied)
	wait(second.Slug, "msp-admin-a", applied)
	if got := drift(third.Slug, "msp-admin-a"); len(got) != 0 {
		t.Errorf("the unassigned tenant's drift: %v", got)
	}

	// An override with a reason; one of an item that is not there is 422.
	ov := "/v1/tenants/" + w.a.Slug + "/baselines/" + id + "/overrides/"
	isProblem(t, w.do(t, "admin-a", "PUT", ov+"nothing", map[string]any{"disabled": true, "reason": "x"}), 422)
	isProblem(t, w.do(t, "viewer-a", "PUT", ov+"firewall", map[string]any{"disabled": true, "reason": "x"}), 403)
	if r := w.do(t, "admin-a", "PUT", ov+"firewall", map[string]any{"disabled": true, "reason": "the kiosks run without a firewall profile"}); r.status != 204 {
		t.Fatalf("override: %d %s", r.status, r.raw)
	}
	want := map[string]string{"disk": "applied", "passcode": "applied", "firewall": "overridden", "seen": "applied", "os": "applied"}
	wait(w.a.Slug, "admin-a", want)
	// The override's application has run (the turned-off item's rule is
	// gone) before the local change, which it would otherwise put back.
	var rules []any
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/compliance/rules", nil)
		rules, _ = r.body["items"].([]any)
		if !strings.Contains(r.raw, `"item":"firewall"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the overridden item's rule is still there: %s", r.raw)
		}
	}

	// A local change to a baseline rule is drift.
	for _, x := range rules {
		m := x.(map[string]any)
		if b, _ := m["baseline"].(map[string]any); b != nil && b["item"] == "seen" {
			if r := w.do(t, "admin-a", "PATCH", "/v1/tenants/"+w.a.Slug+"/compliance/rules/"+m["id"].(string), map[string]any{"enabled": false}); r.status != 200 {
				t.Fatalf("a local change: %d %s", r.status, r.raw)
			}
		}
	}
	want["seen"] = "changed"
	wait(w.a.Slug, "admin-a", want)
	r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/audit?action=set-baseline-override", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 {
		t.Errorf("the override in the audit log: %s", r.raw)
	}

	// The drift is on the console (counted here at once; the worker's
	// sweep would within --console-refresh).
	if err := w.msp.Refresh(ctx, w.a); err != nil {
		t.Fatal(err)
	}
	r = w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/console", nil)
	if !strings.Contains(r.raw, `"kind":"baseline_drift"`) || !strings.Contains(r.raw, "1 changed locally") {
		t.Errorf("the console without a's drift: %s", r.raw)
	}

	// Rings: a pilot ring of the second tenant gets version 2 first; a
	// is promoted with everyone.
	isProblem(t, w.do(t, "msp-admin-a", "PUT", base+"/"+id+"/rings", map[string]any{"rings": []map[string]any{{"name": "pilot", "targets": []string{"tenant:" + second.Slug}, "soak_hours": 5000}}}), 422)
	if r := w.do(t, "msp-admin-a", "PUT", base+"/"+id+"/rings", map[string]any{"rings": []map[string]any{{"name": "pilot", "targets": []string{"tenant:" + second.Slug}, "soak_hours": 48}}}); r.status != 200 || !strings.Contains(r.raw, `"soak_hours":48`) {
		t.Fatalf("rings: %d %s", r.status, r.raw)
	}
	items[4]["rule"] = rule("Windows 11 25H2", "os_version_min", map[string]any{"version": "10.0.26200"})
	if r := w.do(t, "msp-admin-a", "PUT", base+"/"+id+"/items", map[string]any{"items": items}); r.status != 200 || r.body["version"] != 2.0 {
		t.Fatalf("version 2: %d %s", r.status, r.raw)
	}
	osVersion := func(tenant, who string) string {
		r := w.do(t, who, "GET", "/v1/tenants/"+tenant+"/compliance/rules", nil)
		rules, _ := r.body["items"].([]any)
		for _, x := range rules {
			m := x.(map[string]any)
			if b, _ := m["baseline"].(map[string]any); b != nil && b["item"] == "os" {
				return m["params"].(map[string]any)["version"].(string)
			}
		}
		return ""
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not within 15 s: %s", what)
			}
		}
	}
	waitFor("version 2 in the pilot ring", func() bool { return osVersion(second.Slug, "msp-admin-a") == "10.0.26200" })
	if v := osVersion(w.a.Slug, "admin-a"); v != "10.0.26100" {
		t.Errorf("a, in no ring, has %s before the promotion", v)
	}
	if r := w.do(t, "msp-admin-a", "POST", base+"/"+id+"/promote", map[string]any{"ring": "everyone"}); r.status != 200 || r.body["released"] != 2.0 {
		t.Fatalf("promote: %d %s", r.status, r.raw)
	}
	waitFor("version 2 for everyone", func() bool { return osVersion(w.a.Slug, "admin-a") == "10.0.26200" })

	// And a command to many tenants, counted first.
	r = w.do(t, "msp-admin-a", "POST", "/v1/msps/"+w.mspA.Slug+"/operations/dry-run", map[string]any{"command": "restart", "tenants": []string{w.a.Slug, second.Slug}})
	if r.status != 200 {
		t.Fatalf("the dry run: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "msp-admin-a", "POST", "/v1/msps/"+w.mspA.Slug+"/operations", map[string]any{"command": "restart", "tenants": []string{w.a.Slug, second.Slug}}); r.status != 202 {
		t.Fatalf("the run: %d %s", r.status, r.raw)
	}
}

// A baseline takes an Apple profile (the .mobileconfig in base64, its
// identifier and name read back) and Windows settings beside rules; a
// profile that is not one, or an item of no kind, is a 422 naming the
// field (settings a Windows device would refuse: services/msp's test,
// with the Windows checker).
func TestBaselineProfileAndSettingsAPI(t *testing.T) {
	w := newWorld(t, api.Limits{})
	base := "/v1/msps/" + w.mspA.Slug + "/baselines"
	profile := base64.StdEncoding.EncodeToString([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>PayloadContent</key><array/><key>PayloadDisplayName</key><string>Wi-Fi</string>
<key>PayloadIdentifier</key><string>com.msp.wifi</string><key>PayloadType</key><string>Configuration</string>
<key>PayloadUUID</key><string>5B7E3F34-7B1E-4C55-9A43-7D4C2C7E0001</string><key>PayloadVersion</key><integer>1</integer></dict></plist>`))
	settings := map[string]any{"name": "Lock screen", "settings": []map[string]any{{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock", "value": "5"}}}
	r := w.do(t, "msp-admin-a", "POST", base, map[string]any{"name": "Desktops", "items": []map[string]any{
		{"key": "wifi", "apple_profile": map[string]any{"profile": profile}},
		{"key": "lock", "windows_settings": settings},
	}})
	if r.status != 201 || !strings.Contains(r.raw, `"identifier":"com.msp.wifi"`) || !strings.Contains(r.raw, `"name":"Wi-Fi"`) {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	// The dry run of a next version, per tenant; nothing changes.
	var made struct{ ID string }
	_ = json.Unmarshal([]byte(r.raw), &made)
	if r := w.do(t, "msp-admin-a", "PUT", base+"/"+made.ID+"/assignment", map[string]any{"assigned_to": []string{"tenant:" + w.a.Slug}}); r.status != 200 {
		t.Fatalf("assign: %d %s", r.status, r.raw)
	}
	dry := w.do(t, "msp-admin-a", "POST", base+"/"+made.ID+"/items/dry-run", map[string]any{"items": []map[string]any{
		{"key": "wifi", "apple_profile": map[string]any{"profile": profile}},
		{"key": "disk", "rule": map[string]any{"name": "Disk", "kind": "disk_encrypted"}},
	}})
	if dry.status != 200 || !strings.Contains(dry.raw, `"tenant":"`+w.a.Slug+`"`) || !strings.Contains(dry.raw, `{"item":"disk","kind":"rule","change":"added"}`) ||
		!strings.Contains(dry.raw, `{"item":"lock","kind":"windows_settings","change":"removed"}`) {
		t.Errorf("dry run: %d %s", dry.status, dry.raw)
	}
	if r := w.do(t, "msp-admin-a", "GET", base, nil); !strings.Contains(r.raw, `"version":1`) || strings.Contains(r.raw, `"version":2`) {
		t.Errorf("the dry run changed the baseline: %s", r.raw)
	}
	// The tenant changes a setting's value; a node the item does not set,
	// or a value change to a profile, is refused.
	ov := "/v1/tenants/" + w.a.Slug + "/baselines/" + made.ID + "/overrides/"
	node := "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock"
	if r := w.do(t, "admin-a", "PUT", ov+"lock", map[string]any{"settings": map[string]string{node: "10"}, "reason": "the shop floor"}); r.status != 204 {
		t.Errorf("a settings value override: %d %s", r.status, r.raw)
	}
	isProblem(t, w.do(t, "admin-a", "PUT", ov+"lock", map[string]any{"settings": map[string]string{"./Device/Other": "1"}, "reason": "x"}), 422)
	isProblem(t, w.do(t, "admin-a", "PUT", ov+"wifi", map[string]any{"android_policy": map[string]any{"camera_disabled": true}, "reason": "x"}), 422)
	bad := w.do(t, "msp-admin-a", "POST", base, map[string]any{"name": "Bad", "items": []map[string]any{
		{"key": "wifi", "apple_profile": map[string]any{"profile": base64.StdEncoding.EncodeToString([]byte("junk"))}}}})
	isProblem(t, bad, 422)
	if !strings.Contains(bad.raw, "items[0].apple_profile.profile") {
		t.Errorf("a profile that is not one: %s", bad.raw)
	}
	isProblem(t, w.do(t, "msp-admin-a", "POST", base, map[string]any{"name": "Bad", "items": []map[string]any{{"key": "nothing"}}}), 422)
}
