// Package oidclogin is the OpenID Connect sign-in Trident's own pages run:
// the authorization-code flow with PKCE and a nonce, go-oidc checking the
// ID token. The login's state (state, nonce, verifier, and a value the
// page carries across, such as where to go afterwards) rides in a cookie
// sealed with Trident's encryption key, so any replica can finish what
// another started. The dashboard's sign-in and Windows' federated
// enrollment both use it.
package oidclogin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tridentmdm/trident/internal/seal"
)

// Errors Finish returns, for the page to answer.
var (
	// ErrDenied is the provider's refusal (an error parameter).
	ErrDenied = errors.New("the sign-in did not complete")
	// ErrState is a callback without a current login of this browser's.
	ErrState = errors.New("this sign-in expired or was not started here")
	// ErrExchange is the provider refusing the code.
	ErrExchange = errors.New("the sign-in service refused the sign-in")
	// ErrVerify is an ID token that does not verify.
	ErrVerify = errors.New("the sign-in service's answer did not verify")
)

// Failure is ErrDenied or ErrExchange with what the provider said.
type Failure struct {
	Reason error
	Detail string
}

func (f *Failure) Error() string { return f.Reason.Error() + ": " + f.Detail }
func (f *Failure) Unwrap() error { return f.Reason }

// oauthCode is an OAuth 2.0 error code (RFC 6749 5.2: printable ASCII
// without quote or backslash; the registered ones are lower case and _).
var oauthCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// exchangeDetail is what may be shown of a refused token exchange: the
// token endpoint's OAuth error code, and nothing else of its answer. The
// endpoint is a URL a tenant's configuration names; its body is never
// echoed to a person (it could be any internal service's).
func exchangeDetail(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && oauthCode.MatchString(re.ErrorCode) {
		return re.ErrorCode
	}
	return "no usable answer"
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Detail is what the provider said of a failure, if anything.
func Detail(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return f.Detail
	}
	return ""
}

// Login is one kind of sign-in: its cookie, and what seals it.
type Login struct {
	Keys     *seal.Keyring
	Cookie   string // the cookie's name
	Path     string // the cookie's path: the pages of the sign-in
	Context  string // the sealing context: a cookie of another kind (or tenant) does not open
	Secure   bool   // the cookie only over https
	Lifetime time.Duration
	Now      func() time.Time // time.Now by default
	// Tokens, when set, hears the provider's tokens of a sign-in that
	// verified (to keep its refresh token).
	Tokens func(*oauth2.Token)
}

type state struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Carry    string    `json:"a"`
	Expires  time.Time `json:"e"`
}

// Random is 24 random bytes, base64url: states, nonces, CSRF tokens.
func Random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (l Login) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Begin remembers carry in the login's cookie and returns the provider's
// authorization URL to send the browser to.
func (l Login) Begin(w http.ResponseWriter, cfg *oauth2.Config, carry string, opts ...oauth2.AuthCodeOption) (string, error) {
	st := state{State: Random(), Nonce: Random(), Verifier: oauth2.GenerateVerifier(), Carry: carry, Expires: l.now().Add(l.Lifetime)}
	b, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	sealed, err := l.Keys.Seal(b, l.Context)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: l.Cookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: l.Path,
		MaxAge: int(l.Lifetime / time.Second), HttpOnly: true, Secure: l.Secure, SameSite: http.SameSiteLaxMode})
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)}, opts...)
	return cfg.AuthCodeURL(st.State, opts...), nil
}

// Finish checks the provider's callback against this browser's login
// (constant-time state, expiry), clears the cookie, then exchanges the
// code with the PKCE verifier and verifies the ID token (signature,
// issuer, audience, nonce). setup gives the provider and client once the
// callback is known to be this browser's; its error is returned as it is.
// It returns the ID token and the value Begin carried.
func (l Login) Finish(ctx context.Context, w http.ResponseWriter, r *http.Request,
	setup func() (*oidc.Provider, *oauth2.Config, error)) (*oidc.IDToken, string, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return nil, "", &Failure{Reason: ErrDenied, Detail: cut(e+" "+q.Get("error_description"), 200)}
	}
	var st state
	c, err := r.Cookie(l.Cookie)
	if err == nil {
		var sealed []byte
		if sealed, err = base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			var plain []byte
			if plain, err = l.Keys.Open(sealed, l.Context); err == nil {
				err = json.Unmarshal(plain, &st)
			}
		}
	}
	if err != nil || l.now().After(st.Expires) || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return nil, "", ErrState
	}
	http.SetCookie(w, &http.Cookie{Name: l.Cookie, Value: "", Path: l.Path, MaxAge: -1, HttpOnly: true, Secure: l.Secure,
		SameSite: http.SameSiteLaxMode})
	p, cfg, err := setup()
	if err != nil {
		return nil, "", err
	}
	xctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := cfg.Exchange(xctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, "", &Failure{Reason: ErrExchange, Detail: exchangeDetail(err)}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(xctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, "", ErrVerify
	}
	if l.Tokens != nil {
		l.Tokens(tok)
	}
	return idt, st.Carry, nil
}

// Refresh trades a refresh token for fresh tokens and returns the new ID
// token, verified, and the refresh token to keep (the provider's new one
// when it rotates them). A provider that refuses (the person was removed,
// the session ended, the token was revoked) gives a Failure with
// ErrExchange; one that cannot be reached, another error.
func Refresh(ctx context.Context, p *oidc.Provider, cfg *oauth2.Config, refresh string) (*oidc.IDToken, string, error) {
	xctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := cfg.TokenSource(xctx, &oauth2.Token{RefreshToken: refresh, Expiry: time.Unix(1, 0)}).Token()
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		return nil, "", &Failure{Reason: ErrExchange, Detail: exchangeDetail(err)}
	case err != nil:
		return nil, "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", ErrVerify // no ID token: nothing to read roles from
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(xctx, raw)
	if err != nil {
		return nil, "", ErrVerify
	}
	next := tok.RefreshToken
	if next == "" {
		next = refresh
	}
	return idt, next, nil
}

// Providers caches discovered OIDC providers by issuer for an hour.
type Providers struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	p       *oidc.Provider
	fetched time.Time
}

// Get returns issuer's provider, discovering it when not cached (or
// cached more than an hour ago).
func (ps *Providers) Get(ctx context.Context, issuer string) (*oidc.Provider, error) {
	ps.mu.Lock()
	c, ok := ps.m[issuer]
	ps.mu.Unlock()
	if ok && time.Since(c.fetched) < time.Hour {
		return c.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	if ps.m == nil {
		ps.m = map[string]cached{}
	}
	ps.m[issuer] = cached{p: p, fetched: time.Now()}
	ps.mu.Unlock()
	return p, nil
}
