package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// from is the one table of a command's life: for each state, the states
// a command may enter it from. Sent from Sent is a command handed to its
// device again (it did not answer; another attempt).
//
//	queued ──hand──▶ sent ──answer──▶ acknowledged | error
//	  │               │  ▲ └──NotNow──▶ not_now ──hand──┘
//	  └─cancel/expire─┴──┴─────────────────┴──▶ canceled (not from sent) | expired
var from = map[Status][]Status{
	Sent:         {Queued, NotNow, Sent},
	Acknowledged: {Sent},
	Error:        {Sent},
	NotNow:       {Sent},
	Canceled:     {Queued, NotNow},
	Expired:      {Queued, NotNow, Sent},
}

// CanBecome reports whether a command in state s may move to state to.
func (s Status) CanBecome(to Status) bool { return slices.Contains(from[to], s) }

// move is one change of state: only from the states the table allows,
// only for device when it is set, and for a hand-out (to Sent) only
// before the deadline. It is one conditional UPDATE, so of two
// transactions racing for the same command (a cancel and a hand-out) one
// wins and the other gets ErrState once the first commits.
type move struct {
	id      uuid.UUID
	device  uuid.UUID // uuid.Nil: any (the API, the jobs)
	to      Status
	result  []byte
	problem string
}

func (q *Queue) transition(ctx context.Context, tx pgx.Tx, m move) (Command, error) {
	if len(m.problem) > 2000 {
		m.problem = m.problem[:2000]
	}
	allowed := make([]string, 0, 3)
	for _, s := range from[m.to] {
		allowed = append(allowed, string(s))
	}
	c, err := scanCommand(tx.QueryRow(ctx, `
UPDATE commands SET status = $2,
    attempts     = attempts + CASE WHEN $2 = 'sent' THEN 1 ELSE 0 END,
    sent_at      = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END,
    completed_at = CASE WHEN $2 IN ('acknowledged', 'error', 'expired', 'canceled') THEN now() END,
    result       = coalesce($3, result),
    error        = $4,
    updated_at   = now()
WHERE id = $1 AND status = ANY($5::text[])
  AND ($6::uuid IS NULL OR device_id = $6)
  AND ($2 <> 'sent' OR expires_at > now())
RETURNING `+commandCols, m.id, m.to, m.result, m.problem, allowed, uuid.NullUUID{UUID: m.device, Valid: m.device != uuid.Nil}))
	if errors.Is(err, pgx.ErrNoRows) {
		return Command{}, q.refusal(ctx, tx, m)
	}
	if err != nil {
		return Command{}, fmt.Errorf("commands: %s: %w", m.to, err)
	}
	return c, q.publish(ctx, tx, c)
}

// errPastDeadline is a hand-out refused because the command's deadline
// passed while it was still open (a conflict: it must be expired).
var errPastDeadline = fmt.Errorf("passed its deadline: %w", ErrState)

// refusal says why a move changed nothing: no such command, another
// device's, or not in a state it may move from.
func (q *Queue) refusal(ctx context.Context, tx pgx.Tx, m move) error {
	c, err := q.get(ctx, tx, m.id)
	switch {
	case err != nil:
		return err
	case m.device != uuid.Nil && c.DeviceID != m.device:
		return fmt.Errorf("command %s: %w", m.id, ErrForeign)
	case c.Status.Open() && m.to == Sent:
		return fmt.Errorf("command %s: %w", m.id, errPastDeadline)
	}
	return fmt.Errorf("command %s is %s and cannot become %s: %w", m.id, c.Status, m.to, ErrState)
}

// Cancel cancels a command the device has not taken yet (queued, or
// answered NotNow), and withdraws it from its platform's queue in the
// same transaction: once this commits, the device can never be handed it.
func (q *Queue) Cancel(ctx context.Context, id uuid.UUID) (Command, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) (Command, error) { return q.cancelTx(ctx, tx, id) })
}

func (q *Queue) cancelTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Command, error) {
	c, err := q.transition(ctx, tx, move{id: id, to: Canceled})
	if err != nil {
		return Command{}, err
	}
	return c.redacted(), q.withdraw(ctx, tx, c)
}

// Expire marks a command past its deadline expired, and withdraws it from
// its platform's queue. A command already finished is left alone.
func (q *Queue) Expire(ctx context.Context, id uuid.UUID) error {
	return q.db.Tx(ctx, func(tx pgx.Tx) error { return q.expireTx(ctx, tx, id) })
}

func (q *Queue) expireTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	err := q.expire(ctx, tx, id, "expired before the device answered")
	if errors.Is(err, ErrState) {
		return nil
	}
	return err
}

func (q *Queue) expire(ctx context.Context, tx pgx.Tx, id uuid.UUID, why string) error {
	c, err := q.transition(ctx, tx, move{id: id, to: Expired, problem: why})
	if err != nil {
		return err
	}
	return q.withdraw(ctx, tx, c)
}

func (q *Queue) withdraw(ctx context.Context, tx pgx.Tx, c Command) error {
	d, err := q.inv.GetTx(ctx, tx, c.DeviceID)
	if err != nil {
		return fmt.Errorf("command %s: %w", c.ID, err)
	}
	if w, ok := q.dispatchTo[d.Platform].(Withdrawer); ok {
		return w.Withdraw(ctx, tx, d, c)
	}
	return nil
}

// ExpireDue marks the tenant's open commands past their deadline expired
// (a sweep's backstop to the delivery jobs), and returns how many.
func (q *Queue) ExpireDue(ctx context.Context) (int, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) (int, error) { return q.expireDueTx(ctx, tx) })
}

func (q *Queue) expireDueTx(ctx context.Context, tx pgx.Tx) (int, error) {
	rows, _ := tx.Query(ctx, `SELECT id FROM commands
WHERE status IN ('queued', 'sent', 'not_now') AND expires_at <= now() FOR UPDATE SKIP LOCKED`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := q.expire(ctx, tx, id, "expired before the device answered"); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// Hand marks command id sent to device (once more, when it was sent
// before and not answered) and returns it as the device gets it, secrets
// opened. A command canceled, finished or another device's is
// ErrState, ErrForeign or tenancy.ErrNotFound and must not be delivered; one
// past its deadline is marked expired first. A suspended tenant's is
// ErrHeld, and unchanged. For platforms that keep
// their own queue (Apple's nanomdm queue), at the moment of hand-out.
func (q *Queue) Hand(ctx context.Context, tx pgx.Tx, device, id uuid.UUID) (Command, error) {
	if held, err := tenancy.SuspendedTx(ctx, tx); err != nil {
		return Command{}, err
	} else if held {
		return Command{}, ErrHeld
	}
	return q.hand(ctx, tx, device, id)
}

// hand is Hand once the tenant is known not to be suspended (NextTx and
// resendTx ask once for all they hand out).
func (q *Queue) hand(ctx context.Context, tx pgx.Tx, device, id uuid.UUID) (Command, error) {
	c, err := q.transition(ctx, tx, move{id: id, device: device, to: Sent})
	if errors.Is(err, errPastDeadline) {
		if xerr := q.expire(ctx, tx, id, "expired before the device took it"); xerr != nil && !errors.Is(xerr, ErrState) {
			return Command{}, xerr
		}
	}
	if err != nil {
		return Command{}, err
	}
	return q.opened(c)
}

// Next hands the device its oldest waiting command, marked sent, or nil
// when it has none (or its tenant is suspended). Those past their
// deadline are marked expired on the way.
func (q *Queue) Next(ctx context.Context, device uuid.UUID) (*Command, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) (*Command, error) { return q.NextTx(ctx, tx, device) })
}

// NextTx is Next in tx, for another service's use case that holds
// the transaction.
func (q *Queue) NextTx(ctx context.Context, tx pgx.Tx, device uuid.UUID) (*Command, error) {
	if held, err := tenancy.SuspendedTx(ctx, tx); held || err != nil {
		return nil, err
	}
	for range 1000 {
		var id uuid.UUID
		err := tx.QueryRow(ctx, `SELECT id FROM commands
WHERE device_id = $1 AND status IN ('queued', 'not_now')
ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, device).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("commands: next: %w", err)
		}
		c, err := q.hand(ctx, tx, device, id)
		if errors.Is(err, ErrState) {
			continue // expired on the way
		}
		if err != nil {
			return nil, err
		}
		return &c, nil
	}
	return nil, fmt.Errorf("commands: next: more than 1000 expired commands in one go")
}

// Resend hands the device again the commands it was sent and did not
// answer, oldest first, each marked sent once more (another attempt): for
// protocols whose sessions can end between a command and its answer
// (Windows' OMA-DM). Expired ones are marked expired instead.
func (q *Queue) Resend(ctx context.Context, device uuid.UUID) ([]Command, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) ([]Command, error) { return q.resendTx(ctx, tx, device) })
}

func (q *Queue) resendTx(ctx context.Context, tx pgx.Tx, device uuid.UUID) ([]Command, error) {
	if held, err := tenancy.SuspendedTx(ctx, tx); held || err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `SELECT id FROM commands
WHERE device_id = $1 AND status = 'sent' ORDER BY created_at, id FOR UPDATE SKIP LOCKED`, device)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("commands: resend: %w", err)
	}
	var out []Command
	for _, id := range ids {
		c, err := q.hand(ctx, tx, device, id)
		if errors.Is(err, ErrState) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ForDeviceAll returns, in one query, the commands of device among ids as
// the device got them (secrets opened), for matching its answers, and the
// ids that are another device's. Ids of no command are in neither.
func (q *Queue) ForDeviceAll(ctx context.Context, device uuid.UUID, ids []uuid.UUID) (r0 map[uuid.UUID]Command, r1 []uuid.UUID, err error) {
	err = q.db.ReadTx(ctx, func(tx pgx.Tx) error {
		r0, r1, err = q.forDeviceAllTx(ctx, tx, device, ids)
		return err
	})
	return r0, r1, err
}

func (q *Queue) forDeviceAllTx(ctx context.Context, tx pgx.Tx, device uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Command, []uuid.UUID, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	rows, _ := tx.Query(ctx, `SELECT `+commandCols+` FROM commands WHERE id = ANY($1)`, ids)
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Command, error) { return scanCommand(r) })
	if err != nil {
		return nil, nil, fmt.Errorf("commands: read answered commands: %w", err)
	}
	mine := make(map[uuid.UUID]Command, len(found))
	var foreign []uuid.UUID
	for _, c := range found {
		if c.DeviceID != device {
			foreign = append(foreign, c.ID)
			continue
		}
		if c, err = q.opened(c); err != nil {
			return nil, nil, err
		}
		mine[c.ID] = c
	}
	return mine, foreign, nil
}

// HasOpen reports whether device has a command of kind, queued by
// createdBy ("": by anyone), that has not finished (queued, sent or put
// off).
func (q *Queue) HasOpen(ctx context.Context, tx pgx.Tx, device uuid.UUID, kind, createdBy string) (bool, error) {
	var open bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM commands WHERE device_id = $1 AND kind = $2
AND ($3 = '' OR created_by = $3) AND status IN ('queued', 'sent', 'not_now'))`, device, kind, createdBy).Scan(&open)
	return open, err
}

// AwaitingTx lists the ids of device's commands that were sent and wait
// for the device's answer, for a platform's service that follows them up
// (Android polls the operations behind them).
func (q *Queue) AwaitingTx(ctx context.Context, tx pgx.Tx, device uuid.UUID) ([]uuid.UUID, error) {
	rows, _ := tx.Query(ctx, `SELECT id FROM commands WHERE device_id = $1 AND status = 'sent'`, device)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("commands: awaiting answers: %w", err)
	}
	return ids, nil
}

// Outcome is what a device answered to a command.
type Outcome struct {
	Status Status // Acknowledged, Error or NotNow
	Result any    // what the device returned, if anything
	Error  string // why it failed
}

// Complete records device's answer to a command it was sent. An answer
// from another device is ErrForeign, one to a command not waiting for an
// answer ErrState; neither changes anything.
func (q *Queue) Complete(ctx context.Context, device, id uuid.UUID, o Outcome) (Command, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) (Command, error) { return q.CompleteTx(ctx, tx, device, id, o) })
}

// CompleteTx is Complete in tx, for another service's use case that holds
// the transaction.
func (q *Queue) CompleteTx(ctx context.Context, tx pgx.Tx, device, id uuid.UUID, o Outcome) (Command, error) {
	if o.Status != Acknowledged && o.Status != Error && o.Status != NotNow {
		return Command{}, fault.InvalidField("status", fmt.Sprintf("%q is not an outcome", o.Status))
	}
	if device == uuid.Nil {
		return Command{}, fault.InvalidField("device", "an answer names the device that gave it")
	}
	var result []byte
	if o.Result != nil {
		var err error
		if result, err = json.Marshal(o.Result); err != nil {
			return Command{}, fault.InvalidField("result", err.Error())
		}
	}
	c, err := q.transition(ctx, tx, move{id: id, device: device, to: o.Status, result: result, problem: o.Error})
	if err == nil && o.Status == Acknowledged && q.done[c.Kind] != nil {
		err = q.done[c.Kind](ctx, tx, c)
	}
	return c.redacted(), err
}
