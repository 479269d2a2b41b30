package identity_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	idp "github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/identity"
)

const audience = "trident-api"

func clients() []idp.Client {
	return []idp.Client{
		{ID: "integrator", Secret: "s1", Audience: []string{audience},
			Claims: map[string]any{"groups": []string{"/trident/msp/acme/tenant/bakery/operator"}}},
		{ID: "short", Secret: "s2", Audience: []string{audience}, Lifetime: idp.Duration(time.Minute)},
		{ID: "elsewhere", Secret: "s3", Audience: []string{"another-api"}},
		{ID: strings.Repeat("x", identity.MaxSubject+1), Secret: "s4", Audience: []string{audience}},
	}
}

func TestVerifier(t *testing.T) {
	ctx := context.Background()
	p := testenv.StartIDP(t, clients()...)
	// The verifier's clock runs two minutes ahead when asked, so a token
	// with a one-minute lifetime is seen expired without waiting.
	var ahead atomic.Bool
	clock := func() time.Time {
		if ahead.Load() {
			return time.Now().Add(2 * time.Minute)
		}
		return time.Now()
	}
	v, err := identity.NewVerifier(p.Issuer, audience, identity.DefaultClaims(), identity.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	short := p.Token(t, "short", "s2")
	if _, err := v.Verify(ctx, short); err != nil {
		t.Fatalf("fresh short-lived token: %v", err)
	}
	ahead.Store(true)
	if _, err := v.Verify(ctx, short); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Fatalf("expired token: %v; want ErrUnauthenticated", err)
	}
	ahead.Store(false)
	good := p.Token(t, "integrator", "s1")
	who, err := v.Verify(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if !who.Client || who.Name != "integrator" || len(who.Grants) != 1 || who.Grants[0] != (identity.Grant{MSP: "acme", Tenant: "bakery", Role: identity.Operator}) {
		t.Fatalf("principal = %+v", who)
	}

	// A second provider (another issuer, its own keys) is not trusted.
	other := testenv.StartIDP(t, clients()...)
	payload := strings.Split(good, ".")[1]
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payload + "."
	for name, tok := range map[string]string{
		"wrong audience":   p.Token(t, "elsewhere", "s3"),
		"overlong subject": p.Token(t, strings.Repeat("x", identity.MaxSubject+1), "s4"),
		"wrong issuer":     other.Token(t, "integrator", "s1"),
		"unsigned":         unsigned,
		"garbage":          "not.a.token",
		"tampered":         good[:len(good)-4] + "AAAA",
	} {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("%s token: %v; want ErrUnauthenticated", name, err)
		}
	}

	// The provider rotates its key: new tokens carry a key id the verifier
	// has not seen, and it fetches the new key set.
	p.Rotate(t)
	p.Rotate(t)
	if _, err := v.Verify(ctx, p.Token(t, "integrator", "s1")); err != nil {
		t.Fatalf("token signed with a rotated key: %v", err)
	}
}

func TestProviderDown(t *testing.T) {
	v, err := identity.NewVerifier("http://127.0.0.1:1", audience, identity.DefaultClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), "x.y.z"); !errors.Is(err, identity.ErrProviderUnavailable) {
		t.Fatalf("provider down: %v; want ErrProviderUnavailable", err)
	}
}
