// Package audit is the append-only record of who changed what in a tenant:
// every state-changing API call writes an entry in the same transaction as
// its change. The server's database role may insert and read entries but
// neither update nor delete them.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tridentmdm/trident/internal/textcut"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// EventRecorded is the kind of the event each entry publishes, carrying
// the entry: the audit log's live feed, for the dashboard and for a
// webhook to a SIEM. Admins only read it, as they only read the log.
const EventRecorded = "audit.recorded"

func init() {
	events.Declare(events.Kind{Name: EventRecorded, AdminOnly: true, Payload: Entry{},
		Summary: "An action was recorded in the tenant's audit log (the subject is the entry's id). Only admins read it."})
}

// Entry is one recorded action.
type Entry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"` // the caller's subject (the token's sub)
	ActorName string          `json:"actor_name"`
	Action    string          `json:"action"` // the API operation, for example create-webhook
	Target    string          `json:"target"` // the resource's path
	RequestID string          `json:"request_id"`
	Status    int             `json:"status"` // the HTTP status the call answered
	Details   json.RawMessage `json:"details"`
	// Access is how the actor held its power: tenant (the tenant's own
	// role), msp (an MSP admin's standing access), grant or break_glass
	// (a delegated grant, Grant); "" for entries from before.
	Access string     `json:"access,omitempty"`
	Grant  *uuid.UUID `json:"grant_id,omitempty"`
}

// Record writes e in the tenant's audit log and publishes it as an
// audit.recorded event, in the transaction ctx is within
// (tenancy.DB.Within), so the entry commits with the change it records
// or not at all; outside one it is a transaction of its own.
func (s *Store) Record(ctx context.Context, e Entry) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error { return s.record(ctx, tx, e) })
}

func (s *Store) record(ctx context.Context, tx pgx.Tx, e Entry) error {
	if len(e.Details) == 0 {
		e.Details = json.RawMessage("{}")
	}
	e.ActorName = textcut.Prefix(e.ActorName, maxName) // a display name; the subject is kept whole
	err := tx.QueryRow(ctx, `INSERT INTO audit_log (actor, actor_name, action, target, request_id, status, details, access, grant_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, at`, e.Actor, e.ActorName, e.Action, e.Target, e.RequestID, e.Status, e.Details,
		e.Access, e.Grant).Scan(&e.ID, &e.At)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	if _, err := s.pub.Publish(ctx, tx, EventRecorded, strconv.FormatInt(e.ID, 10), e); err != nil {
		return fmt.Errorf("audit: publish %s: %w", e.Action, err)
	}
	return nil
}

// Store keeps the tenant in ctx's audit log.
type Store struct {
	db  *tenancy.DB
	pub *events.Publisher
}

// NewStore returns a Store on db that publishes each entry with pub.
func NewStore(db *tenancy.DB, pub *events.Publisher) *Store { return &Store{db: db, pub: pub} }

// Filter narrows List.
type Filter struct {
	Before int64     // only entries with ids below this (0: none); newest first
	Actor  string    // only this subject
	Action string    // only this operation
	Target string    // only entries whose target contains this
	Since  time.Time // only entries at or after this (zero: any)
	Until  time.Time // only entries before this (zero: any)
	// MSP keeps only what the tenant's MSP did (standing access, grants
	// and break-glass).
	MSP   bool
	Limit int
}

const entryCols = `id, at, actor, actor_name, action, target, request_id, status, details, access, grant_id`

func scanEntry(r pgx.CollectableRow) (Entry, error) {
	var e Entry
	return e, r.Scan(&e.ID, &e.At, &e.Actor, &e.ActorName, &e.Action, &e.Target, &e.RequestID, &e.Status, &e.Details, &e.Access, &e.Grant)
}

// filterSQL is f's narrowing, on f.args() as $2 to $7.
const filterSQL = `($2 = '' OR actor = $2) AND ($3 = '' OR action = $3) AND ($4 = '' OR strpos(target, $4) > 0)
  AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)
  AND (NOT $7 OR access IN ('msp', 'grant', 'break_glass'))`

func (f Filter) args() []any {
	return []any{f.Actor, f.Action, f.Target,
		pgtype.Timestamptz{Time: f.Since, Valid: !f.Since.IsZero()}, pgtype.Timestamptz{Time: f.Until, Valid: !f.Until.IsZero()}, f.MSP}
}

// List returns entries newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]Entry, error) {
	var out []Entry
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+entryCols+` FROM audit_log WHERE ($1 = 0 OR id < $1) AND `+filterSQL+`
ORDER BY id DESC LIMIT $8`, append([]any{f.Before}, append(f.args(), f.Limit)...)...)
		var err error
		out, err = pgx.CollectRows(rows, scanEntry)
		return err
	})
	return out, err
}

// Actor is someone who acted in the tenant: who, by the latest name
// their entries give, how often, and when last.
type Actor struct {
	Subject string
	Name    string
	Actions int
	Last    time.Time
}

// Actors lists who acted in the tenant since, the latest first (at most
// limit of them).
func (s *Store) Actors(ctx context.Context, since time.Time, limit int) ([]Actor, error) {
	var out []Actor
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
SELECT actor, (array_agg(actor_name ORDER BY id DESC))[1], count(*), max(at) FROM audit_log
WHERE at >= $1 GROUP BY actor ORDER BY max(at) DESC LIMIT $2`, since, limit)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Actor])
		return err
	})
	return out, err
}

// maxName is how much of a display name an entry keeps (actor_name).
const maxName = 200
