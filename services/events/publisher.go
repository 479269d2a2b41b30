package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/tenancy"
)

// Jobs enqueues River jobs inside a transaction; River's client is one.
type Jobs interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Publisher records events and queues their webhook deliveries and the
// jobs that react to them, all in the caller's transaction.
type Publisher struct {
	jobs      Jobs
	reactions []Reaction
}

// Reaction names the job an event causes (for example, a device's report
// causes its compliance evaluation), or ok false for none. The job is
// enqueued in the event's transaction: it exists exactly when the event
// does.
type Reaction func(Event) (args river.JobArgs, opts *river.InsertOpts, ok bool)

// PublisherOption tunes a Publisher.
type PublisherOption func(*Publisher)

// WithReaction adds a reaction to every event published.
func WithReaction(r Reaction) PublisherOption {
	return func(p *Publisher) { p.reactions = append(p.reactions, r) }
}

// NewPublisher returns a Publisher that enqueues jobs with jobs.
func NewPublisher(jobs Jobs, opts ...PublisherOption) *Publisher {
	p := &Publisher{jobs: jobs}
	for _, o := range opts {
		o(p)
	}
	return p
}

// DeliverArgs is the River job that delivers one webhook.
type DeliverArgs struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	DeliveryID uuid.UUID `json:"delivery_id"`
}

// Kind names the job kind in River.
func (DeliverArgs) Kind() string { return "webhooks.deliver" }

// DeliveryAttempts is how often a webhook is tried before it counts as
// failed: with River's backoff (attempt^4 seconds) the last try comes
// about a day after the first.
const DeliveryAttempts = 14

// Publish records an event in tx, a tenant transaction from tenancy.DB.Tx,
// and queues a delivery to every active webhook endpoint of the tenant that
// subscribes to its kind: all of it commits or rolls back with the change
// the event describes. payload is encoded as JSON (nil means {}).
func (p *Publisher) Publish(ctx context.Context, tx pgx.Tx, kind, subject string, payload any) (Event, error) {
	ev, err := insertEvent(ctx, tx, kind, subject, payload)
	if err != nil {
		return Event{}, err
	}
	rows, _ := tx.Query(ctx, `
INSERT INTO webhook_deliveries (id, endpoint_id, event_id)
SELECT gen_random_uuid(), e.id, $1 FROM webhook_endpoints e
WHERE e.active AND EXISTS (
    SELECT 1 FROM unnest(e.event_kinds) k
    WHERE k = '*' OR k = $2 OR (right(k, 1) = '.' AND starts_with($2, k)))
RETURNING id`, ev.ID, kind)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return Event{}, fmt.Errorf("events: queue webhooks for %s: %w", kind, err)
	}
	var reactions []river.InsertManyParams
	for _, r := range p.reactions {
		if args, opts, ok := r(ev); ok {
			reactions = append(reactions, river.InsertManyParams{Args: args, InsertOpts: opts})
		}
	}
	if len(reactions) > 0 {
		if p.jobs == nil {
			return Event{}, errors.New("events: this publisher cannot enqueue reactions")
		}
		if _, err := p.jobs.InsertManyTx(ctx, tx, reactions); err != nil {
			return Event{}, fmt.Errorf("events: enqueue reactions to %s: %w", kind, err)
		}
	}
	return ev, p.enqueue(ctx, tx, ev.TenantID, ids)
}

func (p *Publisher) enqueue(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, deliveries []uuid.UUID) error {
	if len(deliveries) == 0 {
		return nil
	}
	if p.jobs == nil {
		return errors.New("events: this publisher cannot queue webhook deliveries")
	}
	params := make([]river.InsertManyParams, len(deliveries))
	for i, id := range deliveries {
		params[i] = river.InsertManyParams{Args: DeliverArgs{TenantID: tenant, DeliveryID: id},
			InsertOpts: &river.InsertOpts{MaxAttempts: DeliveryAttempts, Queue: river.QueueDefault}}
	}
	if _, err := p.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("events: enqueue webhook deliveries: %w", err)
	}
	return nil
}

// ping is Webhooks.Ping in tx.
func (p *Publisher) ping(ctx context.Context, tx pgx.Tx, endpoint uuid.UUID) (Event, error) {
	ev, err := insertEvent(ctx, tx, WebhookPingKind, endpoint.String(), WebhookPing{EndpointID: endpoint.String()})
	if err != nil {
		return Event{}, err
	}
	var id uuid.UUID
	err = tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_id)
SELECT gen_random_uuid(), id, $2 FROM webhook_endpoints WHERE id = $1 RETURNING id`, endpoint, ev.ID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, fmt.Errorf("webhook %s: %w", endpoint, tenancy.ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("events: ping webhook: %w", err)
	}
	return ev, p.enqueue(ctx, tx, ev.TenantID, []uuid.UUID{id})
}

func encodePayload(kind string, payload any) ([]byte, error) {
	if payload == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s payload: %w", kind, err)
	}
	return b, nil
}
