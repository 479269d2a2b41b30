package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// AccessGrant is a tenant's grant of access to someone of its MSP.
type AccessGrant struct {
	ID          uuid.UUID     `json:"id"`
	TenantID    uuid.UUID     `json:"tenant_id"`
	Subject     string        `json:"subject" doc:"The grantee's subject (the token's sub)."`
	SubjectName string        `json:"subject_name"`
	Role        identity.Role `json:"role" enum:"viewer,operator,admin"`
	Groups      []string      `json:"groups" nullable:"false" doc:"The device groups it covers (operations on one of their devices); empty: the whole tenant."`
	Reason      string        `json:"reason"`
	BreakGlass  bool          `json:"break_glass" doc:"Emergency access: active at once, without approval, and announced to the tenant's admins (access.break_glass)."`
	Hours       int           `json:"hours" doc:"How long it lasts from when it is active."`
	Status      string        `json:"status" enum:"requested,active,expired,denied,revoked"`
	RequestedBy string        `json:"requested_by"`
	RequestedAt time.Time     `json:"requested_at"`
	DecidedBy   string        `json:"decided_by,omitempty" doc:"The tenant admin who approved or denied it."`
	DecidedAt   *time.Time    `json:"decided_at,omitempty"`
	ExpiresAt   *time.Time    `json:"expires_at,omitempty" doc:"When it stops working; set once it is active."`
	RevokedBy   string        `json:"revoked_by,omitempty"`
	RevokedAt   *time.Time    `json:"revoked_at,omitempty"`
}

func grantOf(g identity.Delegation) AccessGrant {
	return AccessGrant(g)
}

type grantOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     AccessGrant
}

type grantsOutput struct {
	Body struct {
		Grants []AccessGrant `json:"grants" nullable:"false"`
	}
}

type requestGrantInput struct {
	MSP    string `path:"msp" doc:"The MSP's slug."`
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	IdempotencyKey
	Body struct {
		Subject     string        `json:"subject,omitempty" maxLength:"255" doc:"Whom the grant is for (their token's sub); the caller if absent. Only an MSP admin names someone else."`
		SubjectName string        `json:"subject_name,omitempty" maxLength:"200" doc:"A readable name of the grantee."`
		Role        identity.Role `json:"role" enum:"viewer,operator,admin"`
		Groups      []string      `json:"groups,omitempty" maxItems:"20" doc:"Device groups (names) to which the grant is limited; absent: the whole tenant."`
		Reason      string        `json:"reason" maxLength:"1000" doc:"Why: a ticket, an incident. The tenant sees it."`
		Hours       int           `json:"hours" doc:"How long the grant lasts once active: 1 hour to 4,320 (180 days); break-glass at most 4."`
		BreakGlass  bool          `json:"break_glass,omitempty" doc:"Emergency access for the caller: active at once whatever the tenant's setting, and announced to its admins."`
	}
}

type GrantsQuery struct {
	Status  string `query:"status" enum:"current,requested,active,expired,denied,revoked" doc:"Only grants in this state; current is requested or active."`
	Subject string `query:"subject" maxLength:"255" doc:"Only grants to this subject."`
	Limit   int    `query:"limit" minimum:"1" maximum:"500" default:"100"`
}

type mspGrantsInput struct {
	MSP string `path:"msp" doc:"The MSP's slug."`
	GrantsQuery
}

type tenantGrantsInput struct {
	TenantPath
	GrantsQuery
}

type grantPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The grant's id."`
}

type mspGrantPath struct {
	MSP string `path:"msp" doc:"The MSP's slug."`
	grantPath
}

type mspAccessBody struct {
	MSPAccess identity.MSPAccess `json:"msp_access" enum:"standing,preauthorized,approval" doc:"standing: the MSP's admins administer the tenant at all times, technicians' grants are active on request; preauthorized: everyone from the MSP needs a grant, active on request; approval: a tenant admin approves each grant. Break-glass grants are active at once in every case."`
}

type mspAccessOutput struct{ Body mspAccessBody }

type setMSPAccessInput struct {
	TenantPath
	Body mspAccessBody
}

// grantRoutes are the MSP's side of grants: asking, listing, giving up.
func (a *API) grantRoutes() {
	tags := []string{"Access"}
	register(a, huma.Operation{
		OperationID: "request-access-grant", Method: http.MethodPost, Path: "/v1/msps/{msp}/tenants/{tenant}/access-grants", Tags: tags,
		Summary: "Ask a tenant for access", DefaultStatus: http.StatusCreated,
		Description: "Someone of the MSP asks one of its tenants for a role there, for a while and a reason, for themself (or, as an MSP admin, for a technician). " +
			"It is active at once where the tenant pre-authorizes its MSP (msp_access standing or preauthorized), else it waits for a tenant admin (approve-access-grant). " +
			"Break-glass is active at once everywhere, for at most 4 hours, and announced to the tenant's admins. Recorded in the tenant's audit log.",
	}, mspMember, func(ctx context.Context, in *requestGrantInput) (*grantOutput, error) {
		t, err := a.mspTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		c := callFrom(ctx)
		c.tenant = t // the tenant's audit log and idempotency keys
		b := in.Body
		out, replayed, err := idempotent(a, ctx, in.Key, in.Body, func(ctx context.Context) (*grantOutput, error) {
			g, err := a.d.Grants.Request(ctx, c.principal, t, identity.GrantRequest{Subject: b.Subject, SubjectName: b.SubjectName,
				Role: b.Role, Groups: b.Groups, Reason: b.Reason, Hours: b.Hours, BreakGlass: b.BreakGlass})
			return &grantOutput{Body: grantOf(g)}, err
		})
		if err != nil {
			return nil, err
		}
		if replayed {
			out.Replayed = "true"
		}
		return out, nil
	})
	register(a, huma.Operation{
		OperationID: "list-msp-access-grants", Method: http.MethodGet, Path: "/v1/msps/{msp}/access-grants", Tags: tags,
		Summary:     "List the MSP's grants across its tenants",
		Description: "Newest first. An MSP admin sees every grant of the MSP's tenants; a technician sees their own.",
	}, mspMember, func(ctx context.Context, in *mspGrantsInput) (*grantsOutput, error) {
		c := callFrom(ctx)
		f := identity.GrantFilter{Status: in.Status, Subject: in.Subject, Limit: in.Limit}
		if !c.principal.AdministersMSP(c.msp.Slug) {
			f.Subject = c.principal.Subject
		}
		gs, err := a.d.Grants.ListForMSP(ctx, c.msp.ID, f)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := &grantsOutput{}
		out.Body.Grants = convert(gs, grantOf)
		return out, nil
	})
	register(a, huma.Operation{
		OperationID: "revoke-msp-access-grant", Method: http.MethodPost, Path: "/v1/msps/{msp}/tenants/{tenant}/access-grants/{id}/revoke", Tags: tags,
		Summary:     "Give up or withdraw a grant, from the MSP's side",
		Description: "Ends a requested or active grant at once: the grantee's own, or any as an MSP admin. Recorded in the tenant's audit log.",
	}, mspMember, func(ctx context.Context, in *mspGrantPath) (*grantOutput, error) {
		t, err := a.mspTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		callFrom(ctx).tenant = t
		return a.changeGrant(ctx, t, in.ID, a.d.Grants.Revoke)
	})

}

// tenantGrantRoutes are the tenant's side of its grants: its admins see,
// decide and revoke them, and set how the MSP reaches the tenant.
func (a *API) tenantGrantRoutes() {
	tags := []string{"Access"}
	register(a, huma.Operation{
		OperationID: "list-access-grants", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/access-grants", Tags: tags,
		Summary:     "List the grants of the tenant to its MSP",
		Description: "Newest first: who of the MSP asked for what, why, who decided, and until when. ?status=current lists the requested and active ones.",
	}, admin, func(ctx context.Context, in *tenantGrantsInput) (*grantsOutput, error) {
		gs, err := a.d.Grants.List(tenantContext(ctx), identity.GrantFilter{Status: in.Status, Subject: in.Subject, Limit: in.Limit})
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := &grantsOutput{}
		out.Body.Grants = convert(gs, grantOf)
		return out, nil
	})
	for _, op := range []struct {
		id, verb, summary, desc string
		acc                     access
		do                      func(context.Context, *identity.Principal, tenancy.Tenant, uuid.UUID) (identity.Delegation, error)
	}{
		{"approve-access-grant", "approve", "Approve a grant the MSP asked for", "It is active from now for its hours. Only the tenant's own admins approve.", ownAdmin, a.d.Grants.Approve},
		{"deny-access-grant", "deny", "Deny a grant the MSP asked for", "Only the tenant's own admins deny.", ownAdmin, a.d.Grants.Deny},
		{"revoke-access-grant", "revoke", "Revoke a grant", "Ends a requested or active grant at once: the grantee's next call is refused.", admin, a.d.Grants.Revoke},
	} {
		register(a, huma.Operation{
			OperationID: op.id, Method: http.MethodPost, Path: "/v1/tenants/{tenant}/access-grants/{id}/" + op.verb, Tags: tags,
			Summary: op.summary, Description: op.desc + " Recorded in the audit log.",
		}, op.acc, func(ctx context.Context, in *grantPath) (*grantOutput, error) {
			return a.changeGrant(ctx, callFrom(ctx).tenant, in.ID, op.do)
		})
	}
	register(a, huma.Operation{
		OperationID: "get-msp-access", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/msp-access", Tags: tags,
		Summary: "How the tenant's MSP reaches it",
	}, viewer, func(ctx context.Context, in *TenantPath) (*mspAccessOutput, error) {
		m, err := readValue(a, ctx, a.d.Grants.MSPAccessOf)
		return &mspAccessOutput{Body: mspAccessBody{MSPAccess: m}}, err
	})
	register(a, huma.Operation{
		OperationID: "set-msp-access", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/msp-access", Tags: tags,
		Summary:     "Set how the tenant's MSP reaches it",
		Description: "Only the tenant's own admins set it. Grants already active stay until they end or are revoked.",
	}, ownAdmin, func(ctx context.Context, in *setMSPAccessInput) (*mspAccessOutput, error) {
		c := callFrom(ctx)
		out := &mspAccessOutput{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			out.Body.MSPAccess, err = a.d.Grants.SetMSPAccess(ctx, c.principal, c.tenant, in.Body.MSPAccess)
			return err
		})
		return out, err
	})
}

// changeGrant runs one change of a grant of t, audited.
func (a *API) changeGrant(ctx context.Context, t tenancy.Tenant, id string, do func(context.Context, *identity.Principal, tenancy.Tenant, uuid.UUID) (identity.Delegation, error)) (*grantOutput, error) {
	gid, err := uuid.Parse(id)
	if err != nil {
		return nil, huma.Error404NotFound("no such grant")
	}
	out := &grantOutput{}
	err = a.audited(ctx, func(ctx context.Context) error {
		g, err := do(ctx, callFrom(ctx).principal, t, gid)
		out.Body = grantOf(g)
		return err
	})
	return out, err
}

// SignInPolicy is how an MSP's people must sign in.
type SignInPolicy struct {
	RequireMFA bool `json:"require_mfa" doc:"Refuse the MSP's admins and technicians (in the MSP and in every tenant through it) who signed in without a second factor, as the identity provider's amr or acr claim says. Service accounts (client credentials) have no second factor and are not refused: keep their secrets short-lived."`
}

type signInPolicyInput struct {
	MSP  string `path:"msp" doc:"The MSP's slug."`
	Body SignInPolicy
}

type signInPolicyOutput struct{ Body SignInPolicy }

func (a *API) signInRoutes() {
	register(a, huma.Operation{
		OperationID: "get-msp-sign-in-policy", Method: http.MethodGet, Path: "/v1/msps/{msp}/sign-in-policy", Tags: []string{"Access"},
		Summary: "How the MSP's people must sign in",
	}, mspMember, func(ctx context.Context, in *struct {
		MSP string `path:"msp" doc:"The MSP's slug."`
	}) (*signInPolicyOutput, error) {
		return &signInPolicyOutput{Body: SignInPolicy{RequireMFA: callFrom(ctx).msp.RequireMFA}}, nil
	})
	register(a, huma.Operation{
		OperationID: "set-msp-sign-in-policy", Method: http.MethodPut, Path: "/v1/msps/{msp}/sign-in-policy", Tags: []string{"Access"},
		Summary:     "Require a second factor of the MSP's people",
		Description: "Takes effect on their next call. To turn it on, sign in with a second factor yourself first, so the change does not lock you out.",
	}, mspAdmin, func(ctx context.Context, in *signInPolicyInput) (*signInPolicyOutput, error) {
		c := callFrom(ctx)
		if in.Body.RequireMFA && !c.principal.MFA && !c.principal.Client {
			return nil, huma.Error409Conflict("sign in with a second factor first: requiring it now would lock you out (your token's amr/acr names none)")
		}
		m, err := a.d.Directory.SetRequireMFA(ctx, c.msp.ID, in.Body.RequireMFA)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		a.d.Log.InfoContext(ctx, "MSP sign-in policy changed", "msp", m.Slug, "require_mfa", m.RequireMFA, "by", c.principal.Subject)
		return &signInPolicyOutput{Body: SignInPolicy{RequireMFA: m.RequireMFA}}, nil
	})
}
