package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrUnauthenticated wraps every reason a token is refused.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrProviderUnavailable means the OIDC provider's discovery document or
// keys could not be fetched: a 503, not the caller's fault.
var ErrProviderUnavailable = errors.New("identity provider unavailable")

// Verifier checks bearer tokens issued by one OIDC provider for one
// audience.
type Verifier struct {
	issuer, audience string
	claims           ClaimsConfig
	client           *http.Client
	now              func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

// Option tunes a Verifier.
type Option func(*Verifier)

// WithHTTPClient fetches discovery and keys with c.
func WithHTTPClient(c *http.Client) Option { return func(v *Verifier) { v.client = c } }

// WithClock makes the verifier judge expiry by now instead of the wall
// clock.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// NewVerifier returns a verifier for tokens from issuer whose audience
// includes audience (the API's client id). Discovery happens on first use
// and is retried (at most every few seconds) until it succeeds, so Trident
// starts even while the provider is down.
func NewVerifier(issuer, audience string, claims ClaimsConfig, opts ...Option) (*Verifier, error) {
	if issuer == "" || audience == "" {
		return nil, errors.New("identity: the OIDC issuer and audience are both required")
	}
	v := &Verifier{issuer: issuer, audience: audience, claims: claims,
		client: &http.Client{Timeout: 10 * time.Second}, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// MaxSubject is the longest subject OIDC allows (Core 1.0, 2: "It MUST
// NOT exceed 255 ASCII characters in length"); the audit log keeps
// subjects whole up to it.
const MaxSubject = 255

func (v *Verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if time.Since(v.lastTry) < 3*time.Second && v.lastErr != nil {
		return nil, v.lastErr
	}
	v.lastTry = time.Now()
	// The key set outlives this request: it refetches the JWKS when a token
	// names a key it does not know (rotation).
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), v.client)
	dctx, cancel := context.WithTimeout(pctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.issuer)
	if err != nil {
		v.lastErr = fmt.Errorf("%w: discovery at %s: %v", ErrProviderUnavailable, v.issuer, err)
		return nil, v.lastErr
	}
	keys := oidc.NewRemoteKeySet(pctx, jwksURL(p))
	v.verifier = oidc.NewVerifier(v.issuer, keys, &oidc.Config{ClientID: v.audience, Now: v.now,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256}})
	return v.verifier, nil
}

func jwksURL(p *oidc.Provider) string {
	var doc struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&doc)
	return doc.JWKS
}

// Verify checks a raw bearer token and returns its caller.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	ver, err := v.get(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrUnauthenticated, err)
	}
	if tok.Subject == "" {
		return nil, fmt.Errorf("%w: the token has no subject", ErrUnauthenticated)
	}
	if len(tok.Subject) > MaxSubject {
		return nil, fmt.Errorf("%w: the token's subject is longer than OIDC allows (%d characters)", ErrUnauthenticated, MaxSubject)
	}
	return v.claims.principal(tok.Subject, claims, v.audience), nil
}
