package android_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	am "google.golang.org/api/androidmanagement/v1"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// At its device limit a tenant makes no Android enrollment token; a
// device Google enrolls anyway (with a token made before) is held
// pending, neither enrolled nor counted, and enrolls on its next report
// once a place is free.
func TestAndroidPastTheDeviceLimit(t *testing.T) {
	f := setup(t)
	base := f.policy(android.PolicySettings{}, nil)
	tok, err := f.svc.CreateEnrollmentToken(f.ctx, base.ID, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.google.Enroll(tok.Value, "S1")
	if err != nil {
		t.Fatal(err)
	}
	f.push()
	id, _ := tenancy.FromContext(f.ctx)
	one := 1
	if _, err := f.inv.SetDeviceLimit(f.ctx, tenancy.Tenant{ID: id, MSPID: mspOf(t, f)}, &one); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateEnrollmentToken(f.ctx, base.ID, time.Hour, false); !errors.Is(err, inventory.ErrDeviceLimit) || !fault.Is(err, fault.Conflict) ||
		!strings.Contains(err.Error(), "1 of 1 devices enrolled") {
		t.Fatalf("a token at the limit: %v", err)
	}
	second, err := f.google.Enroll(tok.Value, "S2")
	if err != nil {
		t.Fatal(err)
	}
	f.push()
	if d := f.device(second.Name); d.Status != inventory.Pending || !strings.Contains(string(d.Facts), "device limit is reached") {
		t.Fatalf("the device past the limit: %s %s", d.Status, d.Facts)
	}
	if l, _ := f.inv.DeviceLimit(f.ctx); l.Enrolled != 1 {
		t.Fatalf("%d enrolled; want 1", l.Enrolled)
	}
	// The limit is raised; the held device's next report enrolls it.
	two := 2
	if _, err := f.inv.SetDeviceLimit(f.ctx, tenancy.Tenant{ID: id, MSPID: mspOf(t, f)}, &two); err != nil {
		t.Fatal(err)
	}
	if err := f.google.Report(second.Name, func(*am.Device) {}); err != nil {
		t.Fatal(err)
	}
	f.push()
	if d := f.device(second.Name); d.Status != inventory.Enrolled || strings.Contains(string(d.Facts), "device limit is reached") {
		t.Errorf("the held device once a place is free: %s %s", d.Status, d.Facts)
	}
	if d := f.device(first.Name); d.Status != inventory.Enrolled {
		t.Errorf("the first device: %s", d.Status)
	}
}

func mspOf(t *testing.T, f *fixture) uuid.UUID {
	t.Helper()
	id, _ := tenancy.FromContext(f.ctx)
	var msp uuid.UUID
	if err := f.db.Writer().QueryRow(context.Background(), `SELECT msp_id FROM tenants WHERE id = $1`, id).Scan(&msp); err != nil {
		t.Fatal(err)
	}
	return msp
}
