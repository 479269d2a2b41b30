// Package commands is the unified command queue for all platforms: a
// command is queued for a device, sent when the device (or its platform's
// cloud) takes it, and ends acknowledged, in error, expired or canceled; a
// device that answers NotNow keeps it for later. Every change of state is an
// event (command.queued, command.sent, command.acknowledged, ...), written
// in the same transaction.
//
// Platform protocols take commands with Next or Hand and report outcomes
// with Complete; the API and the dashboard queue and cancel, after asking
// Authorize. Every move between states is one conditional UPDATE checked
// against one table (lifecycle.go), so a command canceled or expired can
// never be handed to its device afterwards, and only the device a command
// is for can answer it. Secrets in payloads are sealed at rest and shown
// redacted (secrets.go). Delivery (push, retries, expiry) is driven by
// River jobs elsewhere.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Status is where a command is in its life.
type Status string

const (
	Queued       Status = "queued"
	Sent         Status = "sent"
	Acknowledged Status = "acknowledged"
	Error        Status = "error"
	NotNow       Status = "not_now"
	Expired      Status = "expired"
	Canceled     Status = "canceled"
)

// statuses are every Status, in the order of a command's life.
var statuses = []Status{Queued, Sent, NotNow, Acknowledged, Error, Expired, Canceled}

// Statuses lists every status.
func Statuses() []Status { return slices.Clone(statuses) }

// Open reports whether the command may still run.
func (s Status) Open() bool { return s == Queued || s == Sent || s == NotNow }

// Kind is a command every platform that supports it understands the same
// way; the platform protocol translates it to its own wire command.
type Kind struct {
	Name        string
	Platforms   []inventory.Platform
	Destructive bool // loses data or locks people out: needs the admin role and a confirmation
	Summary     string
	// Secrets are the payload fields that are secret: sealed at rest,
	// never shown (a "settings[].value" names a field of each element).
	Secrets []string
	// Internal kinds Trident sends itself; callers cannot queue them.
	Internal bool
}

var kinds = map[string]Kind{
	"device_information": {Name: "device_information", Summary: "Ask the device for its current facts.",
		Platforms: []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}},
	"lock": {Name: "lock", Summary: "Lock the screen (Apple payload: message, phone_number, and pin for Macs).",
		Platforms: []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}, Secrets: []string{"pin"}},
	"restart": {Name: "restart", Summary: "Restart the device.",
		Platforms: []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}},
	"clear_passcode": {Name: "clear_passcode", Summary: "Remove the passcode (Apple) or reset the password (Android; payload: new_password).",
		Platforms: []inventory.Platform{inventory.Apple, inventory.Android}, Destructive: true, Secrets: []string{"new_password"}},
	"erase": {Name: "erase", Summary: "Erase the device and return it to factory settings (Apple payload: pin for Macs).",
		Platforms: []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}, Destructive: true, Secrets: []string{"pin"}},
	"shutdown": {Name: "shutdown", Summary: "Shut the device down.",
		Platforms: []inventory.Platform{inventory.Apple}},
	"security_info": {Name: "security_info", Summary: "Ask for the device's security state (encryption, passcode; on Windows BitLocker, firewall, antivirus, TPM).",
		Platforms: []inventory.Platform{inventory.Apple, inventory.Windows}},
	"apply_settings": {Name: "apply_settings", Summary: "Apply a profile of OMA-DM settings, each with its own status (payload: settings, a list of {loc_uri, value, format, action}, e.g. ./Device/Vendor/MSFT/Policy/Config/...; atomic: all or none).",
		Platforms: []inventory.Platform{inventory.Windows}, Secrets: []string{"settings[].value"}},
	"query_settings": {Name: "query_settings", Summary: "Read OMA-DM nodes (payload: loc_uris, a list of node URIs).",
		Platforms: []inventory.Platform{inventory.Windows}},
	"installed_applications": {Name: "installed_applications", Summary: "Ask for the list of installed applications.",
		Platforms: []inventory.Platform{inventory.Apple}},
	"profile_list": {Name: "profile_list", Summary: "Ask for the installed configuration profiles.",
		Platforms: []inventory.Platform{inventory.Apple}},
	"install_profile": {Name: "install_profile", Summary: "Install a configuration profile (payload: profile, the .mobileconfig in base64).",
		Platforms: []inventory.Platform{inventory.Apple}, Secrets: []string{"profile"}},
	"device_configured": {Name: "device_configured", Internal: true, Summary: "Release a device waiting in Setup Assistant (ADE's await_device_configured); Trident sends it after the setup commands.",
		Platforms: []inventory.Platform{inventory.Apple}},
	"remove_profile": {Name: "remove_profile", Summary: "Remove a configuration profile (payload: identifier, its PayloadIdentifier).",
		Platforms: []inventory.Platform{inventory.Apple}},
}

// Kinds lists the command kinds, by name.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Offered lists the names of the kinds a caller may queue (not Internal),
// sorted: the API's enum of command kinds.
func Offered() []string {
	var out []string
	for _, k := range Kinds() {
		if !k.Internal {
			out = append(out, k.Name)
		}
	}
	return out
}

// LookupKind returns the kind named name.
func LookupKind(name string) (Kind, bool) { k, ok := kinds[name]; return k, ok }

// Command is one command for one device.
type Command struct {
	ID          uuid.UUID       `json:"id"`
	DeviceID    uuid.UUID       `json:"device_id"`
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload"` // as queued; secret fields read "[redacted]"
	Status      Status          `json:"status"`
	Attempts    int             `json:"attempts"` // how often it was sent to the device
	CreatedBy   string          `json:"created_by"`
	Result      json.RawMessage `json:"result,omitempty"` // what the device answered, when it did
	Error       string          `json:"error,omitempty"`
	ExpiresAt   time.Time       `json:"expires_at"`
	CreatedAt   time.Time       `json:"created_at"`
	SentAt      *time.Time      `json:"sent_at,omitempty"`
	CompletedAt *time.Time      `json:"completed_at,omitempty"`
	UpdatedAt   time.Time       `json:"updated_at"`

	tenant uuid.UUID
	sealed []byte // the whole payload, sealed, when it holds secrets
}

// Errors callers tell apart.
var (
	// ErrState refuses a move the command's (or its device's) state does
	// not allow: cancelling what was sent, answering what was cancelled,
	// queuing to an unenrolled device.
	ErrState = fault.New(fault.Conflict, "conflict")
	// ErrForeign is a device naming a command that is another device's:
	// nothing changes.
	ErrForeign = fault.New(fault.Forbidden, "the command is not this device's")
	// ErrHeld is a command not handed out because its tenant is
	// suspended: it stays as it is, for when the tenant is resumed.
	ErrHeld = fault.New(fault.Conflict, "the tenant is suspended: its commands wait until it is resumed")
)

// Queue is the command queue, in the caller's tenant transaction.
type Queue struct {
	db         *tenancy.DB
	inv        *inventory.Inventory
	events     *events.Publisher
	dispatchTo map[inventory.Platform]Dispatcher
	checkTo    map[inventory.Platform]Checker
	jobs       events.Jobs
	keys       *seal.Keyring
	observe    func(Status)
	done       map[string]func(ctx context.Context, tx pgx.Tx, c Command) error
}

// Dispatcher checks a newly queued command against its platform and
// hands it to the platform's own queue, in the same transaction (Apple's
// nanomdm queue).
type Dispatcher interface {
	Dispatch(ctx context.Context, tx pgx.Tx, d inventory.Device, c Command) error
}

// Checker checks a newly queued command against a platform that keeps no
// queue of its own (Windows takes its commands with Next in its sessions,
// Android through its API when woken): an error refuses the command.
type Checker interface {
	Check(d inventory.Device, c Command) error
}

// Withdrawer is a Dispatcher whose platform queue must forget a command
// canceled or expired, in the same transaction.
type Withdrawer interface {
	Withdraw(ctx context.Context, tx pgx.Tx, d inventory.Device, c Command) error
}

// Option tunes a Queue.
type Option func(*Queue)

// WithDispatcher routes commands for devices of platform p through d.
func WithDispatcher(p inventory.Platform, d Dispatcher) Option {
	return func(q *Queue) { q.dispatchTo[p] = d }
}

// WithChecker checks commands for devices of platform p with c.
func WithChecker(p inventory.Platform, c Checker) Option {
	return func(q *Queue) { q.checkTo[p] = c }
}

// WithObserver calls observe with every state a command enters (for
// metrics).
func WithObserver(observe func(Status)) Option { return func(q *Queue) { q.observe = observe } }

// WithAcknowledged calls fn, in the answer's transaction, when a device
// acknowledges a command of kind (an erase: its identity is revoked).
func WithAcknowledged(kind string, fn func(ctx context.Context, tx pgx.Tx, c Command) error) Option {
	return func(q *Queue) {
		if q.done == nil {
			q.done = map[string]func(context.Context, pgx.Tx, Command) error{}
		}
		q.done[kind] = fn
	}
}

// WithDelivery enqueues each command's delivery job (DeliverArgs) with it,
// in the same transaction, and bulk commands' jobs (QueueBulk).
func WithDelivery(jobs events.Jobs) Option { return func(q *Queue) { q.jobs = jobs } }

// WithSecrets seals the secret fields of payloads with keys. Without it, a
// command with a secret is refused.
func WithSecrets(keys *seal.Keyring) Option { return func(q *Queue) { q.keys = keys } }

// New returns the queue of db's tenants.
func New(db *tenancy.DB, inv *inventory.Inventory, pub *events.Publisher, opts ...Option) *Queue {
	q := &Queue{db: db, inv: inv, events: pub, dispatchTo: map[inventory.Platform]Dispatcher{},
		checkTo: map[inventory.Platform]Checker{}}
	for _, o := range opts {
		o(q)
	}
	return q
}

// DefaultLifetime is how long a command waits for its device unless told
// otherwise.
const DefaultLifetime = 7 * 24 * time.Hour

// NewCommand is a command to queue.
type NewCommand struct {
	DeviceID  uuid.UUID
	Kind      string
	Payload   map[string]any
	Lifetime  time.Duration // 0: DefaultLifetime
	CreatedBy string
}

const commandCols = `id, device_id, kind, payload, status, attempts, created_by, result, error, expires_at,
created_at, sent_at, completed_at, updated_at, tenant_id, payload_sealed`

func scanCommand(r pgx.Row) (Command, error) {
	var c Command
	err := r.Scan(&c.ID, &c.DeviceID, &c.Kind, &c.Payload, &c.Status, &c.Attempts, &c.CreatedBy, &c.Result, &c.Error,
		&c.ExpiresAt, &c.CreatedAt, &c.SentAt, &c.CompletedAt, &c.UpdatedAt, &c.tenant, &c.sealed)
	return c, err
}

// Enqueue queues a command for a device whose platform supports its kind.
// Commands queued in one transaction keep their order (created_at is the
// clock's time, not the transaction's).
func (q *Queue) Enqueue(ctx context.Context, n NewCommand) (Command, error) {
	return tenancy.Write(ctx, q.db, func(tx pgx.Tx) (Command, error) { return q.EnqueueTx(ctx, tx, n) })
}

// EnqueueTx is Enqueue in tx, for another service's use case that holds
// the transaction.
func (q *Queue) EnqueueTx(ctx context.Context, tx pgx.Tx, n NewCommand) (Command, error) {
	k, ok := kinds[n.Kind]
	if !ok {
		return Command{}, fault.InvalidField("kind", fmt.Sprintf("%q is not a command kind", n.Kind))
	}
	if n.Lifetime == 0 {
		n.Lifetime = DefaultLifetime
	}
	if n.Lifetime < time.Minute || n.Lifetime > 90*24*time.Hour {
		return Command{}, fault.InvalidField("lifetime", "must be between a minute and 90 days")
	}
	d, err := q.inv.GetTx(ctx, tx, n.DeviceID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return Command{}, fmt.Errorf("device %s: %w", n.DeviceID, tenancy.ErrNotFound)
	} else if err != nil {
		return Command{}, err
	}
	if !slices.Contains(k.Platforms, d.Platform) {
		return Command{}, fault.InvalidField("kind", fmt.Sprintf("%s devices do not support %s", d.Platform, n.Kind))
	}
	if d.Status == inventory.Unenrolled {
		return Command{}, fmt.Errorf("device %s is unenrolled: %w", d.ID, ErrState)
	}
	payload := []byte("{}")
	if n.Payload != nil {
		if payload, err = json.Marshal(n.Payload); err != nil {
			return Command{}, fault.InvalidField("payload", err.Error())
		}
	}
	id := uuid.New()
	public, sealed, err := q.seal(k, d.TenantID, id, payload)
	if err != nil {
		return Command{}, err
	}
	c, err := scanCommand(tx.QueryRow(ctx, `
INSERT INTO commands (id, device_id, kind, payload, payload_sealed, created_by, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval, clock_timestamp()) RETURNING `+commandCols,
		id, d.ID, n.Kind, public, sealed, n.CreatedBy, n.Lifetime.String()))
	if err != nil {
		return Command{}, fmt.Errorf("commands: enqueue: %w", err)
	}
	// The platform checks the command as the device will get it.
	whole := c
	whole.Payload = payload
	if disp := q.dispatchTo[d.Platform]; disp != nil {
		if err := disp.Dispatch(ctx, tx, d, whole); err != nil {
			return Command{}, err
		}
	} else if chk := q.checkTo[d.Platform]; chk != nil {
		if err := chk.Check(d, whole); err != nil {
			return Command{}, err
		}
	}
	if q.jobs != nil {
		_, err := q.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: DeliverArgs{TenantID: d.TenantID, CommandID: c.ID}}})
		if err != nil {
			return Command{}, fmt.Errorf("commands: enqueue the delivery: %w", err)
		}
	}
	return c.redacted(), q.publish(ctx, tx, c)
}

func (q *Queue) publish(ctx context.Context, tx pgx.Tx, c Command) error {
	if q.observe != nil {
		q.observe(c.Status)
	}
	_, err := q.events.Publish(ctx, tx, EventKind(c.Status), c.ID.String(),
		CommandChanged{DeviceID: c.DeviceID, Kind: c.Kind, Status: c.Status, Attempts: c.Attempts, Error: c.Error, Result: c.Result})
	return err
}

// Get returns one command, its secrets redacted.
func (q *Queue) Get(ctx context.Context, id uuid.UUID) (Command, error) {
	return tenancy.Read(ctx, q.db, func(tx pgx.Tx) (Command, error) { return q.getTx(ctx, tx, id) })
}

func (q *Queue) getTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Command, error) {
	c, err := q.get(ctx, tx, id)
	return c.redacted(), err
}

func (q *Queue) get(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Command, error) {
	c, err := scanCommand(tx.QueryRow(ctx, `SELECT `+commandCols+` FROM commands WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Command{}, fmt.Errorf("command %s: %w", id, tenancy.ErrNotFound)
	}
	return c, err
}

// Query selects a page of the tenant's commands, newest first.
type Query struct {
	Status Status    // "" for any
	Kind   string    // "" for any
	After  uuid.UUID // the last command of the previous page (uuid.Nil: from the newest)
	Limit  int
}

// List returns a page of the tenant's commands, every device's, newest
// first: its command history.
func (q *Queue) List(ctx context.Context, cq Query) ([]Command, error) {
	if cq.Status != "" && !slices.Contains(statuses, cq.Status) {
		return nil, fault.InvalidField("status", fmt.Sprintf("%q is not a command status", cq.Status))
	}
	if _, ok := kinds[cq.Kind]; cq.Kind != "" && !ok {
		return nil, fault.InvalidField("kind", fmt.Sprintf("%q is not a command kind", cq.Kind))
	}
	return tenancy.Read(ctx, q.db, func(tx pgx.Tx) ([]Command, error) {
		rows, _ := tx.Query(ctx, `SELECT `+commandCols+` FROM commands
WHERE ($1 = '' OR status = $1) AND ($2 = '' OR kind = $2)
  AND ($3::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM commands WHERE id = $3))
ORDER BY created_at DESC, id DESC LIMIT $4`, string(cq.Status), cq.Kind, uuid.NullUUID{UUID: cq.After, Valid: cq.After != uuid.Nil}, cq.Limit)
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Command, error) {
			c, err := scanCommand(r)
			return c.redacted(), err
		})
	})
}

// ListForDevice returns up to limit of a device's commands, newest first,
// after the command with id after (uuid.Nil: from the newest).
func (q *Queue) ListForDevice(ctx context.Context, device, after uuid.UUID, limit int) ([]Command, error) {
	return tenancy.Read(ctx, q.db, func(tx pgx.Tx) ([]Command, error) { return q.listForDeviceTx(ctx, tx, device, after, limit) })
}

func (q *Queue) listForDeviceTx(ctx context.Context, tx pgx.Tx, device, after uuid.UUID, limit int) ([]Command, error) {
	if _, err := q.inv.GetTx(ctx, tx, device); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `SELECT `+commandCols+` FROM commands
WHERE device_id = $1
  AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM commands WHERE id = $2))
ORDER BY created_at DESC, id DESC LIMIT $3`, device, uuid.NullUUID{UUID: after, Valid: after != uuid.Nil}, limit)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Command, error) {
		c, err := scanCommand(r)
		return c.redacted(), err
	})
}
