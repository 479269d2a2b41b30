// Package events is Trident's transactional outbox and live event bus.
//
// A service records what changed with Publish, inside the same tenant
// transaction as the change, so an event exists exactly when its change
// does. A trigger on the events table sends pg_notify at commit (ids only:
// NOTIFY is not filtered by row-level security). A Listener holds one
// dedicated connection and reconnects with backoff; the Bus reads each
// notified event in its tenant's own transaction and hands it to that
// tenant's subscribers, catching up from the last events they saw after
// every reconnect, so nothing is lost when the connection drops.
//
// It is not a message queue: durable work goes to River jobs, enqueued in
// the same transaction.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// Event is one recorded change.
type Event struct {
	ID        int64           `json:"id"`
	TenantID  uuid.UUID       `json:"tenant_id"`
	Kind      string          `json:"kind"`    // what happened: "device.enrolled", "command.acknowledged"
	Subject   string          `json:"subject"` // what it happened to: a device id, a command id
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,99}$`)

// insertEvent writes the event row in tx, a tenant transaction.
func insertEvent(ctx context.Context, tx pgx.Tx, kind, subject string, payload any) (Event, error) {
	if !kindRE.MatchString(kind) {
		return Event{}, fmt.Errorf("events: kind %q must be lower-case letters, digits, '_' and '.', starting with a letter", kind)
	}
	if err := checkPayload(kind, payload); err != nil {
		return Event{}, err
	}
	if len(subject) > 200 {
		return Event{}, errors.New("events: subject is longer than 200 characters")
	}
	body, err := encodePayload(kind, payload)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Kind: kind, Subject: subject, Payload: body}
	err = tx.QueryRow(ctx, `INSERT INTO events (kind, subject, payload) VALUES ($1, $2, $3)
RETURNING tenant_id, id, created_at`, kind, subject, body).Scan(&ev.TenantID, &ev.ID, &ev.CreatedAt)
	if err != nil {
		return Event{}, fmt.Errorf("events: publish %s: %w", kind, err)
	}
	return ev, nil
}

// Store reads and prunes the tenant in ctx's events.
type Store struct {
	db *tenancy.DB
}

// NewStore returns a Store on db.
func NewStore(db *tenancy.DB) *Store { return &Store{db: db} }

const eventCols = `tenant_id, id, kind, subject, payload, created_at`

func scanEvents(rows pgx.Rows) ([]Event, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		return e, r.Scan(&e.TenantID, &e.ID, &e.Kind, &e.Subject, &e.Payload, &e.CreatedAt)
	})
}

// Since returns up to limit of the tenant's events with ids above after, in
// id order. It reads the writer, so a client resuming a feed sees
// everything that was committed.
func (s *Store) Since(ctx context.Context, after int64, limit int) ([]Event, error) {
	var out []Event
	err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+eventCols+` FROM events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		var err error
		out, err = scanEvents(rows)
		return err
	})
	return out, err
}

// LastID is the id of the tenant's newest event (0 if none): where a live
// view that shows the present starts following.
func (s *Store) LastID(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&id)
	})
	return id, err
}

// byIDs returns the tenant's events with the given ids, in id order.
func (s *Store) byIDs(ctx context.Context, ids []int64) ([]Event, error) {
	var out []Event
	err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+eventCols+` FROM events WHERE id = ANY($1) ORDER BY id`, ids)
		var err error
		out, err = scanEvents(rows)
		return err
	})
	return out, err
}

// DeleteBefore deletes the tenant's events created before t, in batches of
// batch rows per transaction so no one transaction holds many locks, and
// returns how many it deleted.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.db.Tx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM events WHERE id IN (
    SELECT id FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, t, batch)
			n = tag.RowsAffected()
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("events: delete old events: %w", err)
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}

// Filter selects events for List.
type Filter struct {
	After   int64  // only ids above this
	Kind    string // only this kind; ending in '.', every kind under it ("device.")
	Subject string // only this subject
	// Admin includes the AdminOnly kinds (the caller is a tenant admin).
	Admin bool
	Limit int
}

// List returns the tenant's events matching f, in id order, from the
// reader.
func (s *Store) List(ctx context.Context, f Filter) ([]Event, error) {
	var out []Event
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+eventCols+` FROM events
WHERE id > $1
  AND ($2 = '' OR kind = $2 OR (right($2, 1) = '.' AND starts_with(kind, $2)))
  AND ($3 = '' OR subject = $3)
  AND ($5 OR NOT kind = ANY($6))
ORDER BY id LIMIT $4`, f.After, f.Kind, f.Subject, f.Limit, f.Admin, adminOnlyKinds())
		var err error
		out, err = scanEvents(rows)
		return err
	})
	return out, err
}
