package windows

import "testing"

// A federated sign-in counts an address as verified only when the provider
// says so (email_verified), or when it is Entra ID's upn; an email claim
// alone is not (the outside security test: a token without email_verified
// counted as verified).
func TestFederatedPersonVerified(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		email, upn string
		verified   *bool
		want       string
		ok         bool
	}{
		{"ana@contoso.com", "", &yes, "ana@contoso.com", true},
		{"ana@contoso.com", "", &no, "ana@contoso.com", false},
		{"ceo@victim.com", "", nil, "ceo@victim.com", false},
		{"ceo@victim.com", "mallory@attacker.onmicrosoft.com", nil, "mallory@attacker.onmicrosoft.com", true},
		{"", "ana@contoso.com", nil, "ana@contoso.com", true},
	} {
		p := federatedPerson("s", c.email, c.upn, c.verified)
		if p.Email != c.want || p.EmailVerified != c.ok {
			t.Errorf("%+v: %q verified=%v; want %q %v", c, p.Email, p.EmailVerified, c.want, c.ok)
		}
	}
}
