package msp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Reach is how many of a tenant's devices an operation would reach.
type Reach struct {
	Tenant  tenancy.Tenant
	Devices int
}

// DryRun counts, tenant by tenant (each in its own transaction), the
// enrolled devices a command of kind (to platform, "" for every platform
// that has it) would be queued for. Nothing is queued.
func (s *Service) DryRun(ctx context.Context, cmds *commands.Queue, tenants []tenancy.Tenant, kind string, platform inventory.Platform) ([]Reach, error) {
	out := make([]Reach, 0, len(tenants))
	for _, t := range tenants {
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
