package windows

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/tenancy"
)

// Federated authentication (MS-MDE2 section 3.1.5.1.2): Windows opens the
// AuthenticationServiceUrl in a web view with appru (where to post the
// result) and login_hint; the page signs the person in, then posts a form
// with wresult, the security token, to appru. Windows presents that token
// to the policy and enrollment services in a BinarySecurityToken.
//
// Here the page is the tenant's: it signs the person in with the tenant's
// own OIDC provider (authorization code with PKCE, go-oidc checking the ID
// token) and answers with a one-time enrollment token. The login's state
// rides in a cookie sealed with Trident's encryption key, so any replica
// can finish what another started.

const (
	authCookie   = "trident_windows_auth"
	authLifetime = 10 * time.Minute
)

// loginState is what the sealed cookie carries between the redirect to the
// provider and its answer.
type loginState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	AppRU    string    `json:"a"`
	Expires  time.Time `json:"e"`
}

func authContext(ctx context.Context) string {
	t, _ := tenancy.FromContext(ctx)
	return "windows-auth:" + t.String()
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// providers caches discovered OIDC providers for an hour.
type providers struct {
	mu sync.Mutex
	m  map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

func (ps *providers) get(ctx context.Context, issuer string) (*oidc.Provider, error) {
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
		ps.m = map[string]cachedProvider{}
	}
	ps.m[issuer] = cachedProvider{p: p, fetched: time.Now()}
	ps.mu.Unlock()
	return p, nil
}

// federation is the tenant's federated sign-in, if it has one.
func (h *Handler) federation(ctx context.Context) (enrollment.Federation, error) {
	var f enrollment.Federation
	err := h.db.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		f, err = h.enroll.Federation(ctx, tx)
		return err
	})
	return f, err
}

func (h *Handler) oauth(r *http.Request, f enrollment.Federation, p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: f.ClientID, ClientSecret: f.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: h.url(r, AuthPath+"/callback"), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

var authPages = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Enrollment · Trident</title></head>
<body><h1>This device cannot be enrolled yet</h1><p role="alert">{{.}}</p>
<p>Close this window and ask your IT administrator.</p></body></html>
{{define "done"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Enrollment · Trident</title></head>
<body onload="document.forms[0].submit()"><h1>Signed in</h1><p>Finishing the enrollment of this device…</p>
<form method="post" action="{{.AppRU}}"><input type="hidden" name="wresult" value="{{.Token}}">
<noscript><button type="submit">Continue</button></noscript></form></body></html>{{end}}`))

func (h *Handler) authError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.log.InfoContext(r.Context(), "windows federated sign-in refused", "status", code, "reason", msg)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	authPages.Execute(w, msg)
}

// authStart begins the sign-in: it remembers where Windows wants the
// result and sends the person to the tenant's provider.
func (h *Handler) authStart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	appru := q.Get("appru")
	// Only Windows' own enrollment app may receive the token: any other
	// address would hand a signed-in person's enrollment to a stranger.
	if !strings.HasPrefix(strings.ToLower(appru), "ms-app://") || len(appru) > 2000 || strings.ContainsAny(appru, "\"<>\n\r") {
		h.authError(w, r, http.StatusBadRequest, "This page is for Windows' device enrollment (appru must be an ms-app:// address).")
		return
	}
	f, err := h.federation(r.Context())
	if errors.Is(err, enrollment.ErrNoFederation) {
		h.authError(w, r, http.StatusNotFound, "Federated sign-in is not set up for this organization.")
		return
	} else if err != nil {
		h.log.ErrorContext(r.Context(), "windows federated sign-in", "err", err)
		h.authError(w, r, http.StatusInternalServerError, "The enrollment service failed; try again.")
		return
	}
	p, err := h.providers.get(r.Context(), f.Issuer)
	if err != nil {
		h.log.WarnContext(r.Context(), "windows federated sign-in: provider unreachable", "issuer", f.Issuer, "err", err)
		h.authError(w, r, http.StatusBadGateway, "The organization's sign-in service cannot be reached; try again later.")
		return
	}
	st := loginState{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), AppRU: appru, Expires: h.opts.Now().Add(authLifetime)}
	b, _ := json.Marshal(st)
	sealed, err := h.opts.Keys.Seal(b, authContext(r.Context()))
	if err != nil {
		h.authError(w, r, http.StatusInternalServerError, "The enrollment service failed; try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: authCookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: AuthPath,
		MaxAge: int(authLifetime / time.Second), HttpOnly: true, Secure: h.opts.Scheme == "https", SameSite: http.SameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)}
	if hint := q.Get("login_hint"); hint != "" && len(hint) <= 320 {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.oauth(r, f, p).AuthCodeURL(st.State, opts...), http.StatusFound)
}

// authCallback finishes the sign-in: the code for tokens, the ID token
// checked, the person allowed, and an enrollment token posted to Windows.
func (h *Handler) authCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.authError(w, r, http.StatusBadRequest, "The sign-in did not complete: "+e+" "+q.Get("error_description"))
		return
	}
	c, err := r.Cookie(authCookie)
	var st loginState
	if err == nil {
		var sealed []byte
		if sealed, err = base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			var plain []byte
			if plain, err = h.opts.Keys.Open(sealed, authContext(ctx)); err == nil {
				err = json.Unmarshal(plain, &st)
			}
		}
	}
	if err != nil || h.opts.Now().After(st.Expires) ||
		subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		h.authError(w, r, http.StatusBadRequest, "This sign-in expired or was not started here; start the enrollment again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: authCookie, Value: "", Path: AuthPath, MaxAge: -1, HttpOnly: true,
		Secure: h.opts.Scheme == "https", SameSite: http.SameSiteLaxMode})
	f, err := h.federation(ctx)
	if err != nil {
		h.authError(w, r, http.StatusNotFound, "Federated sign-in is not set up for this organization.")
		return
	}
	p, err := h.providers.get(ctx, f.Issuer)
	if err != nil {
		h.authError(w, r, http.StatusBadGateway, "The organization's sign-in service cannot be reached; try again later.")
		return
	}
	xctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := h.oauth(r, f, p).Exchange(xctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		h.authError(w, r, http.StatusBadGateway, "The organization's sign-in service refused the sign-in: "+err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: f.ClientID}).Verify(xctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		h.authError(w, r, http.StatusBadGateway, "The sign-in service's answer did not verify.")
		return
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
		UPN           string `json:"upn"` // Entra ID
	}
	idt.Claims(&claims)
	if claims.Email == "" {
		claims.Email = claims.UPN
	}
	person := enrollment.Person{Subject: idt.Subject, Email: claims.Email, EmailVerified: claims.EmailVerified == nil || *claims.EmailVerified}
	var token enrollment.Token
	err = h.db.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		token, err = h.enroll.FederatedToken(ctx, tx, f, person)
		return err
	})
	if errors.Is(err, enrollment.ErrNotAllowed) {
		h.authError(w, r, http.StatusForbidden, err.Error())
		return
	} else if err != nil {
		h.log.ErrorContext(ctx, "windows federated sign-in", "err", err)
		h.authError(w, r, http.StatusInternalServerError, "The enrollment service failed; try again.")
		return
	}
	h.log.InfoContext(ctx, "windows federated sign-in", "subject", person.Subject, "email", person.Email)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	authPages.ExecuteTemplate(w, "done", map[string]any{"AppRU": template.URL(st.AppRU), "Token": token.Secret})
}
