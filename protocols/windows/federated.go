package windows

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tridentmdm/trident/internal/oidclogin"
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

// login is the tenant's federated sign-in: its state cookie is sealed to
// the tenant, so a login started on one tenant's page does not finish on
// another's.
func (h *Handler) login(ctx context.Context) oidclogin.Login {
	t, _ := tenancy.FromContext(ctx)
	return oidclogin.Login{Keys: h.opts.Keys, Cookie: "trident_windows_auth", Path: AuthPath, Context: "windows-auth:" + t.String(),
		Secure: h.opts.Scheme == "https", Lifetime: 10 * time.Minute, Now: h.opts.Now}
}

// Why a callback's setup failed.
var (
	errNoSignIn    = errors.New("no federated sign-in")
	errUnreachable = errors.New("provider unreachable")
)

// federation is the tenant's federated sign-in, if it has one.
func (h *Handler) federation(ctx context.Context) (enrollment.Federation, error) {
	return h.enroll.Federation(ctx)
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
	p, err := h.providers.Get(h.outward(r.Context()), f.Issuer)
	if err != nil {
		h.log.WarnContext(r.Context(), "windows federated sign-in: provider unreachable", "issuer", f.Issuer, "err", err)
		h.authError(w, r, http.StatusBadGateway, "The organization's sign-in service cannot be reached; try again later.")
		return
	}
	var opts []oauth2.AuthCodeOption
	if hint := q.Get("login_hint"); hint != "" && len(hint) <= 320 {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	to, err := h.login(r.Context()).Begin(w, h.oauth(r, f, p), appru, opts...)
	if err != nil {
		h.authError(w, r, http.StatusInternalServerError, "The enrollment service failed; try again.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusFound)
}

// outward is ctx with the egress guard's client for go-oidc (discovery,
// the key set it keeps) and oauth2 (the token exchange): every request
// the tenant's provider configuration aims goes through the guard.
func (h *Handler) outward(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, h.outbound)
}

// authCallback finishes the sign-in: the code for tokens, the ID token
// checked, the person allowed, and an enrollment token posted to Windows.
func (h *Handler) authCallback(w http.ResponseWriter, r *http.Request) {
	ctx := h.outward(r.Context())
	var f enrollment.Federation
	idt, appru, err := h.login(ctx).Finish(ctx, w, r, func() (*oidc.Provider, *oauth2.Config, error) {
		var err error
		if f, err = h.federation(ctx); err != nil {
			return nil, nil, errNoSignIn
		}
		p, err := h.providers.Get(ctx, f.Issuer)
		if err != nil {
			return nil, nil, errUnreachable
		}
		return p, h.oauth(r, f, p), nil
	})
	switch {
	case errors.Is(err, oidclogin.ErrDenied):
		h.authError(w, r, http.StatusBadRequest, "The sign-in did not complete: "+oidclogin.Detail(err))
		return
	case errors.Is(err, oidclogin.ErrState):
		h.authError(w, r, http.StatusBadRequest, "This sign-in expired or was not started here; start the enrollment again.")
		return
	case errors.Is(err, errNoSignIn):
		h.authError(w, r, http.StatusNotFound, "Federated sign-in is not set up for this organization.")
		return
	case errors.Is(err, errUnreachable):
		h.authError(w, r, http.StatusBadGateway, "The organization's sign-in service cannot be reached; try again later.")
		return
	case errors.Is(err, oidclogin.ErrExchange):
		h.authError(w, r, http.StatusBadGateway, "The organization's sign-in service refused the sign-in: "+oidclogin.Detail(err))
		return
	case err != nil:
		h.authError(w, r, http.StatusBadGateway, "The sign-in service's answer did not verify.")
		return
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified *bool  `json:"email_verified"`
		UPN           string `json:"upn"` // Entra ID
	}
	idt.Claims(&claims)
	person := federatedPerson(idt.Subject, claims.Email, claims.UPN, claims.EmailVerified)
	token, err := h.enroll.FederatedToken(ctx, f, person)
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
	authPages.ExecuteTemplate(w, "done", map[string]any{"AppRU": template.URL(appru), "Token": token.Secret})
}

// federatedPerson is who signed in, and whether their address is one the
// provider verified: email_verified when the token says; otherwise Entra
// ID's upn (the directory's sign-in name, on a domain the organization
// proved it owns); an email with neither is not verified (an Entra email
// claim is whatever the user's profile says: the "nOAuth" takeover).
func federatedPerson(subject, email, upn string, verified *bool) enrollment.Person {
	switch {
	case verified != nil:
		if email == "" {
			email = upn
		}
		return enrollment.Person{Subject: subject, Email: email, EmailVerified: *verified}
	case upn != "":
		return enrollment.Person{Subject: subject, Email: upn, EmailVerified: true}
	}
	return enrollment.Person{Subject: subject, Email: email, EmailVerified: false}
}
