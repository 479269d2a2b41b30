package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// DeliverArgs is the River job that sees a command to its end: it wakes
// the device while the command waits, again with growing pauses, waits
// quietly after a NotNow (the device comes back on its own), and expires
// the command at its deadline. It is enqueued with the command, in the same
// transaction.
type DeliverArgs struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	CommandID uuid.UUID `json:"command_id"`
}

// Kind names the job kind in River.
func (DeliverArgs) Kind() string { return "commands.deliver" }

// Waker wakes a device so that it contacts Trident and takes its commands
// (APNs for Apple devices). Platforms whose devices poll have none.
type Waker interface {
	Wake(ctx context.Context, d inventory.Device) error
}

// ErrUnreachable is a waker's permanent failure: the device cannot be
// woken (its push token is gone), so only its own next contact can deliver.
var ErrUnreachable = errors.New("the device cannot be woken")

// Action is the next step of a command's delivery.
type Action int

const (
	Finished Action = iota // the command ended
	Expire                 // its deadline passed: mark it expired
	Wake                   // wake the device, then check again after the wait
	Wait                   // the device said NotNow: check again after the wait
)

// Re-wakes start a minute apart and double, up to an hour.
const (
	firstWake = time.Minute
	maxWait   = time.Hour
)

// NextDelivery decides what the delivery of c does at now, and how long to
// wait before deciding again. The pause grows with the command's age (1, 2,
// 4... minutes, at most an hour) and never passes its deadline.
func NextDelivery(c Command, now time.Time) (Action, time.Duration) {
	if !c.Status.Open() {
		return Finished, 0
	}
	if !now.Before(c.ExpiresAt) {
		return Expire, 0
	}
	wait := min(max(now.Sub(c.CreatedAt), firstWake), maxWait)
	action := Wake
	if c.Status == NotNow {
		action, wait = Wait, maxWait
	}
	if untilDeadline := c.ExpiresAt.Sub(now) + time.Second; wait > untilDeadline {
		wait = untilDeadline
	}
	return action, wait
}

// Device returns the device a command is for.
func (q *Queue) Device(ctx context.Context, c Command) (inventory.Device, error) {
	return tenancy.Read(ctx, q.db, func(tx pgx.Tx) (inventory.Device, error) { return q.deviceTx(ctx, tx, c) })
}

func (q *Queue) deviceTx(ctx context.Context, tx pgx.Tx, c Command) (inventory.Device, error) {
	d, err := q.inv.GetTx(ctx, tx, c.DeviceID)
	if err != nil {
		return inventory.Device{}, fmt.Errorf("command %s: %w", c.ID, err)
	}
	return d, nil
}

// WakeSilentArgs is the River job that wakes a tenant's enrolled devices
// that have not been heard from for a day, so that they check in (a sweep
// enqueues one per tenant every hour).
type WakeSilentArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (WakeSilentArgs) Kind() string { return "commands.wake_silent" }

// SilentAfter is how long a device may be quiet before it is woken.
const SilentAfter = 24 * time.Hour

// ExpireDueArgs is the River job that expires a tenant's open commands
// past their deadline (Queue.ExpireDue), enqueued for every tenant each
// hour: a backstop to each command's own delivery job.
type ExpireDueArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (ExpireDueArgs) Kind() string { return "commands.expire_due" }
