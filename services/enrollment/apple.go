package enrollment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// Apple is what Apple devices' check-ins and command reports change
// beyond nanomdm's storage: the inventory, the device's identity
// certificate and Trident's command queue, each use case in one tenant
// transaction (the check-in's, when the MDM endpoint holds one with
// tenancy.DB.Within). Answers Trident does not take (another device's
// command, a finished one) are told apart inside the use case and change
// nothing, so they never fail the check-in they came with.
type Apple struct {
	db   *tenancy.DB
	pki  *pki.PKI
	inv  *inventory.Inventory
	cmds *commands.Queue
	pub  *events.Publisher
}

// NewApple returns the Apple check-in use cases of db's tenants.
func NewApple(db *tenancy.DB, p *pki.PKI, inv *inventory.Inventory, cmds *commands.Queue, pub *events.Publisher) *Apple {
	return &Apple{db: db, pki: p, inv: inv, cmds: cmds, pub: pub}
}

// Authenticated records a device starting to enroll and, when its
// identity certificate came with it, binds that certificate to it.
func (a *Apple) Authenticated(ctx context.Context, r inventory.Report, cert *x509.Certificate) error {
	return a.db.Tx(ctx, func(tx pgx.Tx) error {
		d, err := a.inv.RecordTx(ctx, tx, r)
		if err != nil || cert == nil {
			return err
		}
		return a.pki.BindTx(ctx, tx, cert, d.ID)
	})
}

// Admit refuses (inventory.ErrDeviceLimit) a device whose enrollment
// would take the tenant past its device limit: asked at its first
// message, before anything of it is kept.
func (a *Apple) Admit(ctx context.Context, identifier string) error {
	return a.db.Tx(ctx, func(tx pgx.Tx) error { return a.inv.CheckLimitTx(ctx, tx, inventory.Apple, identifier) })
}

// SetupCommands are what a device enrolling through ADE and waiting in
// Setup Assistant (AwaitingConfiguration) is sent before
// device_configured releases it: its facts, so compliance and the
// inventory know it from the start.
var SetupCommands = []string{"device_information", "security_info", "installed_applications"}

// SetupCreator names the commands queued for a device in Setup Assistant.
const SetupCreator = "ade-setup"

// TokenUpdated completes a device's enrollment. A device awaiting
// configuration gets SetupCommands and then device_configured, queued in
// that order, once: a repeated TokenUpdate finds the release queued.
func (a *Apple) TokenUpdated(ctx context.Context, identifier string, awaiting bool) error {
	return a.db.Tx(ctx, func(tx pgx.Tx) error {
		d, err := a.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Apple, Identifier: identifier, Status: inventory.Enrolled})
		if err != nil || !awaiting {
			return err
		}
		if open, err := a.cmds.HasOpen(ctx, tx, d.ID, "device_configured", ""); err != nil || open {
			return err
		}
		for _, kind := range append(SetupCommands, "device_configured") {
			if _, err := a.cmds.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: d.ID, Kind: kind, CreatedBy: SetupCreator}); err != nil {
				return err
			}
		}
		return nil
	})
}

// CheckedOut records that the device removed its MDM profile, and
// revokes its identity: it is no one's now.
func (a *Apple) CheckedOut(ctx context.Context, identifier string) error {
	return a.db.Tx(ctx, func(tx pgx.Tx) error {
		d, err := a.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Apple, Identifier: identifier, Status: inventory.Unenrolled})
		if err != nil {
			return err
		}
		_, err = a.pki.RevokeDeviceTx(ctx, tx, d.ID)
		return err
	})
}

// Answer is a device's answer to one of Trident's commands.
type Answer struct {
	Command uuid.UUID
	Outcome commands.Outcome
}

// Reported records a command report: what r says of the device (a report
// that says nothing beyond the identifier, an Idle, only marks the device
// seen), and the answer, if any, completes its command. An answer
// Trident does not take changes nothing and is returned as ignored:
// commands.ErrForeign (another device's command), commands.ErrState (a
// finished one) or tenancy.ErrNotFound (one never queued).
func (a *Apple) Reported(ctx context.Context, r inventory.Report, ans *Answer) (ignored, err error) {
	err = a.db.Tx(ctx, func(tx pgx.Tx) error {
		var dev *inventory.Device
		seen := false
		if r.SerialNumber == "" && r.OSVersion == "" && r.Model == "" && r.Name == "" && r.Facts == nil && r.Status == "" {
			var err error
			if seen, err = a.inv.Seen(ctx, tx, r.Platform, r.Identifier); err != nil {
				return err
			}
		}
		if !seen {
			d, err := a.inv.RecordTx(ctx, tx, r)
			if err != nil {
				return err
			}
			dev = &d
		}
		if ans == nil {
			return nil
		}
		if dev == nil {
			d, err := a.inv.ByIdentifier(ctx, tx, r.Platform, r.Identifier)
			if err != nil {
				return fmt.Errorf("enrollment: the answering device: %w", err)
			}
			dev = &d
		}
		_, err := a.cmds.CompleteTx(ctx, tx, dev.ID, ans.Command, ans.Outcome)
		if errors.Is(err, commands.ErrForeign) || errors.Is(err, tenancy.ErrNotFound) || errors.Is(err, commands.ErrState) {
			ignored, err = err, nil
		}
		return err
	})
	return ignored, err
}

// Handout is a command of Trident's queue handed to a device.
type Handout struct {
	Device  inventory.Device
	Command commands.Command
}

// HandOut asks Trident's queue, the one source of truth for a command's
// state, whether command id may go to the device with identifier now. If
// it may, it is marked sent and returned with its secrets opened. If not
// (no such device, or the command was canceled, expired, finished or is
// another device's), skipped says why, and nothing changed. A suspended
// tenant's command is commands.ErrHeld: it stays queued.
func (a *Apple) HandOut(ctx context.Context, identifier string, id uuid.UUID) (h Handout, skipped, err error) {
	held := false
	err = a.db.Tx(ctx, func(tx pgx.Tx) error {
		d, err := a.inv.ByIdentifier(ctx, tx, inventory.Apple, identifier)
		if errors.Is(err, tenancy.ErrNotFound) {
			skipped = fmt.Errorf("the enrollment has no device: %w", err)
			return nil
		}
		if err != nil {
			return err
		}
		c, err := a.cmds.Hand(ctx, tx, d.ID, id)
		switch {
		case errors.Is(err, commands.ErrHeld):
			held = true // not a failure of the device's request
			return nil
		case errors.Is(err, commands.ErrState), errors.Is(err, tenancy.ErrNotFound), errors.Is(err, commands.ErrForeign):
			skipped = err
			return nil
		case err != nil:
			return err
		}
		h = Handout{Device: d, Command: c}
		return nil
	})
	if err == nil && held {
		err = commands.ErrHeld
	}
	return h, skipped, err
}

// Undeliverable ends a handed-out command the device cannot be sent (it
// no longer renders for the device: an UnlockToken gone) as an error.
func (a *Apple) Undeliverable(ctx context.Context, h Handout, reason error) error {
	_, err := a.cmds.Complete(ctx, h.Device.ID, h.Command.ID, commands.Outcome{Status: commands.Error, Error: reason.Error()})
	return err
}

// RenewalCreator names the commands identity renewal queues.
const RenewalCreator = "identity-renewal"

// Renewal is an enrolled Apple device whose identity expires soon and
// has no renewal queued.
type Renewal struct {
	Device    inventory.Device
	ExpiresAt time.Time
}

// RenewalsDue lists, oldest expiry first and at most limit, the enrolled
// Apple devices whose identity expires within window and has no newer
// one, and that have no renewal queued.
func (a *Apple) RenewalsDue(ctx context.Context, window time.Duration, limit int) ([]Renewal, error) {
	return tenancy.Read(ctx, a.db, func(tx pgx.Tx) ([]Renewal, error) {
		ids, err := a.pki.ExpiringTx(ctx, tx, window, limit)
		if err != nil {
			return nil, err
		}
		var due []Renewal
		for _, id := range ids {
			d, err := a.inv.GetTx(ctx, tx, id.Device)
			if errors.Is(err, tenancy.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
			if d.Platform != inventory.Apple || d.Status != inventory.Enrolled {
				continue // Windows renews its own; an unenrolled device has nothing to renew
			}
			open, err := a.cmds.HasOpen(ctx, tx, d.ID, "install_profile", RenewalCreator)
			if err != nil {
				return nil, err
			}
			if !open {
				due = append(due, Renewal{Device: d, ExpiresAt: id.NotAfter})
			}
		}
		return due, nil
	})
}

// QueueRenewal queues the renewal of r's identity: the install_profile
// command with payload (a fresh enrollment profile), and the
// pki.EventRenewalQueued event with it.
func (a *Apple) QueueRenewal(ctx context.Context, r Renewal, payload map[string]any) error {
	return a.db.Tx(ctx, func(tx pgx.Tx) error {
		c, err := a.cmds.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: r.Device.ID, Kind: "install_profile",
			CreatedBy: RenewalCreator, Payload: payload})
		if err != nil {
			return err
		}
		_, err = a.pub.Publish(ctx, tx, pki.EventRenewalQueued, r.Device.ID.String(), pki.RenewalQueued{
			Platform: "apple", CommandID: c.ID, ExpiresAt: r.ExpiresAt})
		return err
	})
}
