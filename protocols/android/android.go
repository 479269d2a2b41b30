// Package android serves the Android endpoints on each tenant's hostname:
// Google's signup callback, which binds the tenant's enterprise, and the
// Pub/Sub push endpoint for the Android Management API's notifications.
//
// Pub/Sub pushes are authenticated by the OIDC token Pub/Sub signs for the
// push subscription (Google's "Authenticate push subscriptions"): its
// signature against the issuer's keys (go-oidc), the audience configured
// on the subscription, and the subscription's service account as its
// verified email. The tenant is the hostname's; a notification about
// another tenant's enterprise is refused.
package android

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/tenancy"
)

// GoogleIssuer is the issuer of Pub/Sub's push tokens.
const GoogleIssuer = "https://accounts.google.com"

// PushVerifier checks Pub/Sub push tokens.
type PushVerifier struct {
	issuer, audience, email string

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewPushVerifier returns a verifier of tokens from issuer for audience,
// signed for the service account email. The issuer is discovered at the
// first push, so a start does not depend on reaching it.
func NewPushVerifier(issuer, audience, email string) *PushVerifier {
	return &PushVerifier{issuer: issuer, audience: audience, email: email}
}

// ErrUnauthenticated refuses a push without a valid token.
var ErrUnauthenticated = errors.New("the push is not authenticated by Pub/Sub's token for this subscription")

// Verify checks the Authorization header of a push.
func (v *PushVerifier) Verify(ctx context.Context, authorization string) error {
	raw, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok || raw == "" {
		return ErrUnauthenticated
	}
	v.mu.Lock()
	if v.verifier == nil {
		p, err := oidc.NewProvider(ctx, v.issuer)
		if err != nil {
			v.mu.Unlock()
			return fmt.Errorf("discover %s: %w", v.issuer, err)
		}
		v.verifier = p.Verifier(&oidc.Config{ClientID: v.audience})
	}
	verifier := v.verifier
	v.mu.Unlock()
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := tok.Claims(&claims); err != nil || !claims.EmailVerified || claims.Email != v.email {
		return fmt.Errorf("%w: signed for %q, not the push subscription's service account", ErrUnauthenticated, claims.Email)
	}
	return nil
}

// Handler serves /android/pubsub and /android/callback for the tenant in
// the request's context.
type Handler struct {
	svc    *android.Service
	dir    *tenancy.Directory
	verify *PushVerifier
	log    *slog.Logger
}

// NewHandler returns the tenant-hostname Android endpoints.
func NewHandler(svc *android.Service, dir *tenancy.Directory, verify *PushVerifier, log *slog.Logger) *Handler {
	return &Handler{svc: svc, dir: dir, verify: verify, log: log}
}

// Routes adds the endpoints to mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /android/pubsub", h.push)
	mux.HandleFunc("GET /android/callback", h.callback)
}

func (h *Handler) push(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := h.verify.Verify(ctx, r.Header.Get("Authorization")); err != nil {
		if !errors.Is(err, ErrUnauthenticated) {
			h.log.ErrorContext(ctx, "Pub/Sub token issuer unreachable", "err", err)
			http.Error(w, "cannot verify the push now", http.StatusServiceUnavailable)
			return
		}
		h.log.WarnContext(ctx, "refused an unauthenticated Pub/Sub push", "err", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	switch err := h.svc.Notify(ctx, body); {
	case err == nil:
		w.WriteHeader(http.StatusNoContent) // acknowledged
	case errors.Is(err, android.ErrBadNotification):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, android.ErrForeign):
		h.log.WarnContext(ctx, "refused a Pub/Sub push for another enterprise")
		http.Error(w, err.Error(), http.StatusForbidden)
	default:
		h.log.ErrorContext(ctx, "handle Pub/Sub push", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable) // Pub/Sub redelivers
	}
}

var page = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Android Enterprise · Trident</title></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>`))

func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, _ := tenancy.FromContext(ctx)
	t, err := h.dir.Tenant(ctx, id)
	if err != nil {
		http.Error(w, "tenant directory unavailable", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	e, err := h.svc.CompleteSignup(ctx, q.Get("state"), q.Get("enterpriseToken"), t.Name)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var ge *android.GoogleError
	switch {
	case err == nil:
		page.Execute(w, map[string]string{"Title": "Android Enterprise is connected",
			"Message": t.Name + " is bound to " + e.Name + ". You can close this page."})
	case errors.Is(err, android.ErrSignup):
		w.WriteHeader(http.StatusBadRequest)
		page.Execute(w, map[string]string{"Title": "This signup link cannot be used", "Message": err.Error()})
	case errors.As(err, &ge):
		w.WriteHeader(http.StatusBadGateway)
		page.Execute(w, map[string]string{"Title": "Google refused the enterprise", "Message": ge.Message})
	default:
		h.log.ErrorContext(ctx, "complete Android signup", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		page.Execute(w, map[string]string{"Title": "Something went wrong", "Message": "Try the link again in a moment."})
	}
}
