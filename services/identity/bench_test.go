package identity_test

import (
	"context"
	"testing"

	"github.com/tridentmdm/trident/services/identity"
)

// BenchmarkAccessIn is what the one policy costs a request: nothing for
// the tenant's own people (the token says it), one read transaction on
// the primary for the MSP's (its setting, its grants).
func BenchmarkAccessIn(b *testing.B) {
	w := newGrantWorld(b)
	tech := technician("tech", w.a2.MSPSlug)
	if _, err := w.del.Request(w.ctx(w.a2), tech, w.a2, identity.GrantRequest{Role: identity.Operator, Reason: "r", Hours: 1}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		who  *identity.Principal
	}{
		{"tenant's own admin", w.owner},
		{"MSP admin, standing", &identity.Principal{Subject: "msp-admin", MSPAdmin: []string{w.a2.MSPSlug}}},
		{"technician with a grant", tech},
	} {
		tn := w.a2
		if c.who == w.owner {
			tn = w.a1
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if a, err := w.del.In(ctx, c.who, tn); err != nil || !a.Role.Valid() {
					b.Fatalf("%+v, %v", a, err)
				}
			}
		})
	}
}
