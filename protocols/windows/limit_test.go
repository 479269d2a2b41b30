package windows_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
)

// A tenant at its device limit refuses a new Windows enrollment with
// MS-MDE2's DeviceCapReached fault (Windows tells the person why), issues
// no certificate and records no device; the enrolled device goes on.
func TestEnrollmentPastTheDeviceLimit(t *testing.T) {
	e := newEnv(t)
	inv := inventory.New(e.db, events.NewPublisher(nil))
	one := 1
	if _, err := inv.SetDeviceLimit(e.ctx, e.tenant, &one); err != nil {
		t.Fatal(err)
	}
	first := e.device()
	if err := first.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Enroll(e.ctx, e.token(), false); err != nil {
		t.Fatalf("the first device, within the limit: %v", err)
	}
	second := e.device()
	if err := second.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	err := second.Enroll(e.ctx, e.token(), false)
	if err == nil || !strings.Contains(err.Error(), "DeviceCapReached") || !strings.Contains(err.Error(), "device limit is reached (1 enrolled devices)") {
		t.Fatalf("the second device: %v; want a DeviceCapReached fault that says why", err)
	}
	var devices, certs int
	if err := e.db.Tx(e.ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM issued_certificates)`).Scan(&devices, &certs)
	}); err != nil {
		t.Fatal(err)
	}
	if devices != 1 || certs != 1 {
		t.Errorf("after the refusal: %d devices, %d certificates; want the first device's only", devices, certs)
	}
	if _, err := first.Session(e.ctx); err != nil {
		t.Errorf("the enrolled device's session: %v", err)
	}
}
