package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/egress"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/tenancy"
)

// Sender delivers webhooks. Its HTTP client refuses, unless told
// otherwise, to connect to loopback, private, link-local and other
// non-public addresses (so a webhook URL cannot reach the cloud's metadata
// service or the internal network) and does not follow redirects.
type Sender struct {
	db     *tenancy.DB
	client *http.Client
	keys   *seal.Keyring
}

// SenderOptions tune a Sender.
type SenderOptions struct {
	// AllowPrivateNetworks lets webhooks reach non-public addresses (dev,
	// tests, receivers inside the operator's own network).
	AllowPrivateNetworks bool
	// Keys open the endpoints' sealed signing secrets.
	Keys    *seal.Keyring
	Timeout time.Duration // per attempt; default 15 s
}

// NewSender returns a Sender on db.
func NewSender(db *tenancy.DB, o SenderOptions) *Sender {
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	// The egress guard: only public addresses, no redirects followed.
	client := egress.Policy{AllowPrivate: o.AllowPrivateNetworks, Timeout: o.Timeout}.Client()
	return &Sender{db: db, keys: o.Keys, client: client}
}

// Body is what a webhook delivery POSTs.
type Body struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	TenantID   uuid.UUID `json:"tenant_id"`
	Event      Event     `json:"event"`
}

// newBody is what a delivery of ev carries: the one place it is made, for
// the receiver (Sender.Deliver) and for the person looking at it
// (Webhooks.Delivery).
func newBody(delivery uuid.UUID, ev Event) Body {
	return Body{DeliveryID: delivery, TenantID: ev.TenantID, Event: ev}
}

// Signature headers, as receivers check them (see VerifySignature).
const (
	SignatureHeader = "Trident-Signature" // t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
	DeliveryHeader  = "Trident-Delivery"  // the delivery id: the same on every retry, for de-duplication
	EventHeader     = "Trident-Event"     // the event kind
)

// Sign computes the signature header value for body at time t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a delivery's signature header against its body,
// refusing signatures older than tolerance (replays).
func VerifySignature(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature timestamp outside the tolerance")
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("signature does not match")
	}
	return nil
}

// ErrDeliveryFailed wraps why an attempt did not succeed; the job retries.
var ErrDeliveryFailed = errors.New("webhook delivery failed")

// Deliver makes one attempt at delivery id of the tenant in ctx. It returns
// nil when the delivery succeeded or needs no more attempts, and an error
// wrapping ErrDeliveryFailed when it should be retried. final marks the
// last attempt: a failure then marks the delivery failed.
func (s *Sender) Deliver(ctx context.Context, id uuid.UUID, final bool) error {
	var (
		target, status string
		secret         *string
		sealed         []byte
		endpoint       uuid.UUID
		active         bool
		body           Body
	)
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
SELECT d.status, e.id, e.url, e.secret, e.secret_sealed, e.active, ev.tenant_id, ev.id, ev.kind, ev.subject, ev.payload, ev.created_at
FROM webhook_deliveries d
JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
JOIN events ev ON ev.tenant_id = d.tenant_id AND ev.id = d.event_id
WHERE d.id = $1`, id).Scan(&status, &endpoint, &target, &secret, &sealed, &active, &body.Event.TenantID, &body.Event.ID,
			&body.Event.Kind, &body.Event.Subject, &body.Event.Payload, &body.Event.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // the endpoint or the event is gone; nothing to deliver
	}
	if err != nil {
		return fmt.Errorf("%w: load: %v", ErrDeliveryFailed, err)
	}
	if status != "pending" {
		return nil
	}
	if !active {
		return s.record(ctx, id, "failed", nil, "the endpoint is disabled")
	}
	key := ""
	switch {
	case sealed != nil:
		plain, err := s.keys.Open(sealed, secretContext(endpoint))
		if err != nil {
			return fmt.Errorf("%w: the endpoint's secret: %v", ErrDeliveryFailed, err)
		}
		key = string(plain)
	case secret != nil: // made before secrets were sealed
		key = *secret
	}
	body = newBody(id, body.Event)
	payload, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return s.record(ctx, id, "failed", nil, "bad URL: "+err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Trident-Webhooks/1")
	req.Header.Set(DeliveryHeader, id.String())
	req.Header.Set(EventHeader, body.Event.Kind)
	req.Header.Set(SignatureHeader, Sign(key, time.Now(), payload))
	resp, err := s.client.Do(req)
	var code *int
	var problem string
	if err != nil {
		problem = err.Error()
	} else {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		code = &resp.StatusCode
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			problem = "the receiver answered " + resp.Status
		}
	}
	if problem == "" {
		return s.record(ctx, id, "delivered", code, "")
	}
	next := "pending"
	if final {
		next = "failed"
	}
	if err := s.record(ctx, id, next, code, problem); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrDeliveryFailed, problem)
}

// record writes an attempt's outcome.
func (s *Sender) record(ctx context.Context, id uuid.UUID, status string, code *int, problem string) error {
	if len(problem) > 500 {
		problem = problem[:500]
	}
	err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1,
    last_status_code = $3, last_error = $4, last_attempt_at = now(),
    delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
WHERE id = $1`, id, status, code, problem)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: record the attempt: %v", ErrDeliveryFailed, err)
	}
	return nil
}
