package api_test

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/api"
)

// roleIn is each caller's role in tenant A, as the world grants it.
var roleIn = map[string]string{
	"msp-admin-a": "admin", "admin-a": "admin", "operator-a": "operator", "viewer-a": "viewer", "limited-user": "viewer",
	longCaller: "admin",
}

var rank = map[string]int{"viewer": 1, "operator": 2, "admin": 3}

// fromMSP are the callers whose role in tenant A comes from its MSP (so
// operations for the tenant's own people refuse them), and members the
// callers who work for A's MSP without a role in A (a 403 that says to
// ask for a grant, not a 404).
var (
	fromMSP = map[string]bool{"msp-admin-a": true}
	members = map[string]bool{"tech-a": true}
)

// TestAuthorizationMatrix calls every operation of the served OpenAPI
// document as every caller, against tenant A (and A's MSP), and checks the
// answer against the policy the document declares for the operation. New
// operations are covered without editing this test; an operation without
// a policy fails it.
func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t, api.Limits{CallerRate: 1000, CallerBurst: 1000, TenantRate: 1000, TenantBurst: 1000})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	r := w.do(t, "", "GET", "/openapi.json", nil)
	if err := json.Unmarshal([]byte(r.raw), &doc); err != nil || len(doc.Paths) == 0 {
		t.Fatalf("read the OpenAPI document: %v", err)
	}
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ops := 0
	for _, path := range paths {
		for method, raw := range doc.Paths[path] {
			var op struct {
				ID          string          `json:"operationId"`
				RequestBody json.RawMessage `json:"requestBody"`
				Access      *struct {
					Scope string `json:"scope"`
					Role  string `json:"role"`
					Own   bool   `json:"own"`
				} `json:"x-trident-access"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				continue // path-level fields such as parameters
			}
			ops++
			method = strings.ToUpper(method)
			if op.Access == nil {
				t.Errorf("%s %s (%s) declares no x-trident-access policy", method, path, op.ID)
				continue
			}
			url := strings.NewReplacer("{msp}", w.mspA.Slug, "{tenant}", w.a.Slug,
				"{hostname}", "unknown-"+uuid.NewString()[:6]+".example", "{id}", uuid.NewString()).Replace(path)
			var body any
			if op.RequestBody != nil {
				body = map[string]any{}
			}
			if r := w.do(t, "", method, url, body); r.status != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d, want 401", op.ID, r.status)
			}
			for caller := range callers(w) {
				r := w.do(t, caller, method, url, body)
				denied404 := r.status == 404 && (r.detail() == "no such tenant" || r.detail() == "no such MSP")
				denied := r.status == 401 || r.status == 403 || denied404
				var want string // "allow", "404" or "403"
				switch op.Access.Scope {
				case "caller":
					want = "allow"
				case "msp":
					switch {
					case caller == "msp-admin-a":
						want = "allow"
					case caller == "tech-a" && op.Access.Role == "technician":
						want = "allow"
					case caller == "tech-a":
						want = "403"
					default:
						want = "404"
					}
				case "tenant":
					role, ok := roleIn[caller]
					switch {
					case members[caller]:
						want = "403"
					case !ok:
						want = "404"
					case rank[role] < rank[op.Access.Role]:
						want = "403"
					case op.Access.Own && fromMSP[caller]:
						want = "403"
					default:
						want = "allow"
					}
				default:
					t.Errorf("%s: unknown scope %q", op.ID, op.Access.Scope)
				}
				switch {
				case want == "allow" && denied:
					t.Errorf("%s as %s: denied (%d %s); the policy %+v allows it", op.ID, caller, r.status, r.detail(), *op.Access)
				case want == "404" && !denied404:
					t.Errorf("%s as %s: %d %s; want 404 (outside the caller's scope)", op.ID, caller, r.status, r.detail())
				case want == "403" && r.status != 403:
					t.Errorf("%s as %s: %d %s; want 403 (role too low)", op.ID, caller, r.status, r.detail())
				}
			}
		}
	}
	if ops < 8 {
		t.Fatalf("the document lists only %d operations", ops)
	}
}
