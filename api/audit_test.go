package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/internal/testenv"
)

// An audit entry commits with its change, or neither does (issue 23):
// the API writes the entry in the transaction the services join.
func TestAuditEntryCommitsWithItsChange(t *testing.T) {
	w := newWorld(t, api.Limits{})
	base := "/v1/tenants/" + w.a.Slug
	entries := func(action string) int {
		t.Helper()
		r := w.do(t, "admin-a", "GET", base+"/audit?action="+action, nil)
		items, _ := r.body["items"].([]any)
		return len(items)
	}
	groups := func() string {
		t.Helper()
		return w.do(t, "admin-a", "GET", base+"/groups", nil).raw
	}

	// A change that fails leaves no entry.
	if r := w.do(t, "admin-a", "POST", base+"/groups", map[string]any{"name": "kept"}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	isProblem(t, w.do(t, "admin-a", "POST", base+"/groups", map[string]any{"name": "kept"}), 409)
	if n := entries("create-group"); n != 1 {
		t.Errorf("audit entries for create-group after one success and one conflict: %d, want 1", n)
	}

	// An entry that cannot be written takes its change with it: the
	// database refuses this tenant's create-group entries from now on.
	su := testenv.Superuser(t)
	ctx := context.Background()
	trigger := "refuse_audit_" + strings.ReplaceAll(w.a.ID.String(), "-", "")
	if _, err := su.Exec(ctx, `CREATE OR REPLACE FUNCTION trident_test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := su.Exec(ctx, fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON audit_log FOR EACH ROW
WHEN (NEW.tenant_id = '%s' AND NEW.action = 'create-group') EXECUTE FUNCTION trident_test_refuse_audit()`, trigger, w.a.ID)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = su.Exec(context.Background(), `DROP TRIGGER IF EXISTS `+trigger+` ON audit_log`) })

	if r := w.do(t, "admin-a", "POST", base+"/groups", map[string]any{"name": "unaudited"}); r.status != 500 {
		t.Fatalf("create with the audit refused: %d %s, want 500", r.status, r.raw)
	}
	if g := groups(); strings.Contains(g, "unaudited") || !strings.Contains(g, "kept") {
		t.Errorf("a change whose audit entry failed was kept (or the earlier one lost): %s", g)
	}
	// With a key, the claim rolls back too: the same key works once the
	// audit does.
	key := "Idempotency-Key"
	if r := w.do(t, "admin-a", "POST", base+"/groups", map[string]any{"name": "keyed"}, key, "k-1"); r.status != 500 {
		t.Fatalf("keyed create with the audit refused: %d %s", r.status, r.raw)
	}
	if _, err := su.Exec(ctx, `DROP TRIGGER `+trigger+` ON audit_log`); err != nil {
		t.Fatal(err)
	}
	if r := w.do(t, "admin-a", "POST", base+"/groups", map[string]any{"name": "keyed"}, key, "k-1"); r.status != 201 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the key after a failed first attempt: %d %s %v", r.status, r.raw, r.header)
	}
	if n := entries("create-group"); n != 2 {
		t.Errorf("audit entries for create-group: %d, want 2 (kept, keyed)", n)
	}
}

// A subject as long as OIDC allows (255 characters) changes things like
// any other: its audit entry keeps it whole, and a display name longer
// than the log keeps is shortened, not refused (both used to answer 500).
func TestLongSubjectsAreAudited(t *testing.T) {
	w := newWorld(t, api.Limits{})
	base := "/v1/tenants/" + w.a.Slug
	if r := w.do(t, longCaller, "POST", base+"/groups", map[string]any{"name": "long"}); r.status != 201 {
		t.Fatalf("create as a 255-character subject: %d %s", r.status, r.raw)
	}
	r := w.do(t, "admin-a", "GET", base+"/audit?action=create-group", nil)
	items, _ := r.body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("audit: %s", r.raw)
	}
	// By target and time, as the dashboard filters (issue 24: the API
	// had only actor and action).
	since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if r := w.do(t, "admin-a", "GET", base+"/audit?target=/groups&since="+since, nil); len(r.body["items"].([]any)) != 1 {
		t.Errorf("by target and since: %s", r.raw)
	}
	until := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if r := w.do(t, "admin-a", "GET", base+"/audit?until="+until, nil); r.status != 200 || len(r.body["items"].([]any)) != 0 {
		t.Errorf("until an hour ago: %s", r.raw)
	}
	isProblem(t, w.do(t, "admin-a", "GET", base+"/audit?since=yesterday", nil), 422)
	e := items[0].(map[string]any)
	if e["actor"] != longCaller || len(e["actor_name"].(string)) > 200 || !strings.HasPrefix(longCaller, e["actor_name"].(string)) {
		t.Errorf("entry: actor %v, actor_name %v", e["actor"], e["actor_name"])
	}
}

// Verifying a hostname keeps what DNS showed even when the check fails
// (so it is not run inside the audited transaction the failure would roll
// back), and a successful verification is audited and published in the
// verification's own transaction.
func TestVerifyHostnameKeepsTheCheckAndAuditsTheSuccess(t *testing.T) {
	w := newWorld(t, api.Limits{})
	dns := testenv.DNS(t)
	w.dir.UseDNS(dns.Resolver())
	base := "/v1/tenants/" + w.a.Slug
	name := "mdm." + w.a.Slug + ".example"
	r := w.do(t, "admin-a", "POST", base+"/hostnames", map[string]any{"hostname": name})
	if r.status != 201 {
		t.Fatalf("add: %d %s", r.status, r.raw)
	}
	rec, _ := r.body["verification"].(map[string]any)

	isProblem(t, w.do(t, "admin-a", "POST", base+"/hostnames/"+name+"/verify", nil), 409)
	if g := w.do(t, "admin-a", "GET", base+"/hostnames/"+name, nil); !strings.Contains(g.raw, `"check_error":"DNS has no TXT record at _trident-challenge.`+name) {
		t.Errorf("the failed check was not kept: %s", g.raw)
	}
	dns.SetTXT(rec["name"].(string), rec["value"].(string))
	if v := w.do(t, "admin-a", "POST", base+"/hostnames/"+name+"/verify", nil); v.status != 200 || v.body["status"] != "verified" {
		t.Fatalf("verify: %d %s", v.status, v.raw)
	}
	a := w.do(t, "admin-a", "GET", base+"/audit?action=verify-hostname", nil)
	if items, _ := a.body["items"].([]any); len(items) != 1 {
		t.Errorf("audit entries for verify-hostname: %s; want the success only", a.raw)
	}
	e := w.do(t, "admin-a", "GET", base+"/events?kind=tenant.hostname_verified", nil)
	if items, _ := e.body["items"].([]any); len(items) != 1 {
		t.Errorf("hostname_verified events: %s", e.raw)
	}
}

// Each audit entry is an audit.recorded event, the audit log's live feed
// (the dashboard's audit page, a SIEM's webhook), and like the log it is
// read by admins only: a viewer's event list and stream leave it out.
func TestAuditEntriesAreEventsForAdminsOnly(t *testing.T) {
	w := newWorld(t, api.Limits{})
	base := "/v1/tenants/" + w.a.Slug
	viewerStream, _ := w.openStream(t, "viewer-a", w.a.Slug, "")
	adminStream, _ := w.openStream(t, "admin-a", w.a.Slug, "")
	if r := w.do(t, "admin-a", "PATCH", base, map[string]any{"name": "Audited"}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	kinds := func(who string) []string {
		t.Helper()
		r := w.do(t, who, "GET", base+"/events", nil)
		var out []string
		items, _ := r.body["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["kind"].(string))
		}
		return out
	}
	if k := kinds("viewer-a"); !slices.Contains(k, "tenant.updated") || slices.Contains(k, "audit.recorded") {
		t.Errorf("a viewer's events: %v, want tenant.updated and no audit.recorded", k)
	}
	r := w.do(t, "admin-a", "GET", base+"/events?kind=audit.recorded", nil)
	items, _ := r.body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("an admin's audit.recorded events: %s", r.raw)
	}
	payload, _ := items[0].(map[string]any)["payload"].(map[string]any)
	if payload["action"] != "update-tenant" || payload["actor"] != "admin-a" || payload["target"] != base {
		t.Errorf("the event's entry: %v", payload)
	}

	// The streams: the admin's carries the entry; the viewer's has the
	// two changes and nothing between them.
	kindOf := func(m sseMessage) string {
		var e struct{ Kind string }
		if err := json.Unmarshal([]byte(m.data), &e); err != nil {
			t.Fatalf("%s: %v", m.data, err)
		}
		return e.Kind
	}
	if a, b := kindOf(next(t, adminStream)), kindOf(next(t, adminStream)); a != "audit.recorded" && b != "audit.recorded" {
		t.Errorf("the admin's stream: %s, %s; want an audit.recorded", a, b)
	}
	w.do(t, "admin-a", "PATCH", base, map[string]any{"name": "Second"})
	for _, want := range []string{"Audited", "Second"} {
		if m := next(t, viewerStream); kindOf(m) != "tenant.updated" || !strings.Contains(m.data, want) {
			t.Fatalf("the viewer's stream: %s, want tenant.updated to %s", m.data, want)
		}
	}
}

// An admin exports the audit log as JSON Lines and CSV, oldest first;
// the export is itself in the log; a viewer may not.
func TestExportAuditLog(t *testing.T) {
	w := newWorld(t, api.Limits{})
	path := "/v1/tenants/" + w.a.Slug
	for _, name := range []string{"One", "Two"} {
		if r := w.do(t, "admin-a", "POST", path+"/groups", map[string]any{"name": name}); r.status != 201 {
			t.Fatalf("group: %d %s", r.status, r.raw)
		}
	}
	r := w.do(t, "admin-a", "GET", path+"/audit/export?action=create-group", nil)
	lines := strings.Split(strings.TrimSpace(r.raw), "\n")
	var first, second struct{ ID int64 }
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &second)
	if r.status != 200 || r.header.Get("Content-Type") != "application/jsonl" || len(lines) != 2 || first.ID >= second.ID {
		t.Fatalf("JSON Lines: %d %s %q", r.status, r.header.Get("Content-Type"), r.raw)
	}
	r = w.do(t, "admin-a", "GET", path+"/audit/export?format=csv&action=create-group", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(r.raw, "id,at,actor,actor_name,action") ||
		strings.Count(r.raw, "\n") != 3 {
		t.Fatalf("CSV: %d %s %q", r.status, r.header.Get("Content-Type"), r.raw)
	}
	isProblem(t, w.do(t, "admin-a", "GET", path+"/audit/export?format=xml", nil), 422)
	isProblem(t, w.do(t, "viewer-a", "GET", path+"/audit/export", nil), 403)
	if r := w.do(t, "admin-a", "GET", path+"/audit?action=export-audit-entries", nil); len(r.body["items"].([]any)) != 2 {
		t.Errorf("the exports in the audit log: %s", r.raw)
	}
}
