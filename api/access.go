package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/logctx"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// scope says what an operation acts on, and so whom to ask about access.
type scope string

const (
	scopeCaller scope = "caller" // the caller themself: any authenticated caller
	scopeMSP    scope = "msp"    // the MSP named by {msp}: its admins
	scopeTenant scope = "tenant" // the tenant named by {tenant}: callers with at least role there
)

// access is an operation's authorization policy, declared with the
// operation and published in the OpenAPI document as x-trident-access.
type access struct {
	Scope scope         `json:"scope"`
	Role  identity.Role `json:"role,omitempty"`
	// WhileSuspended lets a change through to a suspended tenant (the
	// operation itself decides what may change then); other changes to
	// one are refused with 409, and reads are always allowed.
	WhileSuspended bool `json:"while_suspended,omitempty"`
	// Own keeps the operation to the tenant's own people: the role must
	// come from the tenant's own grant in the token, not from its MSP's
	// standing access or a delegated grant (approving the MSP's access,
	// the tenant's setting for it).
	Own bool `json:"own,omitempty"`
}

var (
	anyCaller = access{Scope: scopeCaller}
	mspAdmin  = access{Scope: scopeMSP, Role: identity.Admin}
	mspMember = access{Scope: scopeMSP, Role: identity.Technician} // its admins and technicians
	viewer    = access{Scope: scopeTenant, Role: identity.Viewer}
	operator  = access{Scope: scopeTenant, Role: identity.Operator}
	admin     = access{Scope: scopeTenant, Role: identity.Admin}
	ownAdmin  = access{Scope: scopeTenant, Role: identity.Admin, Own: true}
)

// AccessExtension is the OpenAPI extension that carries each operation's
// policy; the authorization tests read it back from the document.
const AccessExtension = "x-trident-access"

// register adds an operation with its access policy. Every operation goes
// through here (or registerStream): none can be added without one.
func register[I, O any](a *API, op huma.Operation, acc access, h func(context.Context, *I) (*O, error)) {
	huma.Register(a.huma, a.secure(op, acc), h)
}

// registerStream adds a server-sent events operation with its access
// policy.
func registerStream[I any](a *API, op huma.Operation, acc access, types map[string]any, h func(context.Context, *I, sse.Sender)) {
	sse.Register(a.huma, a.secure(op, acc), types, h)
}

// secure declares op's policy in the document and enforces it.
func (a *API) secure(op huma.Operation, acc access) huma.Operation {
	op.Security = []map[string][]string{{"bearer": {}}}
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = maxBody // raw bodies too: huma bounds only Body inputs by itself
	}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions[AccessExtension] = acc
	op.Middlewares = append(op.Middlewares, a.authorize(acc))
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusTooManyRequests)
	if acc.Scope != scopeCaller {
		op.Errors = append(op.Errors, http.StatusNotFound)
	}
	if acc.Scope != scopeCaller {
		op.Errors = append(op.Errors, http.StatusForbidden) // a role too low, or someone of the MSP without a grant
	}
	if acc.Scope == scopeTenant && changes(op.Method) {
		op.Errors = append(op.Errors, http.StatusConflict)
	}
	return op
}

// changes reports whether an operation of method changes what it acts on
// (every operation that only reads is a GET).
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead
}

type callKey struct{}

// call is what the middlewares learned about a request, for handlers and
// the audit log.
type call struct {
	principal *identity.Principal
	tenant    tenancy.Tenant  // for tenant-scoped operations
	access    identity.Access // the caller's power in tenant, and where it comes from
	msp       tenancy.MSP     // for MSP-scoped operations
	op        *huma.Operation
	path      string
	requestID string
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return &call{}
	}
	return c
}

// authenticate verifies the bearer token of every operation, and applies
// the per-caller rate limit.
func (a *API) authenticate(ctx huma.Context, next func(huma.Context)) {
	raw, ok := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="trident"`)
		huma.WriteErr(a.huma, ctx, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <OIDC access token>)")
		return
	}
	p, err := a.d.Auth.Verify(ctx.Context(), strings.TrimSpace(raw))
	switch {
	case errors.Is(err, identity.ErrProviderUnavailable):
		a.d.Log.ErrorContext(ctx.Context(), "identity provider unavailable", "err", err)
		ctx.SetHeader("Retry-After", "5")
		huma.WriteErr(a.huma, ctx, http.StatusServiceUnavailable, "the identity provider cannot be reached; try again shortly")
		return
	case err != nil:
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="trident", error="invalid_token"`)
		huma.WriteErr(a.huma, ctx, http.StatusUnauthorized, "the bearer token is not valid: "+err.Error())
		return
	}
	if !a.allow(ctx, "caller:"+p.Subject, a.limiter.caller) {
		return
	}
	c := &call{principal: p, op: ctx.Operation(), path: ctx.URL().Path, requestID: RequestID(ctx.Context())}
	ctx = huma.WithContext(ctx, logctx.WithCaller(ctx.Context(), p.Subject))
	next(huma.WithValue(ctx, callKey{}, c))
}

// Denials say the same for a tenant that does not exist and one the caller
// may not see, so the answer reveals nothing.
const (
	noSuchTenant = "no such tenant"
	noSuchMSP    = "no such MSP"
)

// authorize enforces acc before the handler runs.
func (a *API) authorize(acc access) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		c := callFrom(ctx.Context())
		if c.principal == nil {
			huma.WriteErr(a.huma, ctx, http.StatusUnauthorized, "not authenticated")
			return
		}
		switch acc.Scope {
		case scopeCaller:
			next(ctx)
			return
		case scopeMSP:
			slug := ctx.Param("msp")
			if !c.principal.WorksFor(slug) {
				huma.WriteErr(a.huma, ctx, http.StatusNotFound, noSuchMSP)
				return
			}
			if acc.Role == identity.Admin && !c.principal.AdministersMSP(slug) {
				huma.WriteErr(a.huma, ctx, http.StatusForbidden, "this operation needs the MSP's admin role; the caller is one of its technicians")
				return
			}
			m, err := a.d.Directory.MSPBySlug(ctx.Context(), slug)
			if errors.Is(err, tenancy.ErrNotFound) {
				huma.WriteErr(a.huma, ctx, http.StatusNotFound, noSuchMSP)
				return
			} else if err != nil {
				a.writeErr(ctx, err)
				return
			}
			if err := c.principal.CheckMFA(m); err != nil {
				a.writeErr(ctx, err)
				return
			}
			c.msp = m
			next(huma.WithContext(ctx, logctx.WithMSP(ctx.Context(), m.Slug)))
			return
		case scopeTenant:
			t, err := a.d.Directory.TenantBySlug(ctx.Context(), ctx.Param("tenant"))
			if errors.Is(err, tenancy.ErrNotFound) {
				huma.WriteErr(a.huma, ctx, http.StatusNotFound, noSuchTenant)
				return
			} else if err != nil {
				a.writeErr(ctx, err)
				return
			}
			if !a.allowed(ctx, c, t, acc) {
				return
			}
			if err := t.Writable(); err != nil && changes(ctx.Method()) && !acc.WhileSuspended {
				a.writeErr(ctx, err)
				return
			}
			if !a.allow(ctx, "tenant:"+t.ID.String(), a.limiter.tenant) {
				return
			}
			c.tenant = t
			// The tenant rides in the context from here: its log lines
			// name it (internal/logctx), and tenancy.DB.Tx scopes to it.
			next(huma.WithContext(ctx, logctx.WithMSP(tenancy.WithTenant(ctx.Context(), t.ID), t.MSPSlug)))
			return
		}
		huma.WriteErr(a.huma, ctx, http.StatusInternalServerError, "operation without an access policy")
	}
}

// allowed asks the policy for the caller's power in t and answers a
// refusal itself: a tenant the caller has nothing to do with is a 404, as
// if it did not exist; someone of the tenant's MSP without a grant, or
// with too low a role, a 403 that says what would help.
func (a *API) allowed(ctx huma.Context, c *call, t tenancy.Tenant, acc access) bool {
	got, err := a.d.Grants.In(ctx.Context(), c.principal, t)
	if err != nil {
		a.writeErr(ctx, err)
		return false
	}
	refuse := func(msg string) bool { huma.WriteErr(a.huma, ctx, http.StatusForbidden, msg); return false }
	switch {
	case !got.Role.Valid() && !got.Member:
		huma.WriteErr(a.huma, ctx, http.StatusNotFound, noSuchTenant)
		return false
	case !got.Role.Valid() && got.MFARequired:
		return refuse(identity.MFAMessage(t.MSPSlug))
	case !got.Role.Valid():
		return refuse("the caller works for the tenant's MSP but holds no grant in it: ask for one with request-access-grant " +
			"(POST /v1/msps/" + t.MSPSlug + "/tenants/" + t.Slug + "/access-grants)")
	case !got.Role.AtLeast(acc.Role):
		return refuse("this operation needs the " + string(acc.Role) + " role in the tenant; the caller is " + string(got.Role))
	case acc.Own && got.Source != identity.FromTenant:
		return refuse("only the tenant's own admins do this, not its MSP or a grant")
	}
	if err := a.d.Grants.Covers(ctx.Context(), got, ctx.Param("device")); err != nil {
		a.writeErr(ctx, err)
		return false
	}
	c.access = got
	return true
}

// tenantContext is ctx carrying the operation's tenant for tenancy.DB.Tx.
func tenantContext(ctx context.Context) context.Context {
	if c := callFrom(ctx); c.tenant.ID != uuid.Nil {
		return tenancy.WithTenant(ctx, c.tenant.ID)
	}
	return ctx
}
