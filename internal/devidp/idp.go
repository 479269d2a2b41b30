// Package devidp is a small, real OpenID Provider for `trident dev` and the
// tests, built on zitadel/oidc's op package: discovery, a rotating
// JWKS, and a token endpoint that mints JWT access tokens with the
// client-credentials grant, carrying whatever claims each client is
// configured with, and the authorization-code flow (with PKCE) for people:
// configured users sign in on a plain login form and get ID tokens with
// their email and claims. Keycloak cannot be installed here; this speaks the same
// protocol to go-oidc.
//
// Tests run it as its own process (trident-idp, started by
// testenv.StartIDP); `trident dev` serves it in-process. Production uses a
// real provider (Keycloak).
package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Client is a confidential client. Without redirect URIs it uses the
// client-credentials grant; with them, the authorization-code flow.
type Client struct {
	ID       string         `json:"id"`
	Secret   string         `json:"secret"`
	Audience []string       `json:"audience"` // the token's aud
	Claims   map[string]any `json:"claims"`   // added to the access token
	// Lifetime of its tokens (default five minutes).
	Lifetime Duration `json:"lifetime"`
	// RedirectURIs, for the authorization-code flow: exact matches.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

// User is a person who signs in on the login form.
type User struct {
	Subject  string         `json:"subject"`
	Email    string         `json:"email"`
	Name     string         `json:"name"`
	Password string         `json:"password"`
	Claims   map[string]any `json:"claims"` // added to their ID and access tokens (groups, say)
	// AMR is how their sign-in is said to have been made (the tokens'
	// amr claim); nil: a password, ["pwd"]. ["pwd", "otp"] stands for a
	// second factor the login form does not ask for.
	AMR []string `json:"amr,omitempty"`
}

// Duration reads "5m" from JSON.
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Config configures the provider.
type Config struct {
	Clients []Client `json:"clients"`
	Users   []User   `json:"users"`
}

// New returns the provider's HTTP handler for issuer. POST /admin/rotate
// replaces the signing key, keeping the old one in the JWKS; PUT
// /admin/users/{subject} (a User as JSON) adds or changes a person, and
// DELETE removes them, as an admin does at a real provider: their next
// token refresh carries the change, or fails.
//
// People get refresh tokens with the authorization-code flow, as from
// Keycloak, rotated at each use.
func New(issuer string, cfg Config, log *slog.Logger) (http.Handler, error) {
	s := &storage{clients: map[string]*Client{}, users: map[string]*User{}, requests: map[string]*authRequest{}, codes: map[string]string{},
		refresh: map[string]*refreshToken{}}
	for i := range cfg.Users {
		s.users[cfg.Users[i].Subject] = &cfg.Users[i]
	}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		if c.Lifetime == 0 {
			c.Lifetime = Duration(5 * time.Minute)
		}
		s.clients[c.ID] = c
	}
	if err := s.rotate(); err != nil {
		return nil, err
	}
	p, err := op.NewOpenIDProvider(issuer, &op.Config{
		CryptoKey:             sha256.Sum256([]byte(issuer)),
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
	}, s, op.WithAllowInsecure(), op.WithLogger(log))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/rotate", func(w http.ResponseWriter, r *http.Request) {
		if err := s.rotate(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /admin/users/{subject}", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if err := json.NewDecoder(r.Body).Decode(&u); err != nil || u.Subject != r.PathValue("subject") {
			http.Error(w, "want a User as JSON with the path's subject", http.StatusBadRequest)
			return
		}
		s.usersMu.Lock()
		s.users[u.Subject] = &u
		s.usersMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /admin/users/{subject}", func(w http.ResponseWriter, r *http.Request) {
		s.usersMu.Lock()
		delete(s.users, r.PathValue("subject"))
		s.usersMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		id := r.PostFormValue("auth_request")
		if err := s.login(id, r.PostFormValue("username"), r.PostFormValue("password")); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			loginPage.Execute(w, map[string]string{"ID": id, "Error": err.Error()})
			return
		}
		http.Redirect(w, r, op.AuthCallbackURL(p)(op.ContextWithIssuer(r.Context(), issuer), id), http.StatusFound)
	})
	mux.Handle("/", p)
	return mux, nil
}

type key struct {
	id  string
	key *rsa.PrivateKey
}

func (k key) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k key) Key() any                                    { return k.key }
func (k key) ID() string                                  { return k.id }

type publicKey struct{ key }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.key.PublicKey }

type storage struct {
	clients map[string]*Client

	usersMu sync.RWMutex
	users   map[string]*User // by subject

	reqMu    sync.Mutex
	requests map[string]*authRequest
	codes    map[string]string // code -> request id

	mu   sync.Mutex
	keys []key // newest first; the first signs

	refreshMu sync.Mutex
	refresh   map[string]*refreshToken
}

func (s *storage) user(subject string) (*User, bool) {
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	u, ok := s.users[subject]
	return u, ok
}

// refreshToken is what a refresh token stands for; it is also the
// op.RefreshTokenRequest of its next use.
type refreshToken struct {
	subject, clientID string
	audience, scopes  []string
	amr               []string
	authTime          time.Time
	expires           time.Time
}

func (r *refreshToken) GetAMR() []string                 { return r.amr }
func (r *refreshToken) GetAudience() []string            { return r.audience }
func (r *refreshToken) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshToken) GetClientID() string              { return r.clientID }
func (r *refreshToken) GetScopes() []string              { return r.scopes }
func (r *refreshToken) GetSubject() string               { return r.subject }
func (r *refreshToken) SetCurrentScopes(scopes []string) { r.scopes = scopes }

func (s *storage) rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append([]key{{id: uuid.NewString(), key: k}}, s.keys...)
	if len(s.keys) > 2 {
		s.keys = s.keys[:2]
	}
	return nil
}

var errUnsupported = errors.New("not supported by this test provider")

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	a := &authRequest{id: uuid.NewString(), req: *req, created: time.Now()}
	// Like Keycloak, the code flow brings a refresh token without asking
	// for offline access.
	if !slices.Contains(a.req.Scopes, oidc.ScopeOfflineAccess) {
		a.req.Scopes = append(slices.Clone(a.req.Scopes), oidc.ScopeOfflineAccess)
	}
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	for id, old := range s.requests { // forget abandoned logins
		if time.Since(old.created) > 10*time.Minute {
			delete(s.requests, id)
		}
	}
	s.requests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if a, ok := s.requests[id]; ok {
		return a, nil
	}
	return nil, errors.New("unknown or expired login")
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.reqMu.Lock()
	id, ok := s.codes[code]
	s.reqMu.Unlock()
	if !ok {
		return nil, errors.New("unknown code")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// login completes a pending login with a user's password.
func (s *storage) login(id, username, password string) error {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errors.New("unknown or expired login; start again")
	}
	s.usersMu.RLock()
	defer s.usersMu.RUnlock()
	for _, u := range s.users {
		if (u.Subject == username || u.Email == username) && u.Password == password {
			a.subject, a.authTime, a.amr = u.Subject, time.Now(), u.AMR
			return nil
		}
	}
	return errors.New("wrong user name or password")
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Trident dev identity provider</title>
<style>
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #f4f6f8; --panel: #fff; --line: #d0d7de; --accent: #0b63ce; --bad: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --panel: #161b22; --line: #30363d; --accent: #4493f8; --bad: #f85149; } }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, sans-serif; }
main { width: min(22rem, 90vw); background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: 1.5rem; }
h1 { margin: 0 0 .25rem; font-size: 1.3rem; } p.note { margin: 0 0 1rem; font-size: .85rem; opacity: .75; }
label { display: flex; flex-direction: column; gap: .25rem; margin-bottom: .8rem; font-size: .9rem; }
input { font: inherit; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: .35rem; background: var(--bg); color: var(--fg); }
button { width: 100%; font: inherit; padding: .55rem; border: 0; border-radius: .35rem; background: var(--accent); color: #fff; cursor: pointer; }
[role=alert] { color: var(--bad); border: 1px solid var(--bad); border-radius: .35rem; padding: .5rem .75rem; }
</style></head>
<body><main><h1>Sign in</h1><p class="note">Trident's development identity provider: <code>trident dev</code> printed the demo sign-in.</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="auth_request" value="{{.ID}}">
<label>User <input name="username" autocomplete="username" value="{{.Hint}}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></main></body></html>`))

func (s *storage) loginForm(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("auth_request")
	hint := ""
	s.reqMu.Lock()
	if a, ok := s.requests[id]; ok {
		hint = a.req.LoginHint
	}
	s.reqMu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	loginPage.Execute(w, map[string]string{"ID": id, "Hint": hint})
}

// authRequest is a login in progress.
type authRequest struct {
	id       string
	req      oidc.AuthRequest
	created  time.Time
	subject  string
	authTime time.Time
	amr      []string
}

func (a *authRequest) GetID() string  { return a.id }
func (a *authRequest) GetACR() string { return "" }
func (a *authRequest) GetAMR() []string {
	if a.amr == nil {
		return []string{"pwd"}
	}
	return a.amr
}
func (a *authRequest) GetAudience() []string              { return []string{a.req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.req.ClientID }
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.subject != "" }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	lifetime := 5 * time.Minute
	if c, ok := s.clients[req.GetSubject()]; ok {
		lifetime = time.Duration(c.Lifetime)
	}
	return uuid.NewString(), time.Now().Add(lifetime), nil
}

// refreshLifetime bounds a refresh token, as Keycloak's SSO session idle
// time does.
const refreshLifetime = 30 * time.Minute

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	access, exp, err := s.CreateAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	rt := &refreshToken{subject: req.GetSubject(), audience: req.GetAudience(), scopes: req.GetScopes(), expires: time.Now().Add(refreshLifetime)}
	switch r := req.(type) {
	case op.AuthRequest:
		rt.clientID, rt.amr, rt.authTime = r.GetClientID(), r.GetAMR(), r.GetAuthTime()
	case op.RefreshTokenRequest:
		rt.clientID, rt.amr, rt.authTime = r.GetClientID(), r.GetAMR(), r.GetAuthTime()
	default:
		return "", "", time.Time{}, errUnsupported
	}
	token := uuid.NewString()
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	delete(s.refresh, current) // rotated: each refresh token works once
	for t, old := range s.refresh {
		if time.Now().After(old.expires) {
			delete(s.refresh, t)
		}
	}
	s.refresh[token] = rt
	return access, token, exp, nil
}

// TokenRequestByRefreshToken refuses a token used before, expired, or of a
// person removed since.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.refreshMu.Lock()
	rt, ok := s.refresh[token]
	s.refreshMu.Unlock()
	if !ok || time.Now().After(rt.expires) {
		return nil, op.ErrInvalidRefreshToken
	}
	if _, ok := s.user(rt.subject); !ok {
		return nil, op.ErrInvalidRefreshToken
	}
	c := *rt
	return &c, nil
}
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }
func (s *storage) RevokeToken(_ context.Context, token, _, _ string) *oidc.Error {
	s.refreshMu.Lock()
	delete(s.refresh, token)
	s.refreshMu.Unlock()
	return nil
}
func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if rt, ok := s.refresh[token]; ok {
		return rt.subject, token, nil
	}
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0], nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = publicKey{k}
	}
	return out, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client %q not found", id)
	}
	return client{c}, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	_, err := s.ClientCredentials(ctx, id, secret)
	return err
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, userID, _ string, _ []string) error {
	ui.Subject = userID
	if u, ok := s.user(userID); ok {
		ui.Email, ui.EmailVerified, ui.Name = u.Email, true, u.Name
		for k, v := range u.Claims {
			ui.AppendClaims(k, v)
		}
	}
	return nil
}
func (s *storage) SetUserinfoFromToken(_ context.Context, ui *oidc.UserInfo, _, subject, _ string) error {
	ui.Subject = subject
	return nil
}
func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errUnsupported
}

// GetPrivateClaimsFromScopes puts the client's configured claims (roles,
// groups) into its access tokens.
func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, clientID string, _ []string) (map[string]any, error) {
	if c, ok := s.clients[clientID]; ok && userID == clientID {
		return c.Claims, nil
	}
	if u, ok := s.user(userID); ok {
		return u.Claims, nil
	}
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errUnsupported
}
func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}
func (s *storage) Health(context.Context) error { return nil }

func (s *storage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok || c.Secret != secret {
		return nil, errors.New("wrong client id or secret")
	}
	return client{c}, nil
}

func (s *storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("unknown client")
	}
	return &oidc.JWTTokenRequest{Subject: id, Audience: c.Audience, Scopes: scopes}, nil
}

type client struct{ *Client }

func (c client) GetID() string                       { return c.ID }
func (c client) RedirectURIs() []string              { return c.Client.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string    { return nil }
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c client) ResponseTypes() []oidc.ResponseType {
	if len(c.Client.RedirectURIs) > 0 {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}
func (c client) GrantTypes() []oidc.GrantType {
	if len(c.Client.RedirectURIs) > 0 {
		return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	}
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (c client) LoginURL(id string) string            { return "/login?auth_request=" + url.QueryEscape(id) }
func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c client) DevMode() bool                        { return true }
func (c client) IsScopeAllowed(string) bool           { return true }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
