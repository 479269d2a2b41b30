package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// OperationTarget is which tenants, and which of their devices, a
// cross-tenant operation is for.
type OperationTarget struct {
	Command  string             `json:"command" minLength:"1" maxLength:"100" doc:"The command kind (see queue-command)."`
	Platform inventory.Platform `json:"platform,omitempty" enum:"apple,windows,android" doc:"Only this platform's devices; every platform that has the command when absent."`
	Tenants  []string           `json:"tenants,omitempty" maxItems:"1000" doc:"The tenants, by slug; with tag, those of them that have it. Every tenant of the MSP when both are absent."`
	Tag      string             `json:"tag,omitempty" maxLength:"63" doc:"Only the tenants with this tag."`
}

// TenantReach is how many of a tenant's devices an operation reaches.
type TenantReach struct {
	Tenant  string `json:"tenant"`
	Devices int    `json:"devices" doc:"Enrolled devices whose platform has the command."`
	Problem string `json:"problem,omitempty" doc:"Why the operation would not reach the tenant's devices: it is suspended."`
}

// OperationPart is an operation in one tenant.
type OperationPart struct {
	Tenant   string         `json:"tenant"`
	BulkID   *uuid.UUID     `json:"bulk_id,omitempty" doc:"The tenant's bulk command; absent when it did not start (see problem)."`
	Devices  int            `json:"devices" doc:"The devices it could reach when it started."`
	Problem  string         `json:"problem,omitempty"`
	Commands map[string]int `json:"commands" doc:"The commands it queued so far, by status."`
}

// Operation is a command an MSP sent to devices of many tenants.
type Operation struct {
	ID        uuid.UUID          `json:"id"`
	Command   string             `json:"command"`
	Platform  inventory.Platform `json:"platform,omitempty"`
	CreatedBy string             `json:"created_by"`
	CreatedAt time.Time          `json:"created_at"`
	Parts     []OperationPart    `json:"parts"`
}

func operationOf(o msp.Operation) Operation {
	out := Operation{ID: o.ID, Command: o.Command, Platform: o.Platform, CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt, Parts: []OperationPart{}}
	for _, p := range o.Parts {
		part := OperationPart{Tenant: p.Tenant.Slug, Devices: p.Devices, Problem: p.Problem, Commands: map[string]int{}}
		if p.BulkID != uuid.Nil {
			id := p.BulkID
			part.BulkID = &id
		}
		for st, n := range p.Commands {
			part.Commands[string(st)] = n
		}
		out.Parts = append(out.Parts, part)
	}
	return out
}

type dryRunInput struct {
	MSP  string `path:"msp" doc:"The MSP's slug."`
	Body OperationTarget
}

type runOperationInput struct {
	MSP  string `path:"msp" doc:"The MSP's slug."`
	Body struct {
		OperationTarget
		Payload map[string]any `json:"payload,omitempty" doc:"The command's payload, as for queue-command."`
		Confirm string         `json:"confirm,omitempty" doc:"For a destructive command: the MSP's slug, typed."`
	}
}

type operationPath struct {
	MSP string `path:"msp" doc:"The MSP's slug."`
	ID  string `path:"id" format:"uuid"`
}

func (t OperationTarget) target() msp.Target {
	return msp.Target{Command: t.Command, Platform: t.Platform, Tenants: t.Tenants, Tag: t.Tag}
}

func (a *API) operationRoutes() {
	tags := []string{"Tenants"}
	register(a, huma.Operation{
		OperationID: "dry-run-msp-operation", Method: http.MethodPost, Path: "/v1/msps/{msp}/operations/dry-run", Tags: tags,
		Summary:     "How many devices a command to many tenants would reach",
		Description: "Counts, tenant by tenant, the enrolled devices the command would be queued for. Nothing is queued.",
	}, mspAdmin, func(ctx context.Context, in *dryRunInput) (*struct{ Body Page[TenantReach] }, error) {
		_, tenants, err := a.d.MSP.Resolve(ctx, callFrom(ctx).msp.ID, in.Body.target(), nil)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		reach, err := a.d.MSP.DryRun(ctx, a.d.Commands, tenants, in.Body.Command, in.Body.Platform)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := make([]TenantReach, len(reach))
		for i, r := range reach {
			out[i] = TenantReach{Tenant: r.Tenant.Slug, Devices: r.Devices, Problem: r.Problem}
		}
		return &struct{ Body Page[TenantReach] }{Page[TenantReach]{Items: out}}, nil
	})

	register(a, huma.Operation{
		OperationID: "run-msp-operation", Method: http.MethodPost, Path: "/v1/msps/{msp}/operations", Tags: tags,
		Summary: "Send a command to devices of many tenants", DefaultStatus: http.StatusAccepted,
		Description: "Starts, in each tenant in its own audited transaction, a bulk command for its enrolled devices that have it " +
			"(as queue-bulk-command), tracked as one operation: get-msp-operation shows each tenant's progress. A destructive " +
			"command needs confirm set to the MSP's slug. A tenant where it cannot start is recorded with the problem; the others go on.",
	}, mspAdmin, func(ctx context.Context, in *runOperationInput) (*struct{ Body Operation }, error) {
		c := callFrom(ctx)
		op, err := a.d.MSP.Run(ctx, a.d.Commands, c.msp, in.Body.target(), in.Body.Payload, in.Body.Confirm, c.principal.Subject,
			func(ctx context.Context, t tenancy.Tenant) error {
				c.tenant = t // each tenant's part is in its own audit log
				if err := a.mspReach(ctx, c, t, func(r identity.Role) error {
					return commands.Authorize(r, in.Body.Command, in.Body.Payload)
				}); err != nil {
					return err // the part is recorded with the problem, and rolled back
				}
				return a.record(ctx)
			})
		c.tenant = tenancy.Tenant{}
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Operation }{operationOf(op)}, nil
	})

	register(a, huma.Operation{
		OperationID: "list-msp-operations", Method: http.MethodGet, Path: "/v1/msps/{msp}/operations", Tags: tags,
		Summary: "The MSP's latest cross-tenant operations",
	}, mspAdmin, func(ctx context.Context, in *struct {
		MSP string `path:"msp"`
	}) (*struct{ Body Page[Operation] }, error) {
		ops, err := a.d.MSP.Operations(ctx, callFrom(ctx).msp.ID, 100)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := make([]Operation, len(ops))
		for i, o := range ops {
			out[i] = operationOf(o)
		}
		return &struct{ Body Page[Operation] }{Page[Operation]{Items: out}}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-msp-operation", Method: http.MethodGet, Path: "/v1/msps/{msp}/operations/{id}", Tags: tags,
		Summary: "A cross-tenant operation and each tenant's progress",
	}, mspAdmin, func(ctx context.Context, in *operationPath) (*struct{ Body Operation }, error) {
		op, err := a.d.MSP.Progress(ctx, a.d.Commands, callFrom(ctx).msp.ID, parseID(in.ID))
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Operation }{operationOf(op)}, nil
	})
}

type exportInput struct {
	MSP    string `path:"msp" doc:"The MSP's slug."`
	Tenant string `path:"tenant" doc:"The tenant's slug."`
}

func (a *API) exportRoutes() {
	register(a, huma.Operation{
		OperationID: "export-tenant", Method: http.MethodGet, Path: "/v1/msps/{msp}/tenants/{tenant}/export", Tags: []string{"Tenants"},
		Summary: "Export a tenant's data (offboarding)",
		Description: "A zip of JSON Lines files, one record a line: tenant.json, devices.jsonl (with facts and users), groups.jsonl " +
			"(with members), compliance_rules.jsonl, commands.jsonl (secret payload fields redacted), webhooks.jsonl (no signing " +
			"secrets) and audit.jsonl, read from one snapshot. Recorded in the tenant's audit log.",
		Responses: map[string]*huma.Response{"200": {Description: "The tenant's data.", Content: map[string]*huma.MediaType{"application/zip": {}}}},
	}, mspAdmin, func(ctx context.Context, in *exportInput) (*huma.StreamResponse, error) {
		c := callFrom(ctx)
		t, err := a.mspTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		c.tenant = t
		if err := a.mspReach(ctx, c, t, func(r identity.Role) error {
			if !r.AtLeast(identity.Admin) {
				return fault.New(fault.Forbidden, "exporting the tenant needs the admin role there; the caller's is %s", r)
			}
			return nil
		}); err != nil {
			return nil, a.problem(ctx, err)
		}
		// A read, but a sensitive one: recorded before it streams.
		if err := a.problem(ctx, a.rawAudited(ctx, true, func(context.Context) error { return nil })); err != nil {
			return nil, err
		}
		src := msp.ExportSources{Commands: a.d.Commands, Compliance: a.d.Compliance, Webhooks: a.d.Webhooks, Audit: a.d.Audit}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "application/zip")
			hctx.SetHeader("Content-Disposition", `attachment; filename="`+t.Slug+`-export-`+time.Now().UTC().Format("2006-01-02")+`.zip"`)
			if err := a.d.MSP.Export(ctx, src, t, hctx.BodyWriter()); err != nil {
				// The status is sent: the zip is cut short and will not open.
				a.d.Log.ErrorContext(ctx, "tenant export", "tenant", t.Slug, "err", err)
			}
		}}, nil
	})
}

// mspReach holds an MSP's operation on one of its tenants to what the
// policy gives the caller there (identity.Delegations.Reach); the access
// is the call's, for the audit entry.
func (a *API) mspReach(ctx context.Context, c *call, t tenancy.Tenant, may func(identity.Role) error) error {
	got, err := a.d.Grants.Reach(ctx, c.principal, t, may)
	if err != nil {
		return err
	}
	c.access = got
	return nil
}
