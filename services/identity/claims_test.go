package identity

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/tenancy"
)

func TestKeycloakClaims(t *testing.T) {
	var claims map[string]any
	err := json.Unmarshal([]byte(`{
  "preferred_username": "service-account-acme-integration",
  "azp": "acme-integration",
  "realm_access": {"roles": ["offline_access", "trident:msp:acme:admin", "trident:tenant:bakery:viewer"]},
  "resource_access": {"trident.api": {"roles": ["trident:tenant:bakery:operator", "trident:tenant:florist:bogus"]}},
  "groups": ["/trident/tenant/garage/viewer", "/other/tenant/x/admin", "/trident/tenant/garage/admin", "trident:msp"]
}`), &claims)
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultClaims().principal("0b7e", claims, "trident.api")
	if !p.Client || p.Name != "acme-integration" {
		t.Errorf("client %v name %q; want a client named acme-integration", p.Client, p.Name)
	}
	if !p.AdministersMSP("acme") || len(p.MSPAdmin) != 1 {
		t.Errorf("MSPAdmin = %v", p.MSPAdmin)
	}
	want := map[string]Role{"bakery": Operator, "garage": Admin}
	if len(p.Tenants) != len(want) {
		t.Errorf("Tenants = %v, want %v", p.Tenants, want)
	}
	for slug, r := range want {
		if p.Tenants[slug] != r {
			t.Errorf("role in %s = %q, want %q", slug, p.Tenants[slug], r)
		}
	}
	acmeTenant := tenancy.Tenant{ID: uuid.New(), MSPSlug: "acme", Slug: "anything"}
	if r, ok := p.RoleIn(acmeTenant); !ok || r != Admin {
		t.Errorf("RoleIn(an acme tenant) = %q, %v; want admin", r, ok)
	}
	if _, ok := p.RoleIn(tenancy.Tenant{MSPSlug: "other", Slug: "florist"}); ok {
		t.Error("a bogus role granted access")
	}
}

func TestRoleOrder(t *testing.T) {
	if !Admin.AtLeast(Operator) || !Operator.AtLeast(Viewer) || Viewer.AtLeast(Operator) || Role("").AtLeast("") || Admin.AtLeast("root") {
		t.Fatal("role order is wrong")
	}
}
