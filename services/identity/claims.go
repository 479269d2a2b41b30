package identity

import (
	"slices"
	"strings"
)

// ClaimsConfig says where a token carries its roles.
//
// Each of RoleClaims is a dot-separated path into the token's claims whose
// value is a string or a list of strings; "{client_id}" in a path stands for
// the audience Trident is configured with. For Keycloak the defaults read
// realm roles, the API client's roles and group paths:
//
//	realm_access.roles, resource_access.{client_id}.roles, groups
//
// A value grants a role when it reads, with ':' or '/' between the parts
// and an optional leading '/':
//
//	{prefix}:msp:{msp slug}:admin
//	{prefix}:msp:{msp slug}:technician
//	{prefix}:msp:{msp slug}:tenant:{tenant slug}:admin|operator|viewer
//
// for example the Keycloak group path /trident/msp/acme/tenant/bakery/operator
// or the role trident:msp:acme:admin. A tenant grant names the tenant's MSP
// too: a grant of a slug alone would go to whichever MSP created that slug
// first. The older form {prefix}:tenant:{tenant slug}:{role} counts only
// with SlugGrants, for an installation moving its grants over. Other values
// are ignored.
type ClaimsConfig struct {
	RoleClaims []string
	Prefix     string // default "trident"
	NameClaim  string // default "preferred_username"
	// SlugGrants honors {prefix}:tenant:{slug}:{role}, bound to no MSP.
	SlugGrants bool
	// MFAACR are the acr values that mean a second factor was used (for
	// Keycloak, the level of authentication its acr-to-LoA map gives
	// OTP, such as "2"). A token whose amr names a second factor (RFC
	// 8176: mfa, otp, hwk, sms, tel, fpt, face, iris, retina, vbm, sc,
	// pop) counts too.
	MFAACR []string
}

// secondFactors are the RFC 8176 amr values that are, or include, a
// factor beyond a password.
var secondFactors = []string{"mfa", "otp", "hwk", "sms", "tel", "fpt", "face", "iris", "retina", "vbm", "sc", "pop"}

// DefaultClaims suits Keycloak.
func DefaultClaims() ClaimsConfig {
	return ClaimsConfig{
		RoleClaims: []string{"realm_access.roles", "resource_access.{client_id}.roles", "groups"},
		Prefix:     "trident",
		NameClaim:  "preferred_username",
	}
}

// principal maps verified claims to a Principal.
func (c ClaimsConfig) principal(subject string, claims map[string]any, audience string) *Principal {
	p := &Principal{Subject: subject}
	nameClaim := c.NameClaim
	if nameClaim == "" {
		nameClaim = "preferred_username"
	}
	p.Name, _ = lookup(claims, strings.Split(nameClaim, ".")).(string)
	clientID, _ := claims["client_id"].(string)
	if clientID == "" {
		clientID, _ = claims["azp"].(string)
	}
	// Keycloak names a client's service account "service-account-<client>";
	// other providers put the client in client_id with sub equal to it.
	if strings.HasPrefix(p.Name, "service-account-") || (clientID != "" && clientID == subject) {
		p.Client = true
		if clientID != "" {
			p.Name = clientID
		}
	}
	if p.Name == "" {
		p.Name = subject
	}
	p.AMR = stringsOf(claims["amr"])
	p.ACR, _ = claims["acr"].(string)
	p.MFA = slices.Contains(c.MFAACR, p.ACR) && p.ACR != "" ||
		slices.ContainsFunc(p.AMR, func(m string) bool { return slices.Contains(secondFactors, m) })
	for _, path := range c.RoleClaims {
		path = strings.ReplaceAll(path, "{client_id}", audience)
		for _, v := range stringsOf(lookup(claims, strings.Split(path, "."))) {
			c.apply(p, v)
		}
	}
	return p
}

// lookup walks claims along path. A key that itself contains dots (a client
// id like "api.example.com") is found by trying the longest joined key first.
func lookup(v any, path []string) any {
	if len(path) == 0 {
		return v
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for n := len(path); n >= 1; n-- {
		if next, ok := m[strings.Join(path[:n], ".")]; ok {
			if r := lookup(next, path[n:]); r != nil {
				return r
			}
		}
	}
	return nil
}

func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (c ClaimsConfig) apply(p *Principal, value string) {
	parts := strings.FieldsFunc(value, func(r rune) bool { return r == ':' || r == '/' })
	prefix := c.Prefix
	if prefix == "" {
		prefix = "trident"
	}
	if len(parts) < 2 || parts[0] != prefix {
		return
	}
	switch parts = parts[1:]; {
	case len(parts) == 3 && parts[0] == "msp" && Role(parts[2]) == Admin:
		if !p.AdministersMSP(parts[1]) {
			p.MSPAdmin = append(p.MSPAdmin, parts[1])
		}
	case len(parts) == 3 && parts[0] == "msp" && Role(parts[2]) == Technician:
		if !slices.Contains(p.MSPTechnician, parts[1]) {
			p.MSPTechnician = append(p.MSPTechnician, parts[1])
		}
	case len(parts) == 5 && parts[0] == "msp" && parts[2] == "tenant" && Role(parts[4]).Valid():
		p.grant(Grant{MSP: parts[1], Tenant: parts[3], Role: Role(parts[4])})
	case len(parts) == 3 && parts[0] == "tenant" && Role(parts[2]).Valid() && c.SlugGrants:
		p.grant(Grant{Tenant: parts[1], Role: Role(parts[2])})
	}
}

// MapClaims maps a token's claims to its caller, as Verifier does after
// checking the token: for tools and tests that hold claims already.
func MapClaims(c ClaimsConfig, subject string, claims map[string]any, audience string) *Principal {
	return c.principal(subject, claims, audience)
}
