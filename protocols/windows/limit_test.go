package windows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/protocols/windows"
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

// The tenant's branding names its management server in the provisioning
// document (w7 APPLICATION NAME, which Windows shows for the work
// account); the provider id stays Trident's, which the device's CSP
// paths are keyed by.
func TestEnrollmentNamesTheServerAsBranded(t *testing.T) {
	e := newEnvWith(t, func(o *windows.Options) { o.ServerName = func(context.Context) string { return "Corner Bakery IT" } })
	dev := e.device()
	var doc []byte
	dev.Record = func(kind string, _, answer []byte) {
		if kind == "enroll" {
			doc = answer
		}
	}
	if err := dev.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := dev.Enroll(e.ctx, e.token(), false); err != nil {
		t.Fatal(err)
	}
	p := string(provisioningDoc(t, doc))
	if !strings.Contains(p, `<parm name="NAME" value="Corner Bakery IT"`) || !strings.Contains(p, `<parm name="PROVIDER-ID" value="Trident"`) {
		t.Errorf("the provisioning document: %s", p)
	}
}
