package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

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

// operationTenants are the MSP's tenants a target names, in slug order;
// a slug that is not one of them is the caller's error.
func (a *API) operationTenants(ctx context.Context, target OperationTarget) ([]tenancy.Tenant, error) {
	all, err := a.d.Directory.ListTenants(ctx, callFrom(ctx).msp.ID)
	if err != nil {
		return nil, a.problem(ctx, err)
	}
	var unknown []string
	for _, slug := range target.Tenants {
		if !slices.ContainsFunc(all, func(t tenancy.Tenant) bool { return t.Slug == slug }) {
			unknown = append(unknown, slug)
		}
	}
	if len(unknown) > 0 {
		return nil, huma.Error422UnprocessableEntity("not tenants of the MSP: "+strings.Join(unknown, ", "),
			&huma.ErrorDetail{Location: "body.tenants", Message: "not a tenant of this MSP", Value: unknown})
	}
	var tagged map[uuid.UUID]bool
	if target.Tag != "" {
		if tagged, err = a.d.MSP.Tagged(ctx, callFrom(ctx).msp.ID, target.Tag); err != nil {
			return nil, a.problem(ctx, err)
		}
	}
	var out []tenancy.Tenant
	for _, t := range all {
		if (len(target.Tenants) == 0 || slices.Contains(target.Tenants, t.Slug)) && (tagged == nil || tagged[t.ID]) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, huma.Error422UnprocessableEntity("no tenant of the MSP matches the target")
	}
	return out, nil
}

// checkCommand refuses a kind that is not one, or that the caller may
// not send (Internal kinds; Authorize for an MSP admin, an admin in
// every tenant).
func checkOperationCommand(target OperationTarget, payload map[string]any) (commands.Kind, error) {
	k, ok := commands.LookupKind(target.Command)
	if !ok || k.Internal {
		return commands.Kind{}, huma.Error422UnprocessableEntity("not a command kind: "+target.Command,
			&huma.ErrorDetail{Location: "body.command", Message: "not a command kind", Value: target.Command})
	}
	if target.Platform != "" && !slices.Contains(k.Platforms, target.Platform) {
		return commands.Kind{}, huma.Error422UnprocessableEntity(target.Command+" is not a "+string(target.Platform)+" command",
			&huma.ErrorDetail{Location: "body.platform", Message: "the command has no such platform", Value: target.Platform})
	}
	if err := commands.Authorize(identity.Admin, k.Name, payload); err != nil {
		return commands.Kind{}, huma.Error403Forbidden(err.Error())
	}
	return k, nil
}

func (a *API) operationRoutes() {
	tags := []string{"Tenants"}
	register(a, huma.Operation{
		OperationID: "dry-run-msp-operation", Method: http.MethodPost, Path: "/v1/msps/{msp}/operations/dry-run", Tags: tags,
		Summary:     "How many devices a command to many tenants would reach",
		Description: "Counts, tenant by tenant, the enrolled devices the command would be queued for. Nothing is queued.",
	}, mspAdmin, func(ctx context.Context, in *dryRunInput) (*struct{ Body Page[TenantReach] }, error) {
		if _, err := checkOperationCommand(in.Body, nil); err != nil {
			return nil, err
		}
		tenants, err := a.operationTenants(ctx, in.Body)
		if err != nil {
			return nil, err
		}
		reach, err := a.d.MSP.DryRun(ctx, a.d.Commands, tenants, in.Body.Command, in.Body.Platform)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := make([]TenantReach, len(reach))
		for i, r := range reach {
			out[i] = TenantReach{Tenant: r.Tenant.Slug, Devices: r.Devices}
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
		k, err := checkOperationCommand(in.Body.OperationTarget, in.Body.Payload)
		if err != nil {
			return nil, err
		}
		c := callFrom(ctx)
		if k.Destructive && in.Body.Confirm != c.msp.Slug {
			return nil, huma.Error422UnprocessableEntity(k.Name+" cannot be undone: set confirm to the MSP's slug, "+c.msp.Slug+", to send it",
				&huma.ErrorDetail{Location: "body.confirm", Message: "type the MSP's slug", Value: in.Body.Confirm})
		}
		tenants, err := a.operationTenants(ctx, in.Body.OperationTarget)
		if err != nil {
			return nil, err
		}
		op, err := a.d.MSP.CreateOperation(ctx, c.msp.ID, k.Name, in.Body.Platform, c.principal.Subject)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		for _, t := range tenants {
			c.tenant = t // each tenant's part is audited in its own log
			var part msp.Part
			err := a.audited(ctx, func(ctx context.Context) (err error) {
				part, err = a.d.MSP.StartPart(ctx, a.d.Commands, op, t, in.Body.Payload)
				return err
			})
			if err != nil {
				part = msp.Part{Tenant: t, Problem: err.Error()}
				if ferr := a.d.MSP.FailPart(ctx, op, t, err.Error()); ferr != nil {
					return nil, a.problem(ctx, ferr)
				}
			}
			op.Parts = append(op.Parts, part)
		}
		c.tenant = tenancy.Tenant{}
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
