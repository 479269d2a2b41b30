// Package keycloak holds the Keycloak realm export operators import; its
// test keeps the export in step with Trident's claim mapping.
package keycloak

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/tridentmdm/trident/services/identity"
)

type group struct {
	Name string  `json:"name"`
	Sub  []group `json:"subGroups"`
}

// paths lists the full paths of the leaf groups under gs.
func paths(prefix string, gs []group) []string {
	var out []string
	for _, g := range gs {
		if len(g.Sub) == 0 {
			out = append(out, prefix+"/"+g.Name)
		}
		out = append(out, paths(prefix+"/"+g.Name, g.Sub)...)
	}
	return out
}

func TestRealmMatchesTrident(t *testing.T) {
	b, err := os.ReadFile("trident-realm.json")
	if err != nil {
		t.Fatal(err)
	}
	var realm struct {
		ClientScopes []struct {
			Name    string `json:"name"`
			Mappers []struct {
				Mapper string            `json:"protocolMapper"`
				Config map[string]string `json:"config"`
			} `json:"protocolMappers"`
		} `json:"clientScopes"`
		Clients []struct {
			ClientID string   `json:"clientId"`
			Scopes   []string `json:"defaultClientScopes"`
		} `json:"clients"`
		Users []struct {
			Groups []string `json:"groups"`
		} `json:"users"`
		Groups          []group `json:"groups"`
		RequiredActions []struct {
			Alias         string `json:"alias"`
			Enabled       bool   `json:"enabled"`
			DefaultAction bool   `json:"defaultAction"`
		} `json:"requiredActions"`
	}
	if err := json.Unmarshal(b, &realm); err != nil {
		t.Fatal(err)
	}
	var audience, groupsClaim string
	var amr bool
	for _, s := range realm.ClientScopes {
		if s.Name != "trident" {
			continue
		}
		for _, m := range s.Mappers {
			amr = amr || (m.Mapper == "oidc-amr-mapper" && m.Config["access.token.claim"] == "true" && m.Config["id.token.claim"] == "true")
			switch m.Mapper {
			case "oidc-audience-mapper":
				audience = m.Config["included.client.audience"]
			case "oidc-group-membership-mapper":
				if m.Config["full.path"] != "true" {
					t.Error("the groups mapper must send full paths (/trident/msp/.../tenant/...)")
				}
				groupsClaim = m.Config["claim.name"]
			}
		}
	}
	if audience != "trident-api" {
		t.Errorf("audience mapper adds %q; Trident's default --oidc-audience is trident-api", audience)
	}
	def := identity.DefaultClaims()
	found := false
	for _, c := range def.RoleClaims {
		found = found || c == groupsClaim
	}
	if !found {
		t.Errorf("groups go to claim %q, which the default --oidc-role-claims %v do not read", groupsClaim, def.RoleClaims)
	}
	// An MSP that requires a second factor (set-msp-sign-in-policy) reads
	// it from amr: the realm puts it in both tokens and has every person
	// set up a one-time code.
	if !amr {
		t.Error("the trident scope has no amr mapper in access and ID tokens: an MSP requiring a second factor would refuse everyone")
	}
	totp := false
	for _, a := range realm.RequiredActions {
		totp = totp || (a.Alias == "CONFIGURE_TOTP" && a.Enabled && a.DefaultAction)
	}
	if !totp {
		t.Error("CONFIGURE_TOTP is not a default required action: people would sign in with a password alone")
	}
	for _, c := range realm.Clients {
		if c.ClientID == "trident-api" {
			continue
		}
		has := false
		for _, s := range c.Scopes {
			has = has || s == "trident"
		}
		if !has {
			t.Errorf("client %s lacks the trident client scope: its tokens would miss the audience and groups", c.ClientID)
		}
	}
	// The example integration's group grants what the README says.
	p := identity.MapClaims(def, "svc", map[string]any{"groups": []any{realm.Users[0].Groups[0]}}, "trident-api")
	if !p.AdministersMSP("acme") {
		t.Errorf("group %s does not make the integration an admin of MSP acme", realm.Users[0].Groups[0])
	}
	// Every leaf group of the example grants a role Trident honors by
	// default: an MSP admin or technician, or a role in a tenant of that
	// MSP.
	leaves := paths("", realm.Groups)
	if len(leaves) != 5 {
		t.Errorf("the example's groups are %v; want the MSP's admin and technician and three roles in its tenant", leaves)
	}
	for _, path := range leaves {
		p := identity.MapClaims(def, "u", map[string]any{"groups": []any{path}}, "trident-api")
		if len(p.MSPAdmin) == 0 && len(p.MSPTechnician) == 0 && (len(p.Grants) != 1 || p.Grants[0].MSP != "acme" || p.Grants[0].Tenant != "bakery") {
			t.Errorf("group %s grants %+v; want a role in acme's tenant bakery", path, p)
		}
	}
}
