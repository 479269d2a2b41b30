package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
)

// A cross-tenant operation (issue 25): a dry run counts each tenant's
// devices the command would reach, nothing queued; the run starts a bulk
// command in each tenant, audited in each tenant's log, and its progress
// shows each tenant's queued commands. Bad input changes nothing: a
// tenant of another MSP, a kind that is not one, a platform the command
// lacks, a destructive command without the MSP's slug typed.
func TestMSPOperations(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	second, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-2", "Second")
	if err != nil {
		t.Fatal(err)
	}
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1"}, inventory.Report{Platform: inventory.Windows, Identifier: "W2"},
		inventory.Report{Platform: inventory.Android, Identifier: "enterprises/e/devices/A1"})
	w.enroll(t, second, inventory.Report{Platform: inventory.Windows, Identifier: "W3"})
	base := "/v1/msps/" + w.mspA.Slug + "/operations"
	r := w.do(t, "msp-admin-a", "POST", base+"/dry-run", map[string]any{"command": "restart", "platform": "windows"})
	items, _ := r.body["items"].([]any)
	if r.status != 200 || len(items) != 2 || items[0].(map[string]any)["devices"] != 2.0 || items[1].(map[string]any)["devices"] != 1.0 {
		t.Fatalf("the dry run: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/commands", nil); strings.Contains(r.raw, `"restart"`) {
		t.Errorf("the dry run queued something: %s", r.raw)
	}

	for _, bad := range []struct {
		body map[string]any
		code int
	}{
		{map[string]any{"command": "restart", "tenants": []string{w.b.Slug}}, 422},
		{map[string]any{"command": "explode"}, 422},
		{map[string]any{"command": "query_settings", "platform": "apple"}, 422},
		{map[string]any{"command": "erase", "confirm": "yes"}, 422},
	} {
		isProblem(t, w.do(t, "msp-admin-a", "POST", base, bad.body), bad.code)
	}
	if r := w.do(t, "msp-admin-a", "GET", base, nil); strings.Contains(r.raw, `"command"`) {
		t.Errorf("a refused run left an operation: %s", r.raw)
	}

	r = w.do(t, "msp-admin-a", "POST", base, map[string]any{"command": "restart", "platform": "windows"})
	parts, _ := r.body["parts"].([]any)
	if r.status != 202 || len(parts) != 2 || parts[0].(map[string]any)["bulk_id"] == nil {
		t.Fatalf("the run: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r = w.do(t, "msp-admin-a", "GET", base+"/"+id, nil)
		parts, _ = r.body["parts"].([]any)
		queued := func(i int) float64 {
			c, _ := parts[i].(map[string]any)["commands"].(map[string]any)
			n, _ := c["queued"].(float64)
			return n
		}
		if len(parts) == 2 && queued(0) == 2 && queued(1) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the operation's progress: %s", r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tn := range []string{w.a.Slug, second.Slug} {
		admin := "admin-a"
		if tn == second.Slug {
			admin = "msp-admin-a"
		}
		r := w.do(t, admin, "GET", "/v1/tenants/"+tn+"/audit?action=run-msp-operation", nil)
		if items, _ := r.body["items"].([]any); len(items) != 1 {
			t.Errorf("run-msp-operation in %s's audit log: %s", tn, r.raw)
		}
	}
	isProblem(t, w.do(t, "msp-admin-b", "GET", base+"/"+id, nil), 404)
	isProblem(t, w.do(t, "msp-admin-a", "GET", base+"/00000000-0000-4000-8000-000000000000", nil), 404)
}

// An MSP admin exports a tenant's data as a zip of JSON Lines (issue 25:
// offboarding), recorded in the tenant's audit log; another MSP's admin
// and a tenant of another MSP get a 404.
func TestExportTenant(t *testing.T) {
	w := newWorld(t, api.Limits{})
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1", Name: "Front desk"})
	if r := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/groups", map[string]any{"name": "Tills"}); r.status != 201 {
		t.Fatalf("a group: %d %s", r.status, r.raw)
	}
	path := "/v1/msps/" + w.mspA.Slug + "/tenants/" + w.a.Slug + "/export"
	r := w.do(t, "msp-admin-a", "GET", path, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("the export: %d %v", r.status, r.header)
	}
	z, err := zip.NewReader(bytes.NewReader([]byte(r.raw)), int64(len(r.raw)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range z.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	for name, want := range map[string]string{"tenant.json": w.a.Slug, "devices.jsonl": "Front desk", "groups.jsonl": `"Tills"`,
		"commands.jsonl": "", "audit.jsonl": "create-group", "webhooks.jsonl": "", "compliance_rules.jsonl": ""} {
		got, ok := files[name]
		if !ok || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want it with %q", name, got, want)
		}
	}
	r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/audit?action=export-tenant", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 {
		t.Errorf("export-tenant in the tenant's audit log: %s", r.raw)
	}
	isProblem(t, w.do(t, "msp-admin-b", "GET", path, nil), 404)
	isProblem(t, w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/tenants/"+w.b.Slug+"/export", nil), 404)
}
