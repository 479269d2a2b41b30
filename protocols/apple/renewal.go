package apple

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// RenewalCreator names the commands identity renewal queues.
const RenewalCreator = "identity-renewal"

// DefaultRenewalWindow is how long before an Apple device's identity
// expires Trident sends it a fresh enrollment profile.
const DefaultRenewalWindow = 60 * 24 * time.Hour

// Renewer keeps Apple devices' identities from lapsing: for each enrolled
// Apple device whose identity certificate expires within Window (and has
// no newer one), it queues InstallProfile with a fresh enrollment profile.
// The profile's identifiers are the tenant's stable ones, so the device
// replaces its enrollment profile in place: a new SCEP identity, a new
// Authenticate and TokenUpdate with it, and no re-enrollment. ADE devices
// take it the same way. (nanomdm then knows the enrollment by the new
// identity only; the old one is current in Trident's records until it
// expires, and revoking the device revokes both.)
type Renewer struct {
	DB       TxRunner
	Dir      *tenancy.Directory
	Profiles *Profiles
	PKI      *pki.PKI
	Inv      *inventory.Inventory
	Cmds     *commands.Queue
	Pub      *events.Publisher
	Window   time.Duration // default DefaultRenewalWindow
	Log      *slog.Logger
}

// renewBatch bounds the profiles one run queues per tenant; the next run
// takes the rest.
const renewBatch = 500

// Renew queues the tenant's renewals and returns how many it queued. A
// tenant without a push certificate has nothing to renew with: 0 and no
// error (its devices cannot be managed anyway).
func (r *Renewer) Renew(ctx context.Context, tenant uuid.UUID) (int, error) {
	window := r.Window
	if window <= 0 {
		window = DefaultRenewalWindow
	}
	t, err := r.Dir.Tenant(ctx, tenant)
	if err != nil {
		return 0, err
	}
	ctx = tenancy.WithTenant(ctx, tenant)
	var due []inventory.Device
	var expires = map[uuid.UUID]time.Time{}
	err = r.DB.Tx(ctx, func(tx pgx.Tx) error {
		ids, err := r.PKI.Expiring(ctx, tx, window, renewBatch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := r.Inv.GetTx(ctx, tx, id.Device)
			if errors.Is(err, tenancy.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if d.Platform != inventory.Apple || d.Status != inventory.Enrolled {
				continue // Windows renews its own; an unenrolled device has nothing to renew
			}
			open, err := r.Cmds.HasOpen(ctx, tx, d.ID, "install_profile", RenewalCreator)
			if err != nil {
				return err
			}
			if !open {
				due = append(due, d)
				expires[d.ID] = id.NotAfter
			}
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	queued := 0
	for _, d := range due {
		profile, err := r.Profiles.Enrollment(ctx, t)
		if errors.Is(err, ErrNoPushCertificate) {
			r.Log.WarnContext(ctx, "apple identities expire and the tenant has no push certificate to renew them with", "tenant", t.Slug, "devices", len(due))
			return queued, nil
		}
		if err != nil {
			return queued, err
		}
		err = r.DB.Tx(ctx, func(tx pgx.Tx) error {
			c, err := r.Cmds.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: d.ID, Kind: "install_profile", CreatedBy: RenewalCreator,
				Payload: map[string]any{"profile": base64.StdEncoding.EncodeToString(profile)}})
			if err != nil {
				return err
			}
			_, err = r.Pub.Publish(ctx, tx, pki.EventRenewalQueued, d.ID.String(), pki.RenewalQueued{
				Platform: "apple", CommandID: c.ID, ExpiresAt: expires[d.ID]})
			return err
		})
		if err != nil {
			return queued, fmt.Errorf("apple: queue the identity renewal of %s: %w", d.ID, err)
		}
		queued++
	}
	r.Log.InfoContext(ctx, "apple identity renewals queued", "tenant", t.Slug, "devices", queued)
	return queued, nil
}
