package inventory_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// A device limit refuses the enrollment that would pass it, whatever the
// platform, and nothing else: a device enrolled already reports, one
// unenrolled frees its place, enrollments that race are counted one after
// the other, and a limit below the enrolled leaves those as they are.
func TestDeviceLimit(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	for _, bad := range []int{-1, 10_000_001} {
		if _, err := inv.SetDeviceLimit(ctx, tn, &bad); !fault.Is(err, fault.Invalid) {
			t.Errorf("limit %d: %v", bad, err)
		}
	}
	two := 2
	if l, err := inv.SetDeviceLimit(ctx, tn, &two); err != nil || *l.Limit != 2 || l.Enrolled != 0 {
		t.Fatalf("set: %+v, %v", l, err)
	}
	enroll := func(p inventory.Platform, id string) error {
		_, err := inv.Record(ctx, inventory.Report{Platform: p, Identifier: id, Status: inventory.Enrolled})
		return err
	}
	if err := enroll(inventory.Apple, "A"); err != nil {
		t.Fatal(err)
	}
	// Two race for the last place: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{"W1", "W2"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = enroll(inventory.Windows, id) }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("racing for the last place: %v, %v; want exactly one refused", errs[0], errs[1])
	}
	refused := errs[0]
	if refused == nil {
		refused = errs[1]
	}
	if !errors.Is(refused, inventory.ErrDeviceLimit) || !fault.Is(refused, fault.Conflict) {
		t.Errorf("the refusal: %v", refused)
	}
	if err := enroll(inventory.Android, "enterprises/e/devices/1"); !errors.Is(err, inventory.ErrDeviceLimit) {
		t.Errorf("a third platform past the limit: %v", err)
	}
	if l, _ := inv.DeviceLimit(ctx); l.Enrolled != 2 {
		t.Errorf("%d enrolled, want 2", l.Enrolled)
	}
	if err := enroll(inventory.Apple, "A"); err != nil {
		t.Errorf("an enrolled device reporting again: %v", err)
	}
	if _, err := inv.Record(ctx, inventory.Report{Platform: inventory.Apple, Identifier: "A", Status: inventory.Unenrolled}); err != nil {
		t.Fatal(err)
	}
	if err := enroll(inventory.Android, "enterprises/e/devices/1"); err != nil {
		t.Errorf("a freed place: %v", err)
	}
	zero := 0
	if l, err := inv.SetDeviceLimit(ctx, tn, &zero); err != nil || l.Enrolled != 2 || !l.Near(1) {
		t.Errorf("a limit below the enrolled: %+v, %v", l, err)
	}
	if l, err := inv.SetDeviceLimit(ctx, tn, nil); err != nil || l.Limit != nil {
		t.Fatalf("removed: %+v, %v", l, err)
	}
	if err := enroll(inventory.Apple, "B"); err != nil {
		t.Errorf("no limit: %v", err)
	}
}
