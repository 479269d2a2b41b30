package apple_test

import (
	"context"
	"testing"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/services/inventory"
)

// enrolledDevice is a simulated device through SCEP, Authenticate and
// TokenUpdate in tenant a, with its inventory id.
func enrolledDevice(b *testing.B, e *mdmEnv) (*devicesim.AppleDevice, inventory.Device) {
	certPEM, keyPEM := pushCert(b, topic)
	if err := e.store.StorePushCert(e.ctx(e.a), certPEM, keyPEM); err != nil {
		b.Fatal(err)
	}
	d := e.enroll(b, e.a)
	ctx := context.Background()
	if err := d.Authenticate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		b.Fatal(err)
	}
	return d, e.device(b, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
}

// A device's check-in with nothing queued (Status Idle): the signature
// verified against the tenant's CA, nanomdm's bookkeeping, Trident's
// next-command lookup and its last-seen update.
func BenchmarkIdle(b *testing.B) {
	e := setupMDM(b)
	d, _ := enrolledDevice(b, e)
	ctx := context.Background()
	for b.Loop() {
		if c, err := d.Idle(ctx); err != nil || c != nil {
			b.Fatal(c, err)
		}
	}
}

// A command's round trip on an awake device: Idle fetches it, the
// Acknowledged answer records it (two requests).
func BenchmarkCommand(b *testing.B) {
	e := setupMDM(b)
	d, dev := enrolledDevice(b, e)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		e.queue(b, e.a, dev.ID, "restart")
		b.StartTimer()
		c, err := d.Idle(ctx)
		if err != nil || c == nil {
			b.Fatal(c, err)
		}
		if next, err := d.Answer(ctx, c, "Acknowledged"); err != nil || next != nil {
			b.Fatal(next, err)
		}
	}
}
