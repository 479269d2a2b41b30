package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// Tenant is a tenant as the API shows it.
type Tenant struct {
	ID        uuid.UUID      `json:"id"`
	Slug      string         `json:"slug" doc:"Names the tenant in paths and in its hostname {slug}.{base domain}."`
	Name      string         `json:"name"`
	Status    tenancy.Status `json:"status" enum:"active,suspended"`
	MSP       string         `json:"msp" doc:"The slug of the MSP the tenant belongs to."`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

func tenantOf(t tenancy.Tenant) Tenant {
	return Tenant{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status, MSP: t.MSPSlug, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// etag is a tenant's entity tag: its last update, to the microsecond
// (PostgreSQL's precision).
func etag(updated time.Time) string { return `"` + strconv.FormatInt(updated.UnixMicro(), 10) + `"` }

// ifMatch reads an If-Match header back into the update time it names. An
// ETag that is not one of ours can never match.
func ifMatch(header string) (time.Time, error) {
	if header == "" {
		return time.Time{}, nil
	}
	if len(header) < 2 || header[0] != '"' || header[len(header)-1] != '"' {
		return time.Time{}, huma.Error412PreconditionFailed("If-Match must be an ETag this API returned")
	}
	us, err := strconv.ParseInt(header[1:len(header)-1], 10, 64)
	if err != nil {
		return time.Time{}, huma.Error412PreconditionFailed("If-Match does not match the resource's ETag")
	}
	return time.UnixMicro(us), nil
}

type tenantOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     Tenant
}

type listTenantsInput struct {
	MSP    string             `path:"msp" doc:"The MSP's slug."`
	Status tenancy.Status     `query:"status" enum:"active,suspended" doc:"Only tenants in this status."`
	Sort   tenancy.TenantSort `query:"sort" enum:"slug,-slug,created_at,-created_at" default:"slug" doc:"Order; '-' for descending."`
	PageParams
}

type tenantCursor struct {
	Slug string    `json:"s"`
	At   time.Time `json:"t"`
	ID   uuid.UUID `json:"i"`
	Sort string    `json:"o"`
}

type createTenantInput struct {
	MSP  string `path:"msp"`
	Body struct {
		Slug string `json:"slug" minLength:"1" maxLength:"40" pattern:"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$" doc:"Lower-case letters, digits and hyphens."`
		Name string `json:"name" minLength:"1" maxLength:"200"`
	}
}

type TenantPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
}

type updateTenantInput struct {
	TenantPath
	IfMatch string `header:"If-Match" doc:"The ETag of the tenant as last read; the update fails with 412 if it changed since."`
	Body    struct {
		Name   *string         `json:"name,omitempty" minLength:"1" maxLength:"200"`
		Status *tenancy.Status `json:"status,omitempty" enum:"active,suspended" doc:"Suspending or reactivating needs the MSP admin role."`
	}
}

type hostname struct {
	Hostname string `json:"hostname"`
	Custom   bool   `json:"custom" doc:"False for the tenant's own {slug}.{base domain}, which cannot be removed."`
	Status   string `json:"status" enum:"verified,pending" doc:"A custom name serves devices only once verified: publish the verification record in DNS, then verify it (a job also checks new names, at most hourly, for a week)."`
	// Verification is what to publish; only custom names have one.
	Verification *hostnameRecord `json:"verification,omitempty" doc:"The DNS record that proves the tenant controls the name."`
	VerifiedAt   *time.Time      `json:"verified_at,omitempty"`
	CheckedAt    *time.Time      `json:"checked_at,omitempty" doc:"When DNS was last checked for the record."`
	CheckError   string          `json:"check_error,omitempty" doc:"What the last check found instead of the record."`
}

type hostnameRecord struct {
	Type  string `json:"type" enum:"TXT"`
	Name  string `json:"name" doc:"Publish the record at this name: _trident-challenge.{hostname}."`
	Value string `json:"value" doc:"The record's value: trident-verification={token}. The token is the tenant's alone; keep it until the name is removed."`
}

func hostnameOf(h tenancy.Hostname) hostname {
	out := hostname{Hostname: h.Name, Custom: h.Custom, Status: "pending", VerifiedAt: h.VerifiedAt}
	if h.Verified() {
		out.Status = "verified"
	}
	if h.Custom {
		out.Verification = &hostnameRecord{Type: "TXT", Name: h.RecordName(), Value: h.RecordValue()}
		out.CheckedAt, out.CheckError = h.CheckedAt, h.CheckError
	}
	return out
}

type hostnamesOutput struct {
	Body struct {
		Items []hostname `json:"items" nullable:"false"`
	}
}

type addHostnameInput struct {
	TenantPath
	Body struct {
		Hostname string `json:"hostname" minLength:"1" maxLength:"253" doc:"A fully qualified name outside the base domain, for example enterpriseenrollment.customer.example."`
	}
}

type hostnameOutput struct {
	Location string `header:"Location"`
	Body     hostname
}

type hostnamePath struct {
	TenantPath
	Hostname string `path:"hostname" maxLength:"253"`
}

func (a *API) tenantRoutes() {
	a.tenantRecordRoutes()
	a.hostnameRoutes()
}

// tenantRecordRoutes registers the MSP's tenants and each tenant's own record.
func (a *API) tenantRecordRoutes() {
	tags := []string{"Tenants"}
	register(a, huma.Operation{
		OperationID: "list-msp-tenants", Method: http.MethodGet, Path: "/v1/msps/{msp}/tenants", Tags: tags,
		Summary: "List an MSP's tenants",
	}, mspAdmin, func(ctx context.Context, in *listTenantsInput) (*struct{ Body Page[Tenant] }, error) {
		var cur tenantCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		q := tenancy.TenantQuery{Status: in.Status, Sort: in.Sort, Limit: in.Limit + 1}
		if in.Cursor != "" {
			if cur.Sort != string(in.Sort) {
				return nil, huma.Error422UnprocessableEntity("the cursor belongs to another sort order")
			}
			q.After = &tenancy.Tenant{Slug: cur.Slug, CreatedAt: cur.At, ID: cur.ID}
		}
		ts, err := a.d.Directory.QueryTenants(ctx, callFrom(ctx).msp.ID, q)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := make([]Tenant, len(ts))
		for i, t := range ts {
			out[i] = tenantOf(t)
		}
		return &struct{ Body Page[Tenant] }{page(out, in.Limit, func(t Tenant) any {
			return tenantCursor{Slug: t.Slug, At: t.CreatedAt, ID: t.ID, Sort: string(in.Sort)}
		})}, nil
	})

	register(a, huma.Operation{
		OperationID: "create-tenant", Method: http.MethodPost, Path: "/v1/msps/{msp}/tenants", Tags: tags,
		Summary: "Create a tenant", DefaultStatus: http.StatusCreated,
		Description: "Creates a tenant in the MSP. Its hostname {slug}.{base domain} works at once. " +
			"Repeating the request answers 409: the slug is the idempotency key.",
		Errors: []int{http.StatusConflict},
	}, mspAdmin, func(ctx context.Context, in *createTenantInput) (*tenantOutput, error) {
		c := callFrom(ctx)
		id := uuid.New()
		// The new tenant's own transaction: its audit entry commits with it.
		c.tenant = tenancy.Tenant{ID: id}
		var t tenancy.Tenant
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			t, err = a.d.Tenants.Create(ctx, id, c.msp.ID, in.Body.Slug, in.Body.Name)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &tenantOutput{ETag: etag(t.UpdatedAt), Location: "/v1/tenants/" + t.Slug, Body: tenantOf(t)}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-tenant", Method: http.MethodGet, Path: "/v1/tenants/{tenant}", Tags: tags,
		Summary: "Get a tenant",
	}, viewer, func(ctx context.Context, in *TenantPath) (*tenantOutput, error) {
		t := callFrom(ctx).tenant
		return &tenantOutput{ETag: etag(t.UpdatedAt), Body: tenantOf(t)}, nil
	})

	register(a, huma.Operation{
		OperationID: "update-tenant", Method: http.MethodPatch, Path: "/v1/tenants/{tenant}", Tags: tags,
		Summary: "Update a tenant",
		Description: "Renames, suspends or reactivates a tenant. Send If-Match with the ETag you read to avoid overwriting a concurrent change. " +
			"A suspended tenant is read-only (every change to it is refused with 409) until this operation reactivates it; its enrolled devices keep checking in and get no commands, and no new device enrolls. " +
			"An MSP admin suspends and resumes with set-tenant-status too, which needs no grant where the tenant asks its MSP for them.",
		Errors: []int{http.StatusPreconditionFailed},
	}, access{Scope: scopeTenant, Role: identity.Admin, WhileSuspended: true}, func(ctx context.Context, in *updateTenantInput) (*tenantOutput, error) {
		c := callFrom(ctx)
		if in.Body.Status != nil && *in.Body.Status != c.tenant.Status && !c.principal.AdministersMSP(c.tenant.MSPSlug) {
			return nil, huma.Error403Forbidden("suspending or reactivating a tenant needs the MSP admin role")
		}
		// A suspended tenant takes one change: being resumed.
		if err := c.tenant.Writable(); err != nil && (in.Body.Status == nil || *in.Body.Status != tenancy.Active || in.Body.Name != nil) {
			return nil, a.problem(ctx, err)
		}
		since, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		var t tenancy.Tenant
		err = a.audited(ctx, func(ctx context.Context) (err error) {
			t, err = a.d.Tenants.Update(ctx, tenancy.TenantUpdate{Name: in.Body.Name, Status: in.Body.Status, IfUpdatedAt: since})
			return err
		})
		if err != nil {
			return nil, err
		}
		return &tenantOutput{ETag: etag(t.UpdatedAt), Body: tenantOf(t)}, nil
	})

}

// hostnameRoutes registers a tenant's hostnames and their verification.
func (a *API) hostnameRoutes() {
	tags := []string{"Tenants"}
	register(a, huma.Operation{
		OperationID: "list-hostnames", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/hostnames", Tags: tags,
		Summary: "List a tenant's hostnames",
	}, viewer, func(ctx context.Context, in *TenantPath) (*hostnamesOutput, error) {
		names, err := readValue(a, ctx, func(ctx context.Context) ([]tenancy.Hostname, error) {
			return a.d.Tenants.Hostnames(ctx, callFrom(ctx).tenant)
		})
		if err != nil {
			return nil, err
		}
		out := &hostnamesOutput{}
		for _, n := range names {
			out.Body.Items = append(out.Body.Items, hostnameOf(n))
		}
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "get-hostname", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/hostnames/{hostname}", Tags: tags,
		Summary: "Show a custom hostname and its verification",
	}, viewer, func(ctx context.Context, in *hostnamePath) (*hostnameOutput, error) {
		h, err := readValue(a, ctx, func(ctx context.Context) (tenancy.Hostname, error) { return a.d.Tenants.Hostname(ctx, in.Hostname) })
		if err != nil {
			return nil, err
		}
		return &hostnameOutput{Body: hostnameOf(h)}, nil
	})

	register(a, huma.Operation{
		OperationID: "add-hostname", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/hostnames", Tags: tags,
		Summary: "Register a custom hostname", DefaultStatus: http.StatusCreated,
		Description: "The name is pending until the tenant proves it controls its DNS: publish the TXT record in `verification`, " +
			"then call verify-hostname (a job also checks new names, soon and then at most hourly, for a week). " +
			"Once verified, devices reach the tenant at the name when DNS points it at Trident; every Trident process learns of it at once. " +
			"IP literals, names under the base domain, and names at or under another tenant's verified name are refused.",
		Errors: []int{http.StatusConflict},
	}, admin, func(ctx context.Context, in *addHostnameInput) (*hostnameOutput, error) {
		var h tenancy.Hostname
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			h, err = a.d.Tenants.AddHostname(ctx, in.Body.Hostname)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &hostnameOutput{Location: fmt.Sprintf("/v1/tenants/%s/hostnames/%s", in.Tenant, h.Name), Body: hostnameOf(h)}, nil
	})

	register(a, huma.Operation{
		OperationID: "verify-hostname", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/hostnames/{hostname}/verify", Tags: tags,
		Summary: "Check DNS for a custom hostname's verification record now",
		Description: "Looks up the TXT record at `_trident-challenge.{hostname}`. When it holds the name's token, the name is verified " +
			"and serves devices; otherwise the answer is 409 with what DNS showed, which the hostname's `check_error` also keeps. " +
			"Verifying a verified name changes nothing.",
		Errors: []int{http.StatusConflict},
	}, admin, func(ctx context.Context, in *hostnamePath) (*hostnameOutput, error) {
		// Not audited(): a check that proves nothing is kept, though it
		// answers an error; the entry joins the verification's transaction.
		h, err := a.d.Tenants.VerifyHostname(tenantContext(ctx), in.Hostname, func(ctx context.Context, _ tenancy.Hostname) error {
			return a.record(ctx)
		})
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &hostnameOutput{Body: hostnameOf(h)}, nil
	})

	register(a, huma.Operation{
		OperationID: "remove-hostname", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/hostnames/{hostname}", Tags: tags,
		Summary: "Remove a custom hostname", DefaultStatus: http.StatusNoContent,
	}, admin, func(ctx context.Context, in *hostnamePath) (*struct{}, error) {
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.Tenants.RemoveHostname(ctx, in.Hostname) })
	})
}
