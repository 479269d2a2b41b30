// Package identity says who is calling and what they may do: it verifies
// OIDC bearer tokens (issuer discovery, signature against the rotating JWKS,
// audience, expiry) and maps their claims to a Principal with roles over
// MSPs and tenants.
//
// Roles, from most to least: an MSP admin administers an MSP (its tenants'
// lifecycle, baselines, grants) and, where a tenant allows standing access,
// every tenant of it; a tenant admin changes a tenant's settings; an
// operator sends commands but changes no settings; a viewer reads. An MSP
// technician has no standing power: a grant (Delegations) gives one of the
// tenant roles in one tenant for a while. The claims that carry
// them are configurable (Keycloak realm roles, client roles and groups;
// other providers' "roles" or "groups"), see ClaimsConfig.
//
// Delegations.In is the one policy every edge asks for a caller's power in
// a tenant: the API declares the role each operation needs, the dashboard
// each page's.
package identity

import (
	"slices"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// Role is what a caller may do within a tenant.
type Role string

const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
	Admin    Role = "admin"

	// Technician is an MSP role, not a tenant's: someone of the MSP with
	// no standing power in any tenant (Valid is false for it).
	Technician Role = "technician"
)

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// AtLeast reports whether r includes min.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && min.rank() > 0 }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Principal is an authenticated caller.
type Principal struct {
	Subject string // the token's sub
	Name    string // a readable name: preferred_username, or the client id
	Client  bool   // a service account (client-credentials grant)

	// MSPAdmin lists the slugs of MSPs the caller administers.
	MSPAdmin []string
	// MSPTechnician lists the slugs of MSPs the caller works for as a
	// technician: no power in any tenant but through a grant (Delegations).
	MSPTechnician []string
	// Grants are the caller's roles in single tenants, one per tenant.
	Grants []Grant

	// AMR and ACR are how the identity provider says the person signed
	// in (the token's amr and acr claims); MFA is whether that was with
	// a second factor (ClaimsConfig.MFA).
	AMR []string
	ACR string
	MFA bool
}

// CheckMFA refuses, with what to do, a caller of MSP m that requires a
// second factor the caller signed in without.
func (p *Principal) CheckMFA(m tenancy.MSP) error {
	if p.WorksFor(m.Slug) && p.mfaRefused(m.RequireMFA) {
		return fault.New(fault.Forbidden, "%s", MFAMessage(m.Slug))
	}
	return nil
}

// MFAMessage says why an MSP's person without a second factor is refused.
func MFAMessage(msp string) string {
	return "the MSP " + msp + " requires its people to sign in with a second factor (multi-factor authentication); " +
		"sign in again with it (the identity provider's amr or acr claim says so)"
}

// mfaRefused reports whether an MSP that requires a second factor
// refuses the caller: a person (a service account has no second factor
// to give) who signed in without one.
func (p *Principal) mfaRefused(require bool) bool { return require && !p.MFA && !p.Client }

// Grant is a role in one tenant of one MSP.
type Grant struct {
	// MSP is the slug of the tenant's MSP; "" only for a grant of the older
	// form that names the tenant alone (ClaimsConfig.SlugGrants).
	MSP    string `json:"msp,omitempty"`
	Tenant string `json:"tenant"`
	Role   Role   `json:"role"`
}

func (g Grant) covers(t tenancy.Tenant) bool {
	return g.Tenant == t.Slug && (g.MSP == t.MSPSlug || g.MSP == "")
}

// tokenRole is the role the token alone gives in tenant t, and whether
// it gives any: an MSP admin as an admin of all its MSP's tenants; a
// grant only in the tenant of that slug in the MSP it names. It is not
// the access policy (Delegations.In, which knows the tenant's setting
// and delegated grants): the claims' tests read it.
func (p *Principal) tokenRole(t tenancy.Tenant) (Role, bool) {
	if slices.Contains(p.MSPAdmin, t.MSPSlug) {
		return Admin, true
	}
	best := p.ownRole(t)
	return best, best.Valid()
}

// AdministersMSP reports whether the caller is an admin of MSP slug.
func (p *Principal) AdministersMSP(slug string) bool { return slices.Contains(p.MSPAdmin, slug) }

// WorksFor reports whether the caller is an admin or a technician of MSP
// slug: someone a grant of the MSP's tenants may delegate to.
func (p *Principal) WorksFor(slug string) bool {
	return p.AdministersMSP(slug) || slices.Contains(p.MSPTechnician, slug)
}

// ownRole is the caller's role in t from its token's tenant grants: the
// tenant's own people, not its MSP.
func (p *Principal) ownRole(t tenancy.Tenant) Role {
	var best Role
	for _, g := range p.Grants {
		if g.covers(t) && g.Role.rank() > best.rank() {
			best = g.Role
		}
	}
	return best
}

// grant records g, keeping the highest role when several claims name the
// same tenant of the same MSP.
func (p *Principal) grant(g Grant) {
	for i, cur := range p.Grants {
		if cur.MSP == g.MSP && cur.Tenant == g.Tenant {
			if g.Role.rank() > cur.Role.rank() {
				p.Grants[i].Role = g.Role
			}
			return
		}
	}
	p.Grants = append(p.Grants, g)
}
