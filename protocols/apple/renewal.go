package apple

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/tenancy"
)

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
	Dir      *tenancy.Directory
	Profiles *Profiles
	Apple    *enrollment.Apple
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
	due, err := r.Apple.RenewalsDue(ctx, window, renewBatch)
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
		if err := r.Apple.QueueRenewal(ctx, d, map[string]any{"profile": base64.StdEncoding.EncodeToString(profile)}); err != nil {
			return queued, fmt.Errorf("apple: queue the identity renewal of %s: %w", d.Device.ID, err)
		}
		queued++
	}
	r.Log.InfoContext(ctx, "apple identity renewals queued", "tenant", t.Slug, "devices", queued)
	return queued, nil
}
