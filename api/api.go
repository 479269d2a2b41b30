// Package api is Trident's public REST API for people and integrators:
// huma v2 operations on the standard library's mux, described by the
// OpenAPI 3.1 document it serves at /openapi.json and /openapi.yaml (and
// checked in at openapi/openapi.yaml), with docs at /docs.
//
// The conventions are the same for every operation (docs/api.md):
// versioned paths (/v1/...); OIDC bearer tokens; the role each operation
// needs declared with the operation (see access.go) and checked before it
// runs, with tenants outside the caller's reach answering 404; RFC 9457
// problem details for every error; cursor pagination; Idempotency-Key on
// creating POSTs; ETag and If-Match on updates; X-Request-Id on every
// answer; rate limits per caller and per tenant; and every state-changing
// call written to the tenant's audit log in the same transaction as the
// change.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/idempotency"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// Version is the API's version in its OpenAPI document: it changes with
// the contract, not with every build.
const Version = "1.0.0"

// Authenticator turns a bearer token into a caller.
type Authenticator interface {
	Verify(ctx context.Context, raw string) (*identity.Principal, error)
}

// Deps are what the API calls.
type Deps struct {
	DB         *tenancy.DB
	Directory  *tenancy.Directory
	Tenants    *tenants.Service
	Auth       Authenticator
	Events     *events.Store
	Bus        *events.Bus // live events for streams; nil: streams end at once
	Publisher  *events.Publisher
	Webhooks   *events.Webhooks
	Inventory  *inventory.Inventory
	Commands   *commands.Queue
	Compliance *compliance.Compliance
	Jobs       events.Jobs // enqueues background work (bulk commands)
	PKI        *pki.PKI    // devices' identity certificates (nil: not shown)
	// MSP reads the MSP console (nil: one without needs-attention rules).
	MSP *msp.Service

	// Apple management (nil where not configured).
	AppleEnrollment AppleEnrollment
	ApplePush       ApplePushCerts
	DEP             *dep.Service // Apple Business Manager
	Android         *android.Service
	// Windows enrollment (nil where the Windows endpoints are off), and
	// the URL devices reach a tenant's hostname at.
	Windows   *enrollment.Windows
	DeviceURL func(t tenancy.Tenant) string
	Audit     *audit.Store
	// Grants is the access policy (identity.Delegations.In) and the
	// MSP's delegated grants.
	Grants *identity.Delegations
	// Keys seal the answers kept for Idempotency-Key replays.
	Keys   *seal.Keyring
	Log    *slog.Logger
	Limits Limits
}

// API is the REST API.
type API struct {
	d       Deps
	huma    huma.API
	mux     *http.ServeMux
	limiter *limiter
	streams events.StreamLimit // open live streams per caller
	keys    *idempotency.Keys
}

// New builds the API. Its handler serves /v1/..., /openapi.{json,yaml} and
// /docs; mount it on the platform's hostname.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Audit == nil {
		d.Audit = audit.NewStore(d.DB, d.Publisher)
	}
	if d.Tenants == nil {
		d.Tenants = tenants.New(d.DB, d.Directory, d.Publisher)
	}
	if d.Grants == nil {
		d.Grants = identity.NewDelegations(d.DB, d.Publisher, d.Inventory)
	}
	if d.MSP == nil {
		d.MSP = msp.New(d.DB, d.Directory, d.Inventory, d.Compliance, d.Events, nil)
	}
	a := &API{d: d, mux: http.NewServeMux(), limiter: newLimiter(d.Limits), keys: idempotency.New(d.DB, d.Keys)}
	cfg := huma.DefaultConfig("Trident API", Version)
	cfg.Info.Description = "Manage Apple, Windows and Android devices for many tenants. " +
		"See docs/api.md for the conventions every operation follows."
	cfg.DocsPath = "" // huma's docs page loads scripts from a CDN; ours is served from the binary
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "An OIDC access token from Trident's identity provider (Keycloak), for example from the client-credentials grant."},
	}
	a.huma = humago.New(a.mux, cfg)
	a.streams.Max = d.Limits.Streams
	a.huma.UseMiddleware(a.authenticate)
	a.routes()
	a.mux.HandleFunc("GET /docs", a.docs)
	a.mux.Handle("GET /docs/assets/", http.StripPrefix("/docs/assets/", http.FileServerFS(docsAssets())))
	return a
}

// Handler serves the API with request ids.
func (a *API) Handler() http.Handler {
	return withHSTS(a.withRequestID(a.withCleanInput(a.mux)))
}

// withHSTS asks browsers to reach the platform over https only, for a
// year (RFC 6797; browsers ignore it on plain-http answers, as in dev).
func withHSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// OpenAPI is the API's OpenAPI document.
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

func (a *API) routes() {
	a.meRoutes()
	a.tenantRoutes()
	a.identityRoutes()
	a.eventRoutes()
	a.auditRoutes()
	a.webhookRoutes()
	a.deviceRoutes()
	a.appleRoutes()
	a.abmRoutes()
	a.androidRoutes()
	a.windowsRoutes()
	a.streamRoutes()
	a.complianceRoutes()
	a.bulkRoutes()
	a.groupRoutes()
	a.reportRoutes()
	a.consoleRoutes()
	a.searchRoutes()
	a.tagRoutes()
	a.statusRoutes()
	a.operationRoutes()
	a.exportRoutes()
	a.baselineRoutes()
	a.grantRoutes()
	a.tenantGrantRoutes()
	a.usageRoutes()
	a.limitRoutes()
	a.signInRoutes()
	a.brandingRoutes()
	a.webhookDocs()
}

// Document is the API's OpenAPI document as YAML, built without any
// running parts: what `trident openapi` writes to openapi/openapi.yaml.
func Document() ([]byte, error) {
	return New(Deps{}).OpenAPI().YAML()
}
