package msp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Reach is how many of a tenant's devices an operation would reach.
type Reach struct {
	Tenant  tenancy.Tenant
	Devices int
	Problem string // why it would not reach the tenant's devices (a suspended tenant)
}

// DryRun counts, tenant by tenant (each in its own transaction), the
// enrolled devices a command of kind (to platform, "" for every platform
// that has it) would be queued for. Nothing is queued.
func (s *Service) DryRun(ctx context.Context, cmds *commands.Queue, tenants []tenancy.Tenant, kind string, platform inventory.Platform) ([]Reach, error) {
	out := make([]Reach, 0, len(tenants))
	for _, t := range tenants {
		if err := t.Writable(); err != nil {
			out = append(out, Reach{Tenant: t, Problem: err.Error()})
			continue
		}
		n, err := cmds.BulkReach(tenancy.WithTenant(ctx, t.ID), kind, platform)
		if err != nil {
			return nil, err
		}
		out = append(out, Reach{Tenant: t, Devices: n})
	}
	return out, nil
}

// Operation is a command an MSP sent to devices of many tenants, tracked
// as one.
type Operation struct {
	ID        uuid.UUID
	Command   string
	Platform  inventory.Platform
	CreatedBy string
	CreatedAt time.Time
	Parts     []Part
}

// Part is an operation in one tenant: its bulk command there and how far
// it got.
type Part struct {
	Tenant  tenancy.Tenant
	BulkID  uuid.UUID // uuid.Nil: it did not start (Problem says why)
	Devices int       // the devices it could reach when it started
	Problem string
	// Commands are the commands it queued, by status (Progress fills it).
	Commands map[commands.Status]int
}

// CreateOperation records a new operation of msp (MSPTx), before its
// parts start.
func (s *Service) CreateOperation(ctx context.Context, msp uuid.UUID, kind string, platform inventory.Platform, by string) (Operation, error) {
	op := Operation{ID: uuid.New(), Command: kind, Platform: platform, CreatedBy: by}
	err := s.db.MSPTx(ctx, msp, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO msp_operations (msp_id, id, command, platform, created_by) VALUES ($1, $2, $3, $4, $5)
RETURNING created_at`, msp, op.ID, kind, string(platform), by).Scan(&op.CreatedAt)
	})
	return op, err
}

// StartPart starts op in t: counts what it reaches, queues the tenant's
// bulk command and records the part, in t's transaction (the caller's
// audited one, which ctx is within).
func (s *Service) StartPart(ctx context.Context, cmds *commands.Queue, op Operation, t tenancy.Tenant, payload map[string]any) (Part, error) {
	if err := t.Writable(); err != nil {
		return Part{}, err // its devices get no new work
	}
	ctx = tenancy.WithTenant(ctx, t.ID)
	p := Part{Tenant: t}
	err := s.db.Within(ctx, func(ctx context.Context) (err error) {
		if p.Devices, err = cmds.BulkReach(ctx, op.Command, op.Platform); err != nil {
			return err
		}
		if p.BulkID, err = cmds.QueueBulk(ctx, t.ID, commands.Bulk{Kind: op.Command, Payload: payload, Platform: op.Platform, By: op.CreatedBy}); err != nil {
			return err
		}
		return s.db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO msp_operation_tenants (tenant_id, msp_id, operation_id, bulk_id, devices)
VALUES (current_tenant(), $1, $2, $3, $4)`, t.MSPID, op.ID, p.BulkID, p.Devices)
			return err
		})
	})
	if err != nil {
		return Part{}, err
	}
	return p, nil
}

// FailPart records that op could not start in t, and why.
func (s *Service) FailPart(ctx context.Context, op Operation, t tenancy.Tenant, problem string) error {
	if len(problem) > 1000 {
		problem = problem[:1000]
	}
	return s.db.Tx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO msp_operation_tenants (tenant_id, msp_id, operation_id, problem) VALUES (current_tenant(), $1, $2, $3)
ON CONFLICT (tenant_id, operation_id) DO UPDATE SET problem = EXCLUDED.problem`, t.MSPID, op.ID, problem)
		return err
	})
}

// ErrNoOperation is an operation id the MSP does not have.
var ErrNoOperation = fault.New(fault.NotFound, "no such operation in the MSP")

// Operations lists msp's latest operations, newest first, without their
// progress.
func (s *Service) Operations(ctx context.Context, msp uuid.UUID, limit int) ([]Operation, error) {
	var out []Operation
	err := s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, command, platform, created_by, created_at FROM msp_operations ORDER BY created_at DESC, id LIMIT $1`, limit)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Operation, error) {
			var o Operation
			return o, r.Scan(&o.ID, &o.Command, &o.Platform, &o.CreatedBy, &o.CreatedAt)
		})
		return err
	})
	return out, err
}

// Progress reads msp's operation id with each tenant's part and the
// commands it queued there (the tenant loop: each tenant's commands in
// its own transaction).
func (s *Service) Progress(ctx context.Context, cmds *commands.Queue, msp uuid.UUID, id uuid.UUID) (Operation, error) {
	var op Operation
	type part struct {
		tenant  uuid.UUID
		bulk    *uuid.UUID
		devices int
		problem string
	}
	var parts []part
	err := s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, command, platform, created_by, created_at FROM msp_operations WHERE id = $1`, id).
			Scan(&op.ID, &op.Command, &op.Platform, &op.CreatedBy, &op.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoOperation
		} else if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT tenant_id, bulk_id, devices, problem FROM msp_operation_tenants WHERE operation_id = $1`, id)
		var p part
		_, err = pgx.ForEachRow(rows, []any{&p.tenant, &p.bulk, &p.devices, &p.problem}, func() error { parts = append(parts, p); return nil })
		return err
	})
	if err != nil {
		return Operation{}, err
	}
	tenants, err := s.dir.ListTenants(ctx, msp)
	if err != nil {
		return Operation{}, err
	}
	for _, t := range tenants { // in slug order
		for _, p := range parts {
			if p.tenant != t.ID {
				continue
			}
			pt := Part{Tenant: t, Devices: p.devices, Problem: p.problem, Commands: map[commands.Status]int{}}
			if p.bulk != nil {
				pt.BulkID = *p.bulk
				if pt.Commands, err = cmds.BulkProgress(tenancy.WithTenant(ctx, t.ID), pt.BulkID); err != nil {
					return Operation{}, fmt.Errorf("msp: operation %s in %s: %w", id, t.Slug, err)
				}
			}
			op.Parts = append(op.Parts, pt)
		}
	}
	return op, nil
}

// Target is which tenants, and which of their devices, an operation is
// for: the command to send, to one platform's devices or every platform
// that has it, in the tenants named (by slug) or every tenant of the
// MSP, narrowed to those with Tag.
type Target struct {
	Command  string
	Platform inventory.Platform
	Tenants  []string
	Tag      string
}

// Resolve checks t against msp: the kind is one an MSP admin may send
// (with payload), to that platform; every tenant named is the MSP's. It
// answers the kind and the tenants, in slug order; anything else is the
// caller's error, naming the field.
func (s *Service) Resolve(ctx context.Context, msp uuid.UUID, t Target, payload map[string]any) (commands.Kind, []tenancy.Tenant, error) {
	k, ok := commands.LookupKind(t.Command)
	if !ok || k.Internal {
		return commands.Kind{}, nil, fault.InvalidField("command", fmt.Sprintf("%q is not a command kind", t.Command))
	}
	if t.Platform != "" && !slices.Contains(k.Platforms, t.Platform) {
		return commands.Kind{}, nil, fault.InvalidField("platform", fmt.Sprintf("%s is not a %s command", t.Command, t.Platform))
	}
	if err := commands.Authorize(identity.Admin, k.Name, payload); err != nil { // an MSP admin is an admin in every tenant
		return commands.Kind{}, nil, fault.New(fault.Forbidden, "%s", err.Error())
	}
	all, err := s.dir.ListTenants(ctx, msp)
	if err != nil {
		return commands.Kind{}, nil, err
	}
	var unknown []string
	for _, slug := range t.Tenants {
		if !slices.ContainsFunc(all, func(x tenancy.Tenant) bool { return x.Slug == slug }) {
			unknown = append(unknown, slug)
		}
	}
	if len(unknown) > 0 {
		return commands.Kind{}, nil, fault.InvalidField("tenants", "not tenants of the MSP: "+strings.Join(unknown, ", "))
	}
	var tagged map[uuid.UUID]bool
	if t.Tag != "" {
		if tagged, err = s.Tagged(ctx, msp, t.Tag); err != nil {
			return commands.Kind{}, nil, err
		}
	}
	var out []tenancy.Tenant
	for _, x := range all {
		if (len(t.Tenants) == 0 || slices.Contains(t.Tenants, x.Slug)) && (tagged == nil || tagged[x.ID]) {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return commands.Kind{}, nil, fault.InvalidField("tenants", "no tenant of the MSP matches")
	}
	return k, out, nil
}

// Run sends target's command (with payload) to the devices of its
// tenants as one operation of m, by the caller by: a destructive kind
// needs confirm to be m's slug. Each tenant's part starts in that
// tenant's transaction, with the entry record writes in its audit log;
// a tenant where it cannot start is recorded with the problem and the
// others go on.
func (s *Service) Run(ctx context.Context, cmds *commands.Queue, m tenancy.MSP, target Target, payload map[string]any, confirm, by string,
	record func(ctx context.Context, t tenancy.Tenant) error) (Operation, error) {
	k, tenants, err := s.Resolve(ctx, m.ID, target, payload)
	if err != nil {
		return Operation{}, err
	}
	if k.Destructive && confirm != m.Slug {
		return Operation{}, fault.InvalidField("confirm", fmt.Sprintf("%s cannot be undone: type the MSP's short name, %s, to send it", k.Name, m.Slug))
	}
	op, err := s.CreateOperation(ctx, m.ID, k.Name, target.Platform, by)
	if err != nil {
		return Operation{}, err
	}
	for _, t := range tenants {
		var part Part
		err := s.db.Within(tenancy.WithTenant(ctx, t.ID), func(ctx context.Context) (err error) {
			if part, err = s.StartPart(ctx, cmds, op, t, payload); err != nil {
				return err
			}
			return record(ctx, t)
		})
		if err != nil {
			part = Part{Tenant: t, Problem: err.Error()}
			if err := s.FailPart(ctx, op, t, err.Error()); err != nil {
				return op, err
			}
		}
		op.Parts = append(op.Parts, part)
	}
	return op, nil
}

// FailedOperation is the kind of the console's item for a tenant where
// one of the MSP's operations did not start.
const FailedOperation = "failed_operation"

// OperationRecent is how far back operations that did not start count.
const OperationRecent = 7 * 24 * time.Hour

// operationsItem is the console's item for the MSP's operations of the
// last week that did not start in t (linking to the newest), or nil.
func (s *Service) operationsItem(ctx context.Context, t tenancy.Tenant) (*attention.Item, error) {
	var n int
	var newest *uuid.UUID
	var problem string
	err := s.db.ReadTx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*), (array_agg(operation_id ORDER BY created_at DESC))[1], coalesce((array_agg(problem ORDER BY created_at DESC))[1], '')
FROM msp_operation_tenants WHERE bulk_id IS NULL AND created_at > $1`, s.now().Add(-OperationRecent)).Scan(&n, &newest, &problem)
	})
	if err != nil || n == 0 || newest == nil {
		return nil, err
	}
	return &attention.Item{Kind: FailedOperation, Severity: attention.Warning, Count: n,
		Link: "/dashboard/msps/" + t.MSPSlug + "/operations/" + newest.String(),
		Text: fmt.Sprintf("%s of the MSP did not start here in the last week: %s", attention.Counted(n, "operation", "operations"), problem)}, nil
}
