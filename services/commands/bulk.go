package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// BulkArgs is the River job that queues one command for many devices, a
// batch per run: each run queues up to BulkBatch commands (with their
// delivery jobs) and enqueues the next run in the same transaction, so a
// crash resumes where it stopped and no device gets the command twice.
type BulkArgs struct {
	TenantID uuid.UUID          `json:"tenant_id"`
	BulkID   uuid.UUID          `json:"bulk_id"`
	Command  string             `json:"command"`
	Payload  []byte             `json:"payload_sealed,omitempty"` // the payload, sealed: River's rows hold no secret
	Platform inventory.Platform `json:"platform,omitempty"`       // only these devices; "" for all
	Devices  []uuid.UUID        `json:"devices,omitempty"`        // only these devices; empty for all
	Group    uuid.UUID          `json:"group,omitempty"`          // only this group's devices
	After    uuid.UUID          `json:"after"`                    // resume after this device id
	By       string             `json:"by"`
}

// Kind names the job kind in River.
func (BulkArgs) Kind() string { return "commands.bulk" }

// BulkBatch is how many commands one BulkArgs run queues.
const BulkBatch = 500

// Bulk is a command for many devices.
type Bulk struct {
	Kind     string
	Payload  map[string]any
	Platform inventory.Platform // only these devices; "" for all
	Devices  []uuid.UUID        // only these devices; empty for all
	Group    uuid.UUID          // only this group's devices
	By       string
}

// ErrNoJobs refuses a bulk command on a server without background jobs.
var ErrNoJobs = fault.New(fault.Unsupported, "background jobs are not configured on this server")

// QueueBulk starts a bulk command in tx: its first batch's job, with the
// payload sealed. It returns the bulk's id (the commands it queues carry
// created_by "bulk:<id>:<by>").
func (q *Queue) QueueBulk(ctx context.Context, tenant uuid.UUID, b Bulk) (uuid.UUID, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) (uuid.UUID, error) { return q.queueBulkTx(ctx, tx, tenant, b) })
}

func (q *Queue) queueBulkTx(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, b Bulk) (uuid.UUID, error) {
	if _, ok := kinds[b.Kind]; !ok {
		return uuid.Nil, fault.InvalidField("kind", fmt.Sprintf("%q is not a command kind", b.Kind))
	}
	if q.jobs == nil {
		return uuid.Nil, ErrNoJobs
	}
	id := uuid.New()
	sealed, err := q.sealBulk(tenant, id, b.Payload)
	if err != nil {
		return uuid.Nil, err
	}
	_, err = q.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: BulkArgs{TenantID: tenant, BulkID: id,
		Command: b.Kind, Payload: sealed, Platform: b.Platform, Devices: b.Devices, Group: b.Group, By: b.By}}})
	if err != nil {
		return uuid.Nil, fmt.Errorf("commands: enqueue the bulk command: %w", err)
	}
	return id, nil
}

// BulkStep queues a's command for the next batch of its devices and
// returns the next step's args, or nil when done. Devices whose platform
// lacks the command kind are skipped. It opens the tenant transaction,
// or joins the one ctx is within (the bulk job's, which ends with it).
func (q *Queue) BulkStep(ctx context.Context, a BulkArgs) (next *BulkArgs, queued int, err error) {
	err = q.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		next, queued, err = q.bulkStep(ctx, tx, a)
		return err
	})
	return next, queued, err
}

func (q *Queue) bulkStep(ctx context.Context, tx pgx.Tx, a BulkArgs) (next *BulkArgs, queued int, err error) {
	if _, ok := kinds[a.Command]; !ok {
		return nil, 0, fault.InvalidField("kind", fmt.Sprintf("%q is not a command kind", a.Command))
	}
	picked, err := q.inv.SelectTx(ctx, tx, inventory.Selection{Platform: a.Platform, Enrolled: true, Devices: a.Devices,
		Group: a.Group, After: a.After, Limit: BulkBatch})
	if err != nil {
		return nil, 0, err
	}
	payload, err := q.openBulk(a)
	if err != nil {
		return nil, 0, err
	}
	for _, d := range picked {
		_, err := q.EnqueueTx(ctx, tx, NewCommand{DeviceID: d.ID, Kind: a.Command, Payload: payload, CreatedBy: "bulk:" + a.BulkID.String() + ":" + a.By})
		switch {
		case fault.Is(err, fault.Invalid), errors.Is(err, ErrState):
			continue // this device cannot take it
		case err != nil:
			return nil, queued, err
		}
		queued++
	}
	if len(picked) < BulkBatch {
		return nil, queued, nil
	}
	n := a
	n.After = picked[len(picked)-1].ID
	return &n, queued, nil
}

// BulkReach counts the tenant's enrolled devices a bulk command of kind
// would be queued for (of platform, "" for any): those whose platform has
// the kind. It is a dry run: nothing is queued.
func (q *Queue) BulkReach(ctx context.Context, kind string, platform inventory.Platform) (int, error) {
	k, ok := kinds[kind]
	if !ok || k.Internal {
		return 0, fault.InvalidField("command", fmt.Sprintf("%q is not a command kind", kind))
	}
	total := 0
	for _, p := range k.Platforms {
		if platform != "" && p != platform {
			continue
		}
		n, err := q.inv.Count(ctx, inventory.Query{Platform: p, Status: inventory.Enrolled})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// BulkProgress counts the commands a bulk command has queued, by status.
func (q *Queue) BulkProgress(ctx context.Context, bulk uuid.UUID) (map[Status]int, error) {
	return tenancy.Read(ctx, q.db, func(tx pgx.Tx) (map[Status]int, error) {
		rows, _ := tx.Query(ctx, `SELECT status, count(*) FROM commands WHERE starts_with(created_by, $1) GROUP BY status`,
			"bulk:"+bulk.String()+":")
		out := map[Status]int{}
		var st Status
		var n int
		_, err := pgx.ForEachRow(rows, []any{&st, &n}, func() error { out[st] = n; return nil })
		return out, err
	})
}

// BulkFailure is how many of one bulk command's commands ended in error.
type BulkFailure struct {
	Bulk   uuid.UUID
	Kind   string
	Errors int
}

// FailedBulks are the tenant's bulk commands with commands created since
// that ended in error, the most errors first (it reads only errored
// commands: an index keeps them).
func (q *Queue) FailedBulks(ctx context.Context, since time.Time) ([]BulkFailure, error) {
	return tenancy.Read(ctx, q.db, func(tx pgx.Tx) ([]BulkFailure, error) {
		rows, _ := tx.Query(ctx, `SELECT split_part(created_by, ':', 2)::uuid, kind, count(*) FROM commands
WHERE status = 'error' AND created_at >= $1 AND starts_with(created_by, 'bulk:')
GROUP BY 1, 2 ORDER BY 3 DESC, 1`, since)
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (BulkFailure, error) {
			var f BulkFailure
			return f, r.Scan(&f.Bulk, &f.Kind, &f.Errors)
		})
	})
}
