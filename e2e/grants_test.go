package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// TestDelegatedAccess is issue 26's story against the real binaries: a
// technician of the tenant's MSP without a grant is refused; asks for
// one; the tenant's admin approves (the MSP's admin may not); the
// technician queues a command; the tenant's audit log shows it with the
// grant; the grant expires and the next call is refused; break-glass
// works at once and reaches the tenant's webhook; revoked, it stops.
func TestDelegatedAccess(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	dev, err := inv.Record(tenancy.WithTenant(ctx, tn.ID), inventory.Report{Platform: inventory.Windows, Identifier: "GRANT-1", Name: "Front desk"})
	if err != nil {
		t.Fatal(err)
	}
	idp := testenv.StartIDP(t,
		devidp.Client{ID: "owner", Secret: "s", Audience: []string{"trident-api"},
			Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}},
		devidp.Client{ID: "tech", Secret: "s", Audience: []string{"trident-api"},
			Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/technician"}}},
		devidp.Client{ID: "msp-admin", Secret: "s", Audience: []string{"trident-api"},
			Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/admin"}}})
	var mu sync.Mutex
	var hooked []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			Event struct {
				Kind    string `json:"kind"`
				Payload struct {
					Reason string `json:"reason"`
				} `json:"payload"`
			} `json:"event"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &d) == nil {
			mu.Lock()
			hooked = append(hooked, d.Event.Kind+": "+d.Event.Payload.Reason)
			mu.Unlock()
		}
	}))
	t.Cleanup(hook.Close)
	s := start(t, idp.Issuer, "--egress-allow-private")
	as := func(who string) apiClient {
		return apiClient{t: t, base: s.Base, bearer: "Bearer " + idp.Token(t, who, "s")}
	}
	owner, tech, mspAdmin := as("owner"), as("tech"), as("msp-admin")
	tp := "/v1/tenants/" + tn.Slug
	grants := "/v1/msps/" + tn.MSPSlug + "/tenants/" + tn.Slug + "/access-grants"
	expect := func(c apiClient, method, path string, body any, want int, contains string) map[string]any {
		t.Helper()
		code, b := c.do(method, path, body)
		if code != want || !strings.Contains(string(b), contains) {
			t.Fatalf("%s %s: %d %s; want %d with %q", method, path, code, b, want, contains)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	queue := func(want int, contains string) map[string]any {
		t.Helper()
		return expect(tech, "POST", tp+"/devices/"+dev.ID.String()+"/commands", map[string]any{"kind": "restart"}, want, contains)
	}

	expect(owner, "POST", tp+"/webhooks", map[string]any{"url": hook.URL, "event_kinds": []string{"access.break_glass"}}, 201, "")
	expect(owner, "PUT", tp+"/msp-access", map[string]any{"msp_access": "approval"}, 200, "approval")
	expect(mspAdmin, "GET", tp+"/devices", nil, 403, "holds no grant")
	queue(403, "request-access-grant")

	// Bad requests change nothing.
	expect(tech, "POST", grants, map[string]any{"role": "operator", "reason": "ticket 7", "hours": 0}, 422, "hours")
	expect(tech, "POST", grants, map[string]any{"role": "operator", "reason": "", "hours": 2}, 422, "reason")
	expect(tech, "POST", grants, map[string]any{"role": "operator", "reason": "r", "hours": 2, "subject": "someone-else"}, 403, "themself")
	other := testenv.Tenant(t, dir) // another MSP's
	expect(tech, "POST", "/v1/msps/"+tn.MSPSlug+"/tenants/"+other.Slug+"/access-grants", map[string]any{"role": "operator", "reason": "r", "hours": 2}, 404, "no such tenant")
	if l := expect(owner, "GET", tp+"/access-grants", nil, 200, ""); len(l["grants"].([]any)) != 0 {
		t.Fatalf("refused requests left grants: %v", l)
	}

	g := expect(tech, "POST", grants, map[string]any{"role": "operator", "reason": "ticket 7: printer", "hours": 2}, 201, `"status":"requested"`)
	id := g["id"].(string)
	queue(403, "holds no grant")
	expect(mspAdmin, "POST", tp+"/access-grants/"+id+"/approve", nil, 403, "holds no grant")
	expect(owner, "GET", tp+"/access-grants?status=requested", nil, 200, id)
	if _, b := owner.do("GET", tp+"/access-grants?status=active", nil); strings.Contains(string(b), id) {
		t.Errorf("a requested grant listed as active: %s", b)
	}
	expect(owner, "POST", tp+"/access-grants/"+id+"/approve", nil, 200, `"status":"active"`)
	cmd := queue(201, "restart")

	audit := expect(owner, "GET", tp+"/audit?msp=true", nil, 200, "")
	items := audit["items"].([]any)
	var found bool
	for _, it := range items {
		e := it.(map[string]any)
		if e["action"] == "queue-command" && e["actor"] == "tech" && e["access"] == "grant" && e["grant_id"] == id {
			found = true
		}
		if e["actor"] == "owner" {
			t.Errorf("?msp=true lists the tenant's own admin: %v", e)
		}
	}
	if !found {
		t.Fatalf("the audit log does not show command %v with grant %s: %v", cmd["id"], id, items)
	}

	// Time passes: the grant's expiry is now behind it.
	if _, err := testenv.Superuser(t).Exec(ctx, `UPDATE access_grants SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	queue(403, "holds no grant")
	expect(owner, "GET", tp+"/access-grants?status=expired", nil, 200, id)

	// Break-glass: at once, without approval, and the tenant hears of it.
	bg := expect(tech, "POST", grants, map[string]any{"role": "operator", "reason": "outage INC-9", "hours": 1, "break_glass": true}, 201, `"status":"active"`)
	queue(201, "restart")
	eventually(t, "the break-glass webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooked) == 1 && hooked[0] == "access.break_glass: outage INC-9"
	})
	last := expect(owner, "GET", tp+"/audit?action=queue-command&limit=1", nil, 200, "")["items"].([]any)[0].(map[string]any)
	if last["access"] != "break_glass" || last["grant_id"] != bg["id"] {
		t.Errorf("the break-glass command's entry: %v", last)
	}
	// Admin power through a grant approves nothing and changes no setting:
	// those are the tenant's own admins'.
	pending := expect(tech, "POST", grants, map[string]any{"role": "admin", "reason": "ticket 8", "hours": 4}, 201, `"status":"requested"`)
	expect(mspAdmin, "POST", grants, map[string]any{"role": "admin", "reason": "outage INC-9", "hours": 1, "break_glass": true}, 201, `"status":"active"`)
	expect(mspAdmin, "POST", tp+"/access-grants/"+pending["id"].(string)+"/approve", nil, 403, "own admins")
	expect(mspAdmin, "PUT", tp+"/msp-access", map[string]any{"msp_access": "standing"}, 403, "own admins")
	expect(owner, "POST", tp+"/access-grants/"+bg["id"].(string)+"/revoke", nil, 200, `"status":"revoked"`)
	queue(403, "holds no grant")
	expect(tech, "GET", "/v1/msps/"+tn.MSPSlug+"/access-grants", nil, 200, bg["id"].(string))
}
