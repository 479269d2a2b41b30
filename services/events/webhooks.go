package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/egress"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/tenancy"
)

// Endpoint is a tenant's webhook subscription: deliveries of the events
// whose kinds match EventKinds go to URL, signed with Secret.
type Endpoint struct {
	ID          uuid.UUID `json:"id"`
	URL         string    `json:"url"`
	EventKinds  []string  `json:"event_kinds"`
	Description string    `json:"description"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Secret      string    `json:"-"` // only when just created
}

// Wants reports whether the endpoint subscribes to events of kind: one
// of its patterns is the kind, a prefix of it ending in '.', or '*' (as
// Publish matches them). A ping goes to the endpoint pinged, whatever it
// subscribes to.
func (e Endpoint) Wants(kind string) bool {
	for _, k := range e.EventKinds {
		if k == "*" || k == kind || (strings.HasSuffix(k, ".") && strings.HasPrefix(kind, k)) {
			return true
		}
	}
	return false
}

// Delivery is one webhook sent (or being sent) for one event.
type Delivery struct {
	ID             uuid.UUID  `json:"id"`
	EndpointID     uuid.UUID  `json:"endpoint_id"`
	EventID        int64      `json:"event_id"`
	EventKind      string     `json:"event_kind"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

// URLPolicy says which webhook URLs are accepted.
type URLPolicy struct {
	// AllowHTTP accepts http:// URLs and special-purpose IP literals (dev
	// and tests); otherwise only https, to a name or a public address.
	AllowHTTP bool
}

func (p URLPolicy) check(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fault.InvalidField("url", "must be an absolute URL without credentials or fragment")
	}
	if u.Scheme != "https" && !(p.AllowHTTP && u.Scheme == "http") {
		return fault.InvalidField("url", "must use https")
	}
	// A name is checked each time it is dialled (internal/egress); an
	// address can be refused now.
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !p.AllowHTTP {
		if why := egress.Refused(ip); why != "" {
			return fault.InvalidField("url", "names an address webhooks may not reach: "+why)
		}
	}
	return nil
}

func checkKinds(kinds []string) error {
	if len(kinds) == 0 || len(kinds) > 50 {
		return fault.InvalidField("event_kinds", "name 1 to 50 kinds")
	}
	for _, k := range kinds {
		pattern := k
		if len(k) > 1 && k[len(k)-1] == '.' {
			pattern = k[:len(k)-1]
		}
		if k != "*" && !kindRE.MatchString(pattern) {
			return fault.InvalidField("event_kinds", fmt.Sprintf("%q is not an event kind, a prefix ending in '.', or '*'", k))
		}
		if !Subscribable(k) {
			return fault.InvalidField("event_kinds", fmt.Sprintf("%q names no event kind Trident publishes (see the OpenAPI document's webhooks)", k))
		}
	}
	return nil
}

// Webhooks manages a tenant's webhook endpoints and their deliveries, in
// the caller's tenant transaction.
type Webhooks struct {
	db     *tenancy.DB
	pub    *Publisher
	policy URLPolicy
	keys   *seal.Keyring
}

// NewWebhooks returns the webhook endpoints' service on db's tenants;
// keys seal the signing secrets at rest, and pub publishes
// webhook.created and pings.
func NewWebhooks(db *tenancy.DB, pub *Publisher, policy URLPolicy, keys *seal.Keyring) *Webhooks {
	return &Webhooks{db: db, pub: pub, policy: policy, keys: keys}
}

// secretContext binds a sealed secret to its endpoint.
func secretContext(endpoint uuid.UUID) string { return "webhook-secret/" + endpoint.String() }

// NewEndpoint is what a caller gives to create an endpoint.
type NewEndpoint struct {
	URL         string
	EventKinds  []string
	Description string
}

// Create adds an endpoint with a fresh signing secret, returned once in
// Endpoint.Secret, and publishes webhook.created.
func (w *Webhooks) Create(ctx context.Context, n NewEndpoint) (Endpoint, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Endpoint, error) { return w.createTx(ctx, tx, n) })
}

func (w *Webhooks) createTx(ctx context.Context, tx pgx.Tx, n NewEndpoint) (Endpoint, error) {
	if err := fault.Join(w.policy.check(n.URL), checkKinds(n.EventKinds)); err != nil {
		return Endpoint{}, err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{ID: uuid.New(), URL: n.URL, EventKinds: n.EventKinds, Description: n.Description, Active: true,
		Secret: "whsec_" + hex.EncodeToString(b)}
	sealed, err := w.keys.Seal([]byte(e.Secret), secretContext(e.ID))
	if err != nil {
		return Endpoint{}, err
	}
	err = tx.QueryRow(ctx, `INSERT INTO webhook_endpoints (id, url, secret_sealed, event_kinds, description)
VALUES ($1, $2, $3, $4, $5) RETURNING created_at, updated_at`, e.ID, e.URL, sealed, e.EventKinds, e.Description).
		Scan(&e.CreatedAt, &e.UpdatedAt)
	if err != nil {
		return Endpoint{}, fmt.Errorf("events: create webhook: %w", err)
	}
	_, err = w.pub.Publish(ctx, tx, WebhookCreatedKind, e.ID.String(), WebhookCreated{URL: e.URL, EventKinds: e.EventKinds})
	return e, err
}

// Ping records a webhook.ping event and queues its delivery to endpoint
// id only, so an integrator can check their receiver.
func (w *Webhooks) Ping(ctx context.Context, id uuid.UUID) (Event, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Event, error) { return w.pub.ping(ctx, tx, id) })
}

const endpointCols = `id, url, event_kinds, description, active, created_at, updated_at`

func scanEndpoint(r pgx.Row) (Endpoint, error) {
	var e Endpoint
	err := r.Scan(&e.ID, &e.URL, &e.EventKinds, &e.Description, &e.Active, &e.CreatedAt, &e.UpdatedAt)
	return e, err
}

// Get returns one endpoint.
func (w *Webhooks) Get(ctx context.Context, id uuid.UUID) (Endpoint, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) (Endpoint, error) { return w.getTx(ctx, tx, id) })
}

func (w *Webhooks) getTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Endpoint, error) {
	e, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Endpoint{}, fmt.Errorf("webhook %s: %w", id, tenancy.ErrNotFound)
	}
	return e, err
}

// List returns up to limit endpoints in creation order after the one with
// id after (uuid.Nil for the first page).
func (w *Webhooks) List(ctx context.Context, after uuid.UUID, limit int) ([]Endpoint, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) ([]Endpoint, error) { return w.listTx(ctx, tx, after, limit) })
}

func (w *Webhooks) listTx(ctx context.Context, tx pgx.Tx, after uuid.UUID, limit int) ([]Endpoint, error) {
	rows, _ := tx.Query(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
WHERE $1::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM webhook_endpoints WHERE id = $1)
ORDER BY created_at, id LIMIT $2`, uuid.NullUUID{UUID: after, Valid: after != uuid.Nil}, limit)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) { return scanEndpoint(r) })
}

// EndpointUpdate changes an endpoint; nil fields stay.
type EndpointUpdate struct {
	URL         *string
	EventKinds  []string
	Description *string
	Active      *bool
	IfUpdatedAt time.Time // optimistic concurrency, as with tenants
}

// Update changes an endpoint.
func (w *Webhooks) Update(ctx context.Context, id uuid.UUID, u EndpointUpdate) (Endpoint, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Endpoint, error) { return w.updateTx(ctx, tx, id, u) })
}

func (w *Webhooks) updateTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, u EndpointUpdate) (Endpoint, error) {
	var errs []error
	if u.URL != nil {
		errs = append(errs, w.policy.check(*u.URL))
	}
	if u.EventKinds != nil {
		errs = append(errs, checkKinds(u.EventKinds))
	}
	if err := fault.Join(errs...); err != nil {
		return Endpoint{}, err
	}
	var since *time.Time
	if !u.IfUpdatedAt.IsZero() {
		since = &u.IfUpdatedAt
	}
	e, err := scanEndpoint(tx.QueryRow(ctx, `
UPDATE webhook_endpoints SET url = coalesce($2, url), event_kinds = coalesce($3, event_kinds),
    description = coalesce($4, description), active = coalesce($5, active), updated_at = clock_timestamp()
WHERE id = $1 AND ($6::timestamptz IS NULL OR updated_at = $6)
RETURNING `+endpointCols, id, u.URL, u.EventKinds, u.Description, u.Active, since))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := w.getTx(ctx, tx, id); gerr != nil {
			return Endpoint{}, gerr
		}
		return Endpoint{}, fmt.Errorf("webhook %s: %w", id, tenancy.ErrStale)
	}
	return e, err
}

// Delete removes an endpoint and its delivery history.
func (w *Webhooks) Delete(ctx context.Context, id uuid.UUID) error {
	return w.db.Tx(ctx, func(tx pgx.Tx) error { return w.deleteTx(ctx, tx, id) })
}

func (w *Webhooks) deleteTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("webhook %s: %w", id, tenancy.ErrNotFound)
	}
	return err
}

// Deliveries returns up to limit of an endpoint's deliveries, newest first,
// after the delivery with id after (uuid.Nil for the first page).
// Health is how an endpoint's last attempted delivery went.
type Health struct {
	Failing       bool      // the last attempt did not deliver (it is retried, or gave up)
	LastError     string    // what went wrong, when Failing
	LastAttemptAt time.Time // when
}

// Healths are the tenant's endpoints' health, by endpoint id; an endpoint
// nothing was sent to yet has none.
func (w *Webhooks) Healths(ctx context.Context) (map[uuid.UUID]Health, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) (map[uuid.UUID]Health, error) {
		rows, _ := tx.Query(ctx, `SELECT DISTINCT ON (endpoint_id) endpoint_id, status <> 'delivered', last_error, last_attempt_at
FROM webhook_deliveries WHERE attempts > 0 AND last_attempt_at IS NOT NULL
ORDER BY endpoint_id, last_attempt_at DESC, id DESC`)
		out := map[uuid.UUID]Health{}
		var id uuid.UUID
		var h Health
		_, err := pgx.ForEachRow(rows, []any{&id, &h.Failing, &h.LastError, &h.LastAttemptAt}, func() error { out[id] = h; return nil })
		if err != nil {
			return nil, fmt.Errorf("events: webhook health: %w", err)
		}
		return out, nil
	})
}

func (w *Webhooks) Deliveries(ctx context.Context, endpoint, after uuid.UUID, limit int) ([]Delivery, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) ([]Delivery, error) { return w.deliveriesTx(ctx, tx, endpoint, after, limit) })
}

func (w *Webhooks) deliveriesTx(ctx context.Context, tx pgx.Tx, endpoint, after uuid.UUID, limit int) ([]Delivery, error) {
	if _, err := w.getTx(ctx, tx, endpoint); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `
SELECT `+deliveryCols+`
FROM webhook_deliveries d JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
WHERE d.endpoint_id = $1
  AND ($2::uuid IS NULL OR (d.created_at, d.id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = $2))
ORDER BY d.created_at DESC, d.id DESC LIMIT $3`, endpoint, uuid.NullUUID{UUID: after, Valid: after != uuid.Nil}, limit)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
}

const deliveryCols = `d.id, d.endpoint_id, d.event_id, ev.kind, d.status, d.attempts, d.last_status_code, d.last_error,
       d.created_at, d.last_attempt_at, d.delivered_at`

func scanDelivery(r pgx.Row) (Delivery, error) {
	var d Delivery
	return d, r.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventKind, &d.Status, &d.Attempts, &d.LastStatusCode,
		&d.LastError, &d.CreatedAt, &d.LastAttemptAt, &d.DeliveredAt)
}

// DeliveriesOf returns endpoint's deliveries of the event with id event
// (one, unless it was delivered again), newest first.
func (w *Webhooks) DeliveriesOf(ctx context.Context, endpoint uuid.UUID, event int64) ([]Delivery, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) ([]Delivery, error) {
		rows, _ := tx.Query(ctx, `
SELECT `+deliveryCols+`
FROM webhook_deliveries d JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
WHERE d.endpoint_id = $1 AND d.event_id = $2
ORDER BY d.created_at DESC, d.id DESC`, endpoint, event)
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	})
}

// Delivery returns one delivery of endpoint with the body it carries,
// as the receiver gets it (the signature aside: it is made at each
// attempt).
func (w *Webhooks) Delivery(ctx context.Context, endpoint, id uuid.UUID) (Delivery, Body, error) {
	type out struct {
		d Delivery
		b Body
	}
	o, err := tenancy.Read(ctx, w.db, func(tx pgx.Tx) (out, error) {
		var d Delivery
		var ev Event
		err := tx.QueryRow(ctx, `SELECT `+deliveryCols+`, ev.tenant_id, ev.subject, ev.payload, ev.created_at FROM webhook_deliveries d
JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id WHERE d.endpoint_id = $1 AND d.id = $2`, endpoint, id).Scan(
			&d.ID, &d.EndpointID, &d.EventID, &d.EventKind, &d.Status, &d.Attempts, &d.LastStatusCode, &d.LastError,
			&d.CreatedAt, &d.LastAttemptAt, &d.DeliveredAt, &ev.TenantID, &ev.Subject, &ev.Payload, &ev.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return out{}, fmt.Errorf("delivery %s: %w", id, tenancy.ErrNotFound)
		} else if err != nil {
			return out{}, err
		}
		ev.ID, ev.Kind = d.EventID, d.EventKind
		return out{d, newBody(d.ID, ev)}, nil
	})
	return o.d, o.b, err
}

// Redeliver sends a delivery's event to its endpoint again, as a new
// delivery with its own id and attempts (the old one keeps its history),
// and answers it. The endpoint must be active.
func (w *Webhooks) Redeliver(ctx context.Context, endpoint, id uuid.UUID) (Delivery, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Delivery, error) {
		e, err := w.getTx(ctx, tx, endpoint)
		if err != nil {
			return Delivery{}, err
		}
		if !e.Active {
			return Delivery{}, fault.New(fault.Conflict, "the webhook is paused: resume it to deliver again")
		}
		d, err := scanDelivery(tx.QueryRow(ctx, `WITH again AS (
  INSERT INTO webhook_deliveries (id, endpoint_id, event_id)
  SELECT gen_random_uuid(), endpoint_id, event_id FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2
  RETURNING *)
SELECT `+deliveryCols+` FROM again d JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id`, endpoint, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return Delivery{}, fmt.Errorf("delivery %s: %w", id, tenancy.ErrNotFound)
		} else if err != nil {
			return Delivery{}, fmt.Errorf("events: redeliver: %w", err)
		}
		tenant, err := tenancy.Require(ctx)
		if err != nil {
			return Delivery{}, err
		}
		return d, w.pub.enqueue(ctx, tx, tenant, []uuid.UUID{d.ID})
	})
}
