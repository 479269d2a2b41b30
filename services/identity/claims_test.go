package identity

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/tenancy"
)

func TestKeycloakClaims(t *testing.T) {
	var claims map[string]any
	err := json.Unmarshal([]byte(`{
  "preferred_username": "service-account-acme-integration",
  "azp": "acme-integration",
  "realm_access": {"roles": ["offline_access", "trident:msp:acme:admin", "trident:msp:corner:tenant:bakery:viewer"]},
  "resource_access": {"trident.api": {"roles": ["trident:msp:corner:tenant:bakery:operator", "trident:msp:corner:tenant:florist:bogus"]}},
  "groups": ["/trident/msp/corner/tenant/garage/viewer", "/other/tenant/x/admin", "/trident/msp/corner/tenant/garage/admin", "trident:msp",
    "/trident/tenant/legacy/admin", "/trident/msp/corner/tenant/garage", "/trident/msp/corner/tenant/garage/admin/extra"]
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
	want := []Grant{{MSP: "corner", Tenant: "bakery", Role: Operator}, {MSP: "corner", Tenant: "garage", Role: Admin}}
	if !slices.Equal(p.Grants, want) {
		t.Errorf("Grants = %v, want %v (the slug-only legacy grant is ignored by default)", p.Grants, want)
	}
	for _, g := range want {
		if r, ok := p.tokenRole(tenancy.Tenant{MSPSlug: "corner", Slug: g.Tenant}); !ok || r != g.Role {
			t.Errorf("role in corner/%s = %q, want %q", g.Tenant, r, g.Role)
		}
	}
	acmeTenant := tenancy.Tenant{ID: uuid.New(), MSPSlug: "acme", Slug: "anything"}
	if r, ok := p.tokenRole(acmeTenant); !ok || r != Admin {
		t.Errorf("RoleIn(an acme tenant) = %q, %v; want admin", r, ok)
	}
	if _, ok := p.tokenRole(tenancy.Tenant{MSPSlug: "other", Slug: "florist"}); ok {
		t.Error("a bogus role granted access")
	}
}

// The outside security test's finding: grants were keyed by tenant slug
// alone, so a grant for a slug not created yet went to whichever MSP
// created it first. A grant now names the MSP, and the same slug in
// another MSP gives nothing.
func TestGrantsNameTheirMSP(t *testing.T) {
	claims := map[string]any{"groups": []any{"/trident/msp/corner/tenant/newco/admin", "/trident/tenant/oldco/viewer"}}
	p := DefaultClaims().principal("u1", claims, "trident-api")
	if r, ok := p.tokenRole(tenancy.Tenant{MSPSlug: "corner", Slug: "newco"}); !ok || r != Admin {
		t.Errorf("the grant in its own MSP: %q, %v", r, ok)
	}
	for _, squat := range []tenancy.Tenant{{MSPSlug: "squatter", Slug: "newco"}, {MSPSlug: "corner", Slug: "oldco"}, {MSPSlug: "any", Slug: "oldco"}} {
		if r, ok := p.tokenRole(squat); ok {
			t.Errorf("RoleIn(%s/%s) = %q; want no role", squat.MSPSlug, squat.Slug, r)
		}
	}
	// While an installation moves its grants over, it may honor the older
	// form, and accepts what it says: the slug in any MSP.
	legacy := DefaultClaims()
	legacy.SlugGrants = true
	p = legacy.principal("u1", claims, "trident-api")
	if r, ok := p.tokenRole(tenancy.Tenant{MSPSlug: "any", Slug: "oldco"}); !ok || r != Viewer {
		t.Errorf("with SlugGrants, the older grant: %q, %v", r, ok)
	}
	if _, ok := p.tokenRole(tenancy.Tenant{MSPSlug: "squatter", Slug: "newco"}); ok {
		t.Error("with SlugGrants, an MSP-bound grant reached another MSP")
	}
}

func TestRoleOrder(t *testing.T) {
	if !Admin.AtLeast(Operator) || !Operator.AtLeast(Viewer) || Viewer.AtLeast(Operator) || Role("").AtLeast("") || Admin.AtLeast("root") {
		t.Fatal("role order is wrong")
	}
}

// A technician is someone of an MSP with no role in any tenant: the claim
// names the MSP only, and "technician" is no tenant role.
func TestTechnicianClaims(t *testing.T) {
	claims := map[string]any{
		"groups":       []any{"/trident/msp/acme/technician", "/trident/msp/acme/tenant/bakery/technician"},
		"realm_access": map[string]any{"roles": []any{"trident:msp:acme:technician", "trident:msp:corner:technician"}},
	}
	p := MapClaims(DefaultClaims(), "tech", claims, "trident-api")
	if len(p.MSPTechnician) != 2 || p.MSPTechnician[0] != "acme" || p.MSPTechnician[1] != "corner" {
		t.Errorf("MSPTechnician = %v", p.MSPTechnician)
	}
	if len(p.Grants) != 0 || len(p.MSPAdmin) != 0 || p.AdministersMSP("acme") || !p.WorksFor("acme") || p.WorksFor("other") {
		t.Errorf("a technician holds %+v", p)
	}
	if _, ok := p.tokenRole(tenancy.Tenant{Slug: "bakery", MSPSlug: "acme"}); ok {
		t.Error("a technician has a standing role in a tenant")
	}
}

// A second factor is what the token's amr names (RFC 8176) or an acr the
// installation maps to one; a password alone is none.
func TestMFAClaims(t *testing.T) {
	c := DefaultClaims()
	c.MFAACR = []string{"2"}
	for _, tc := range []struct {
		claims map[string]any
		mfa    bool
	}{
		{map[string]any{"amr": []any{"pwd", "otp"}}, true},
		{map[string]any{"amr": []any{"hwk"}}, true},
		{map[string]any{"amr": "mfa"}, true},
		{map[string]any{"acr": "2"}, true},
		{map[string]any{"amr": []any{"pwd"}, "acr": "1"}, false},
		{map[string]any{"acr": ""}, false},
		{map[string]any{}, false},
	} {
		p := MapClaims(c, "u", tc.claims, "trident-api")
		if p.MFA != tc.mfa {
			t.Errorf("%v: MFA %v, want %v", tc.claims, p.MFA, tc.mfa)
		}
	}
	if p := MapClaims(DefaultClaims(), "u", map[string]any{"acr": "2"}, "trident-api"); p.MFA {
		t.Error("an acr counts as a second factor without being configured as one")
	}
}
