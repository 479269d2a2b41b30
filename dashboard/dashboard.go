// Package dashboard is the admin UI: server-rendered HTML (html/template)
// with htmx and its SSE extension, embedded in the binary. People sign in
// with the same OIDC provider as the API (authorization code with PKCE);
// what they see is what their roles allow, tenant by tenant, exactly as in
// the API (identity.Principal).
//
// Sessions are cookies sealed with Trident's encryption key (HttpOnly,
// SameSite=Lax, Secure over https), so any replica serves any request.
// Every form carries the session's CSRF token.
package dashboard

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/tridentmdm/trident/internal/logctx"
	"github.com/tridentmdm/trident/internal/oidclogin"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

//go:embed assets
var assets embed.FS

// Options configure the dashboard.
type Options struct {
	Issuer       string // the OIDC provider, the API's
	ClientID     string // the dashboard's client at the provider (authorization code)
	ClientSecret string
	Audience     string // the API's audience, whose client roles count
	Claims       identity.ClaimsConfig
	// BaseURL is where people reach the platform (https://mdm.example.com):
	// the redirect URI is BaseURL + "/dashboard/callback".
	BaseURL string
	Keys    *seal.Keyring
	// StreamsPerPerson is how many live pages one person may hold open at
	// once, per process (0: events.DefaultStreams).
	StreamsPerPerson int
	// SessionLifetime bounds a sign-in (default 8 hours).
	SessionLifetime time.Duration
	// RolesEvery is how old a session's roles may get before they are read
	// again from the provider with the sign-in's refresh token (default
	// five minutes): a role removed at the provider ends within it. A
	// provider that refuses the refresh ends the session.
	RolesEvery time.Duration
	// Bus and Events feed live pages (nil: pages show what was there when
	// they loaded).
	Bus    *events.Bus
	Events *events.Store
	// Compliance and Audit feed the overview and the audit log (nil: those
	// parts are not shown).
	Compliance *compliance.Compliance
	Audit      *audit.Store
	// Windows makes enrollment tokens (nil: Windows is off), and DeviceURL
	// is where a tenant's devices reach it.
	Windows   *enrollment.Windows
	DeviceURL func(tenancy.Tenant) string
	// Apple makes enrollment profiles and keeps the push certificate
	// (nil: Apple is off); DEP keeps ABM tokens and ADE profiles, Android
	// the tenant's enterprise, policies and enrollment tokens (nil: off).
	Apple   Apple
	DEP     *dep.Service
	Android *android.Service
	// Webhooks and Publisher manage the tenant's webhooks (nil: the page
	// is off).
	Webhooks  *events.Webhooks
	Publisher *events.Publisher
	// Tenants changes the tenant's name and hostnames (settings).
	Tenants *tenants.Service
	// Grants is the access policy (identity.Delegations.In), as the API's.
	Grants *identity.Delegations
	// Jobs queues background work: group commands (nil: none).
	Jobs events.Jobs
	// PKI shows devices' identity certificates and their expiry (nil:
	// not shown).
	PKI *pki.PKI
	// Alerts finds what needs an admin in a tenant (expiring push
	// certificates, ABM tokens that stopped syncing); nil for none.
	Alerts func(ctx context.Context, t tenancy.Tenant) ([]Alert, error)
	// MSP reads the MSP console that an MSP admin's home page is (nil:
	// the home lists tenants alone); Changes wakes its live stream (nil:
	// no live console).
	MSP     *msp.Service
	Changes *msp.Changes
}

// Alert is something in a tenant that needs an admin.
type Alert struct {
	Text string
	Link string // where to fix it, if the dashboard has a page for it
}

// Dashboard serves the admin UI.
type Dashboard struct {
	db   *tenancy.DB
	dir  *tenancy.Directory
	inv  *inventory.Inventory
	cmds *commands.Queue
	opts Options
	log  *slog.Logger

	providers oidclogin.Providers
	sessions  *identity.Sessions
	renders   renderCache        // live rows, rendered once per event
	streams   events.StreamLimit // open live streams per person
}

// New returns the dashboard.
func New(db *tenancy.DB, dir *tenancy.Directory, inv *inventory.Inventory, cmds *commands.Queue, o Options, log *slog.Logger) (*Dashboard, error) {
	if o.Issuer == "" || o.ClientID == "" || o.Keys == nil || o.BaseURL == "" {
		return nil, errors.New("dashboard: issuer, client id, base URL and keys are required")
	}
	if o.RolesEvery <= 0 {
		o.RolesEvery = 5 * time.Minute
	}
	if o.SessionLifetime == 0 {
		o.SessionLifetime = 8 * time.Hour
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Publisher == nil {
		o.Publisher = events.NewPublisher(nil)
	}
	if o.Tenants == nil {
		o.Tenants = tenants.New(db, dir, o.Publisher)
	}
	if o.Audit == nil {
		o.Audit = audit.NewStore(db, o.Publisher)
	}
	if o.Grants == nil {
		o.Grants = identity.NewDelegations(db, o.Publisher, inv)
	}
	return &Dashboard{db: db, dir: dir, inv: inv, cmds: cmds, opts: o, log: log, sessions: identity.NewSessions(db, o.Keys),
		streams: events.StreamLimit{Max: o.StreamsPerPerson}}, nil
}

// Routes adds the dashboard to the platform's mux.
func (d *Dashboard) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /dashboard/assets/", http.StripPrefix("/dashboard/assets/", cacheable(http.FileServerFS(static))))
	mux.HandleFunc("GET /dashboard/login", d.login)
	mux.HandleFunc("GET /dashboard/callback", d.callback)
	mux.HandleFunc("POST /dashboard/logout", d.signedIn(d.logout))
	mux.HandleFunc("GET /dashboard/{$}", d.signedIn(d.home))
	mux.HandleFunc("POST /dashboard/tenants", d.signedIn(d.createTenant))
	mux.HandleFunc("GET /dashboard/t/{tenant}/{$}", d.signedIn(d.overview))
	mux.HandleFunc("GET /dashboard/t/{tenant}/audit", d.signedIn(d.auditLog))
	mux.HandleFunc("GET /dashboard/msps/{msp}/live", d.signedIn(d.consoleLive))
	mux.HandleFunc("GET /dashboard/msps/{msp}/devices", d.signedIn(d.searchPage))
	mux.HandleFunc("GET /dashboard/msps/{msp}/baselines", d.signedIn(d.baselinesPage))
	mux.HandleFunc("POST /dashboard/msps/{msp}/baselines", d.signedIn(d.createBaseline))
	mux.HandleFunc("GET /dashboard/msps/{msp}/baselines/{id}", d.signedIn(d.baselinePage))
	mux.HandleFunc("POST /dashboard/msps/{msp}/baselines/{id}", d.signedIn(d.changeBaseline))
	mux.HandleFunc("GET /dashboard/msps/{msp}/operations", d.signedIn(d.operationsPage))
	mux.HandleFunc("POST /dashboard/msps/{msp}/operations", d.signedIn(d.runOperation))
	mux.HandleFunc("GET /dashboard/msps/{msp}/operations/fields", d.signedIn(d.operationFields))
	mux.HandleFunc("GET /dashboard/msps/{msp}/operations/{id}", d.signedIn(d.operationPage))
	mux.HandleFunc("GET /dashboard/t/{tenant}/reports", d.signedIn(d.reportsPage))
	mux.HandleFunc("GET /dashboard/t/{tenant}/reports/{report}", d.signedIn(d.reportCSV))
	mux.HandleFunc("GET /dashboard/t/{tenant}/enroll", d.signedIn(d.enrollPage))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/windows", d.signedIn(d.windowsToken))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/apple/profile", d.signedIn(d.appleProfile))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/apple/push/request", d.signedIn(d.pushRequest))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/apple/push", d.signedIn(d.pushUpload))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/android/signup", d.signedIn(d.androidSignup))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/android/tokens", d.signedIn(d.androidToken))
	mux.HandleFunc("POST /dashboard/t/{tenant}/enroll/android/tokens/{token}/revoke", d.signedIn(d.androidRevoke))
	mux.HandleFunc("GET /dashboard/t/{tenant}/enroll/android/tokens/{token}/qr.png", d.signedIn(d.androidQR))
	mux.HandleFunc("GET /dashboard/t/{tenant}/compliance", d.signedIn(d.rules))
	mux.HandleFunc("POST /dashboard/t/{tenant}/compliance/rules", d.signedIn(d.createRule))
	mux.HandleFunc("POST /dashboard/t/{tenant}/compliance/rules/{rule}", d.signedIn(d.changeRule))
	mux.HandleFunc("GET /dashboard/t/{tenant}/profiles", d.signedIn(d.profiles))
	mux.HandleFunc("POST /dashboard/t/{tenant}/profiles/install", d.signedIn(d.installProfile))
	mux.HandleFunc("GET /dashboard/t/{tenant}/abm", d.signedIn(d.abm))
	mux.HandleFunc("POST /dashboard/t/{tenant}/abm/tokens", d.signedIn(d.createABMToken))
	mux.HandleFunc("GET /dashboard/t/{tenant}/abm/tokens/{token}/certificate", d.signedIn(d.abmCertificate))
	mux.HandleFunc("POST /dashboard/t/{tenant}/abm/tokens/{token}/server-token", d.signedIn(d.uploadABMToken))
	mux.HandleFunc("POST /dashboard/t/{tenant}/abm/tokens/{token}", d.signedIn(d.changeABMToken))
	mux.HandleFunc("GET /dashboard/t/{tenant}/webhooks", d.signedIn(d.webhooks))
	mux.HandleFunc("POST /dashboard/t/{tenant}/webhooks", d.signedIn(d.createWebhook))
	mux.HandleFunc("GET /dashboard/t/{tenant}/webhooks/{id}", d.signedIn(d.webhook))
	mux.HandleFunc("POST /dashboard/t/{tenant}/webhooks/{id}", d.signedIn(d.changeWebhook))
	mux.HandleFunc("GET /dashboard/t/{tenant}/webhooks/{id}/deliveries/{delivery}", d.signedIn(d.deliveryBody))
	mux.HandleFunc("POST /dashboard/t/{tenant}/webhooks/{id}/deliveries/{delivery}/redeliver", d.signedIn(d.redeliver))
	mux.HandleFunc("GET /dashboard/t/{tenant}/webhooks/{id}/deliveries/{delivery}/row", d.signedIn(d.deliveryRowPage))
	mux.HandleFunc("GET /dashboard/t/{tenant}/settings", d.signedIn(d.settings))
	mux.HandleFunc("GET /dashboard/t/{tenant}/branding/logo", d.signedIn(d.brandLogo))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/branding", d.signedIn(d.setBranding))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/branding/logo", d.signedIn(d.setLogo))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/branding/logo/remove", d.signedIn(d.removeLogo))
	mux.HandleFunc("GET /dashboard/t/{tenant}/access", d.signedIn(d.accessPage))
	mux.HandleFunc("POST /dashboard/t/{tenant}/access/setting", d.signedIn(d.setMSPAccess))
	mux.HandleFunc("POST /dashboard/t/{tenant}/access/grants/{id}/approve", d.signedIn(d.approveGrant))
	mux.HandleFunc("POST /dashboard/t/{tenant}/access/grants/{id}/deny", d.signedIn(d.denyGrant))
	mux.HandleFunc("POST /dashboard/t/{tenant}/access/grants/{id}/revoke", d.signedIn(d.revokeGrant))
	mux.HandleFunc("POST /dashboard/t/{tenant}/access/request", d.signedIn(d.requestGrant))
	mux.HandleFunc("GET /dashboard/t/{tenant}/brand.css", d.signedIn(d.brandCSS))
	mux.HandleFunc("GET /dashboard/t/{tenant}/people", d.signedIn(d.people))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/name", d.signedIn(d.renameTenant))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/tags", d.signedIn(d.setTags))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/status", d.signedIn(d.setStatus))
	mux.HandleFunc("GET /dashboard/t/{tenant}/export", d.signedIn(d.exportTenant))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/hostnames", d.signedIn(d.addHostname))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/hostnames/remove", d.signedIn(d.removeHostname))
	mux.HandleFunc("POST /dashboard/t/{tenant}/settings/hostnames/verify", d.signedIn(d.verifyHostname))
	mux.HandleFunc("GET /dashboard/t/{tenant}/groups", d.signedIn(d.groups))
	mux.HandleFunc("POST /dashboard/t/{tenant}/groups", d.signedIn(d.createGroup))
	mux.HandleFunc("POST /dashboard/t/{tenant}/groups/{group}/delete", d.signedIn(d.deleteGroup))
	mux.HandleFunc("GET /dashboard/t/{tenant}/devices", d.signedIn(d.devices))
	mux.HandleFunc("GET /dashboard/t/{tenant}/devices.csv", d.signedIn(d.exportDevices))
	mux.HandleFunc("POST /dashboard/t/{tenant}/devices/bulk", d.signedIn(d.bulkDevices))
	mux.HandleFunc("POST /dashboard/t/{tenant}/devices/views", d.signedIn(d.saveView))
	mux.HandleFunc("POST /dashboard/t/{tenant}/devices/views/{view}/delete", d.signedIn(d.deleteView))
	mux.HandleFunc("POST /dashboard/t/{tenant}/commands/group", d.signedIn(d.groupCommand))
	mux.HandleFunc("GET /dashboard/t/{tenant}/commands/group/fields", d.signedIn(d.groupFields))
	mux.HandleFunc("GET /dashboard/t/{tenant}/live", d.signedIn(d.live))
	mux.HandleFunc("GET /dashboard/t/{tenant}/devices/{device}", d.signedIn(d.device))
	mux.HandleFunc("POST /dashboard/t/{tenant}/devices/{device}/commands", d.signedIn(d.send))
	mux.HandleFunc("POST /dashboard/t/{tenant}/commands/{command}/cancel", d.signedIn(d.cancel))
	mux.HandleFunc("GET /dashboard/t/{tenant}/commands", d.signedIn(d.commandsPage))
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusFound)
	})
}

func cacheable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

func (d *Dashboard) secure() bool { return strings.HasPrefix(d.opts.BaseURL, "https://") }

// session is a signed-in person, as the sealed cookie carries them.
type session struct {
	Subject  string           `json:"sub"`
	Name     string           `json:"name"`
	MSPAdmin []string         `json:"msp_admin,omitempty"`
	MSPTech  []string         `json:"msp_technician,omitempty"`
	Grants   []identity.Grant `json:"grants,omitempty"`
	MFA      bool             `json:"mfa,omitempty"` // signed in with a second factor
	CSRF     string           `json:"csrf"`
	// Refresh is the provider's refresh token, and RolesAt when the roles
	// above were last read from the provider.
	Refresh string    `json:"refresh,omitempty"`
	RolesAt time.Time `json:"roles_at"`

	// access is the policy's answer per tenant, asked once a request.
	access map[uuid.UUID]identity.Access
}

func (s *session) principal() *identity.Principal {
	return &identity.Principal{Subject: s.Subject, Name: s.Name, MSPAdmin: s.MSPAdmin, MSPTechnician: s.MSPTech, Grants: s.Grants, MFA: s.MFA}
}

const (
	sessionCookie = "trident_session"
	loginCookie   = "trident_login"
)

// startSession keeps s server-side (identity.Sessions) and gives the
// browser its token in the session cookie.
func (d *Dashboard) startSession(w http.ResponseWriter, r *http.Request, s session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	token, err := d.sessions.Start(r.Context(), s.Subject, b, d.opts.SessionLifetime)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/dashboard",
		MaxAge: int(d.opts.SessionLifetime / time.Second), HttpOnly: true, Secure: d.secure(), SameSite: http.SameSiteLaxMode})
	return nil
}

func (d *Dashboard) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/dashboard", MaxAge: -1, HttpOnly: true, Secure: d.secure(),
		SameSite: http.SameSiteLaxMode})
}

// currentSession is the session the request's cookie names, while it
// lasts and has not been ended.
func (d *Dashboard) currentSession(r *http.Request) (session, error) {
	var s session
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return s, err
	}
	b, err := d.sessions.Get(r.Context(), c.Value)
	if err != nil {
		return s, err
	}
	if err = json.Unmarshal(b, &s); err != nil || time.Since(s.RolesAt) < d.opts.RolesEvery {
		return s, err
	}
	return d.renewRoles(r, c.Value, s)
}

// errNoRefresh is a session whose provider gave no refresh token: its
// roles can be read again only by signing in again.
var errNoRefresh = errors.New("the sign-in has no refresh token")

// renewRoles reads the person's roles again from the provider, with the
// sign-in's refresh token. A provider that refuses (the person or their
// session is gone) ends the session; one that cannot be reached leaves the
// old roles in force for a while (three times RolesEvery), then asks for
// a new sign-in.
func (d *Dashboard) renewRoles(r *http.Request, token string, old session) (session, error) {
	ctx := r.Context()
	var s session
	b, err := d.sessions.Renew(ctx, token, func(data []byte) ([]byte, error) {
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, err
		}
		if time.Since(s.RolesAt) < d.opts.RolesEvery {
			return nil, nil // another request renewed them meanwhile
		}
		if s.Refresh == "" {
			return nil, errNoRefresh
		}
		p, err := d.providers.Get(ctx, d.opts.Issuer)
		if err != nil {
			return nil, errUnreachable
		}
		idt, next, err := oidclogin.Refresh(ctx, p, d.oauth(p), s.Refresh)
		if err != nil {
			return nil, err
		}
		var claims map[string]any
		if idt.Claims(&claims) != nil || idt.Subject != s.Subject {
			return nil, oidclogin.ErrVerify
		}
		pr := identity.MapClaims(d.opts.Claims, idt.Subject, claims, d.opts.Audience)
		if err := d.mfaRefused(ctx, pr); err != nil {
			return nil, err // the MSP requires a second factor now: the session ends
		}
		s.MSPAdmin, s.MSPTech, s.Grants, s.Refresh, s.RolesAt = pr.MSPAdmin, pr.MSPTechnician, pr.Grants, next, time.Now()
		s.MFA = pr.MFA
		return json.Marshal(s)
	})
	switch {
	case err == nil:
		err = json.Unmarshal(b, &s)
		return s, err
	case errors.Is(err, oidclogin.ErrExchange), errors.Is(err, oidclogin.ErrVerify), errors.Is(err, errNoRefresh), errors.Is(err, errNeedsMFA):
		d.log.InfoContext(ctx, "dashboard: roles not renewed; the session ends", "subject", old.Subject, "err", err)
		if err := d.sessions.End(ctx, token); err != nil {
			return session{}, err
		}
		return session{}, identity.ErrNoSession
	case errors.Is(err, identity.ErrNoSession):
		return session{}, err
	}
	if time.Since(old.RolesAt) < 3*d.opts.RolesEvery {
		d.log.WarnContext(ctx, "dashboard: the sign-in service is unreachable; the session keeps its roles for now", "subject", old.Subject, "err", err)
		return old, nil
	}
	d.log.WarnContext(ctx, "dashboard: the sign-in service is unreachable and the session's roles are too old; sign in again", "subject", old.Subject, "err", err)
	return session{}, identity.ErrNoSession
}

// errNeedsMFA is a person whose MSP requires a second factor they signed
// in without.
var errNeedsMFA = errors.New("dashboard: the MSP requires a second factor")

// mfaRefused is errNeedsMFA when one of the MSPs the person works for
// requires a second factor they signed in without: no session for them.
func (d *Dashboard) mfaRefused(ctx context.Context, p *identity.Principal) error {
	for _, slug := range append(slices.Clone(p.MSPAdmin), p.MSPTechnician...) {
		m, err := d.dir.MSPBySlug(ctx, slug)
		if errors.Is(err, tenancy.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if p.CheckMFA(m) != nil {
			return errNeedsMFA
		}
	}
	return nil
}

type ctxKey struct{}

func sessionFrom(ctx context.Context) *session { s, _ := ctx.Value(ctxKey{}).(*session); return s }

// signedIn runs h for a signed-in person; others go to the login, and
// state-changing requests must carry the session's CSRF token.
func (d *Dashboard) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		s, err := d.currentSession(r)
		if err != nil {
			if !errors.Is(err, http.ErrNoCookie) && !errors.Is(err, identity.ErrNoSession) {
				d.log.ErrorContext(r.Context(), "dashboard: read the session", "err", err)
			}
			if r.Method != http.MethodGet {
				http.Error(w, "not signed in", http.StatusUnauthorized)
				return
			}
			if r.Header.Get("HX-Request") != "" {
				w.Header().Set("HX-Redirect", "/dashboard/login")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/dashboard/login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) != 1 {
				http.Error(w, "the form is stale or not from this site (CSRF token); reload the page", http.StatusForbidden)
				return
			}
		}
		h(w, r.WithContext(logctx.WithCaller(context.WithValue(r.Context(), ctxKey{}, &s), s.Subject)))
	}
}

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (d *Dashboard) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: d.opts.ClientID, ClientSecret: d.opts.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: d.opts.BaseURL + "/dashboard/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}

// signIn is the dashboard's sign-in; the page to return to rides along.
func (d *Dashboard) signIn() oidclogin.Login {
	return oidclogin.Login{Keys: d.opts.Keys, Cookie: loginCookie, Path: "/dashboard", Context: "dashboard:login",
		Secure: d.secure(), Lifetime: 10 * time.Minute}
}

// login sends the person to the provider.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	p, err := d.providers.Get(r.Context(), d.opts.Issuer)
	if err != nil {
		d.log.WarnContext(r.Context(), "dashboard: identity provider unreachable", "err", err)
		d.errorPage(w, r, http.StatusBadGateway, "The sign-in service cannot be reached; try again in a moment.")
		return
	}
	to, err := d.signIn().Begin(w, d.oauth(p), localReturn(r.URL.Query().Get("return")))
	if err != nil {
		d.errorPage(w, r, http.StatusInternalServerError, "Signing in failed; try again.")
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

var errUnreachable = errors.New("the identity provider is unreachable")

// localReturn is where a sign-in may send the browser back to: a path of
// the dashboard's own, after normalization, or the dashboard's home. A
// backslash (which browsers read as a slash), a scheme, a host, "//", dot
// segments that climb out, or control characters all give the home.
func localReturn(ret string) string {
	const home = "/dashboard/"
	if ret == "" || strings.ContainsAny(ret, "\\\x00\r\n\t") || strings.ContainsFunc(ret, unicode.IsControl) {
		return home
	}
	u, err := url.Parse(ret)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || strings.HasPrefix(ret, "//") {
		return home
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, home) || strings.HasPrefix(clean, "//") {
		return home
	}
	out := &url.URL{Path: clean, RawQuery: u.RawQuery}
	return out.String()
}

// callback finishes the sign-in and starts the session.
func (d *Dashboard) callback(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	ctx := r.Context()
	var refresh string
	login := d.signIn()
	login.Tokens = func(t *oauth2.Token) { refresh = t.RefreshToken }
	idt, ret, err := login.Finish(ctx, w, r, func() (*oidc.Provider, *oauth2.Config, error) {
		p, err := d.providers.Get(ctx, d.opts.Issuer)
		if err != nil {
			return nil, nil, errUnreachable
		}
		return p, d.oauth(p), nil
	})
	var claims map[string]any
	if err == nil && idt.Claims(&claims) != nil {
		err = oidclogin.ErrVerify
	}
	switch {
	case errors.Is(err, oidclogin.ErrDenied):
		d.errorPage(w, r, http.StatusBadRequest, "The sign-in did not complete: "+oidclogin.Detail(err))
		return
	case errors.Is(err, oidclogin.ErrState):
		d.errorPage(w, r, http.StatusBadRequest, "This sign-in expired or was not started here. Sign in again.")
		return
	case errors.Is(err, errUnreachable):
		d.errorPage(w, r, http.StatusBadGateway, "The sign-in service cannot be reached; try again in a moment.")
		return
	case errors.Is(err, oidclogin.ErrExchange):
		d.log.InfoContext(ctx, "dashboard: code exchange refused", "err", err)
		d.errorPage(w, r, http.StatusBadGateway, "The sign-in service refused the sign-in. Sign in again.")
		return
	case err != nil:
		d.errorPage(w, r, http.StatusBadGateway, "The sign-in service's answer did not verify. Sign in again.")
		return
	}
	pr := identity.MapClaims(d.opts.Claims, idt.Subject, claims, d.opts.Audience)
	name := pr.Name
	if e, _ := claims["email"].(string); name == "" || name == idt.Subject {
		name = e
	}
	if err := d.mfaRefused(ctx, pr); errors.Is(err, errNeedsMFA) {
		d.log.InfoContext(ctx, "dashboard sign-in refused: no second factor", "subject", pr.Subject)
		d.errorPage(w, r, http.StatusForbidden, "Your MSP requires you to sign in with a second factor (a one-time code or a security key). Sign in again with it.")
		return
	} else if err != nil {
		d.errorPage(w, r, http.StatusServiceUnavailable, "The tenant directory is unavailable; try again in a moment.")
		return
	}
	s := session{Subject: pr.Subject, Name: name, MSPAdmin: pr.MSPAdmin, MSPTech: pr.MSPTechnician, Grants: pr.Grants, MFA: pr.MFA, CSRF: oidclogin.Random(),
		Refresh: refresh, RolesAt: time.Now()}
	if err := d.startSession(w, r, s); err != nil {
		d.log.ErrorContext(ctx, "dashboard: start a session", "err", err)
		d.errorPage(w, r, http.StatusInternalServerError, "Signing in failed; try again.")
		return
	}
	d.log.InfoContext(ctx, "dashboard sign-in", "subject", s.Subject, "name", s.Name)
	http.Redirect(w, r, localReturn(ret), http.StatusFound)
}

// logout ends the session, server-side: a copy of the cookie kept from
// before no longer works (a POST with the CSRF token).
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := d.sessions.End(r.Context(), c.Value); err != nil {
			d.log.ErrorContext(r.Context(), "dashboard: end the session", "err", err)
			d.errorPage(w, r, http.StatusInternalServerError, "Signing out failed; try again.")
			return
		}
	}
	d.clearCookie(w, sessionCookie)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "signed-out", nil)
}
