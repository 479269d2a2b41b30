package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
)

// TestMSPPowersFollowTheTenantsSetting: once a tenant asks its MSP for
// grants, the MSP's operations on it (a cross-tenant command's part, an
// export of its data) need a grant too, and the tenant's audit log says
// which access each used; its other tenants go on as before.
func TestMSPPowersFollowTheTenantsSetting(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	second, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-2", "Second")
	if err != nil {
		t.Fatal(err)
	}
	w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W1"})
	w.enroll(t, second, inventory.Report{Platform: inventory.Windows, Identifier: "W2"})
	if r := w.do(t, "admin-a", "PUT", "/v1/tenants/"+w.a.Slug+"/msp-access", map[string]any{"msp_access": "approval"}); r.status != 200 {
		t.Fatalf("the setting: %d %s", r.status, r.raw)
	}
	export := "/v1/msps/" + w.mspA.Slug + "/tenants/" + w.a.Slug + "/export"
	if r := w.do(t, "msp-admin-a", "GET", export, nil); r.status != 403 || !strings.Contains(r.detail(), "grant") {
		t.Errorf("the export without a grant: %d %s", r.status, r.raw)
	}
	r := w.do(t, "msp-admin-a", "POST", "/v1/msps/"+w.mspA.Slug+"/operations", map[string]any{"command": "restart", "platform": "windows"})
	parts, _ := r.body["parts"].([]any)
	if r.status != 202 || len(parts) != 2 {
		t.Fatalf("the run: %d %s", r.status, r.raw)
	}
	matched := 0
	for _, p := range parts {
		p := p.(map[string]any)
		problem, _ := p["problem"].(string)
		matched++
		switch p["tenant"] {
		default:
			matched--
		case w.a.Slug:
			if !strings.Contains(problem, "asks its MSP for a grant") || p["bulk_id"] != nil {
				t.Errorf("the part in the tenant that asks for grants: %v", p)
			}
		case second.Slug:
			if problem != "" || p["bulk_id"] == nil {
				t.Errorf("the part in the standing tenant: %v", p)
			}
		}
	}
	if matched != 2 {
		t.Fatalf("parts of neither tenant: %s", r.raw)
	}
	if r := w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/commands", nil); strings.Contains(r.raw, `"restart"`) {
		t.Errorf("the refused part queued commands: %s", r.raw)
	}
	// The MSP admin takes a grant (break-glass: at once) and exports; the
	// entry names it.
	g := w.do(t, "msp-admin-a", "POST", "/v1/msps/"+w.mspA.Slug+"/tenants/"+w.a.Slug+"/access-grants",
		map[string]any{"role": "admin", "reason": "offboarding, ticket 12", "hours": 1, "break_glass": true})
	if g.status != 201 {
		t.Fatalf("break-glass: %d %s", g.status, g.raw)
	}
	if r := w.do(t, "msp-admin-a", "GET", export, nil); r.status != 200 {
		t.Fatalf("the export with a grant: %d %s", r.status, r.raw)
	}
	r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/audit?msp=true", nil)
	items, _ := r.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("the MSP's actions: %s", r.raw)
	}
	want := map[string]string{"export-tenant": "break_glass", "request-access-grant": "msp"}
	for _, it := range items {
		e := it.(map[string]any)
		if want[e["action"].(string)] != e["access"] {
			t.Errorf("%s recorded with access %v", e["action"], e["access"])
		}
		if e["action"] == "export-tenant" && e["grant_id"] != g.body["id"] {
			t.Errorf("the export's grant: %v, want %v", e["grant_id"], g.body["id"])
		}
	}
	r = w.do(t, "admin-a", "GET", "/v1/tenants/"+w.a.Slug+"/audit?action=set-msp-access", nil)
	if items, _ := r.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["access"] != "tenant" {
		t.Errorf("the tenant's own change: %s", r.raw)
	}
	// Suspending is the MSP's, grant or not.
	status := "/v1/msps/" + w.mspA.Slug + "/tenants/" + w.a.Slug + "/status"
	for _, st := range []string{"suspended", "active"} {
		if r := w.do(t, "msp-admin-a", "PUT", status, map[string]any{"status": st}); r.status != 200 || r.body["status"] != st {
			t.Errorf("set-tenant-status %s: %d %s", st, r.status, r.raw)
		}
	}
	isProblem(t, w.do(t, "msp-admin-b", "PUT", status, map[string]any{"status": "suspended"}), 404)
}

// A live stream opened through a grant ends within a heartbeat of the
// grant's revocation; one opened with the tenant's own role goes on.
func TestStreamEndsWithTheGrant(t *testing.T) {
	w := newWorld(t, api.Limits{Heartbeat: 100 * time.Millisecond})
	g := w.do(t, "tech-a", "POST", "/v1/msps/"+w.mspA.Slug+"/tenants/"+w.a.Slug+"/access-grants",
		map[string]any{"role": "viewer", "reason": "watching an incident", "hours": 1})
	if g.status != 201 || g.body["status"] != "active" { // tenant a allows standing access: active on request
		t.Fatalf("the grant: %d %s", g.status, g.raw)
	}
	tech, resp := w.openStream(t, "tech-a", w.a.Slug, "")
	if resp.StatusCode != 200 {
		t.Fatalf("the technician's stream: %d", resp.StatusCode)
	}
	own, _ := w.openStream(t, "viewer-a", w.a.Slug, "")
	if r := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/access-grants/"+g.body["id"].(string)+"/revoke", nil); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	ended := time.After(5 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-tech:
		case <-ended:
			t.Fatal("the technician's stream is still open 5 s after the grant was revoked")
		}
	}
	select {
	case _, ok := <-own:
		if !ok {
			t.Error("the tenant's own viewer's stream ended too")
		}
	case <-time.After(time.Second):
		t.Error("the tenant's own viewer's stream went quiet")
	}
}

// A grant scoped to device groups covers the operations on one device of
// them, at the API's edge: a device outside them, and the whole tenant's
// lists, are refused saying why.
func TestGroupScopedGrantAtTheEdge(t *testing.T) {
	w := newWorld(t, api.Limits{})
	devs := w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "IN"}, inventory.Report{Platform: inventory.Windows, Identifier: "OUT"})
	tp := "/v1/tenants/" + w.a.Slug
	g := w.do(t, "admin-a", "POST", tp+"/groups", map[string]any{"name": "Tills"})
	if g.status != 201 {
		t.Fatalf("group: %d %s", g.status, g.raw)
	}
	if r := w.do(t, "admin-a", "POST", tp+"/groups/"+g.body["id"].(string)+"/members", map[string]any{"add": []string{devs[0].ID.String()}}); r.status != 200 {
		t.Fatalf("members: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "tech-a", "POST", "/v1/msps/"+w.mspA.Slug+"/tenants/"+w.a.Slug+"/access-grants",
		map[string]any{"role": "operator", "groups": []string{"Tills"}, "reason": "the tills", "hours": 1}); r.status != 201 {
		t.Fatalf("the grant: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "tech-a", "GET", tp+"/devices/"+devs[0].ID.String(), nil); r.status != 200 {
		t.Errorf("a device of the group: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "tech-a", "POST", tp+"/devices/"+devs[0].ID.String()+"/commands", map[string]any{"kind": "restart"}); r.status != 201 {
		t.Errorf("a command to a device of the group: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "tech-a", "GET", tp+"/devices/"+devs[1].ID.String(), nil); r.status != 403 || !strings.Contains(r.detail(), "in none of them") {
		t.Errorf("a device outside the group: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "tech-a", "GET", tp+"/devices", nil); r.status != 403 || !strings.Contains(r.detail(), "whole tenant") {
		t.Errorf("the tenant's device list: %d %s", r.status, r.raw)
	}
}
