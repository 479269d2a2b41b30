package attention_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The device limit is announced before it refuses anything: a warning
// from 90% of it, critical at it, nothing below or without one.
func TestDeviceLimitItem(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	for i := range 9 {
		if _, err := inv.Record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: "W" + string(rune('0'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	f := attention.New(attention.Sources{Inventory: inv, Directory: dir}, time.Now)
	item := func() *attention.Item {
		t.Helper()
		items, err := f.Tenant(context.Background(), tn)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Kind == attention.DeviceLimit {
				return &it
			}
		}
		return nil
	}
	if it := item(); it != nil {
		t.Errorf("no limit: %+v", it)
	}
	for _, c := range []struct {
		limit    int
		severity attention.Severity
		text     string
	}{{11, "", ""}, {10, attention.Warning, "9 of the 10"}, {9, attention.Critical, "limit is reached (9 of 9"}} {
		if _, err := inv.SetDeviceLimit(ctx, tn, &c.limit); err != nil {
			t.Fatal(err)
		}
		it := item()
		switch {
		case c.severity == "" && it != nil:
			t.Errorf("limit %d: %+v", c.limit, it)
		case c.severity != "" && (it == nil || it.Severity != c.severity || !strings.Contains(it.Text, c.text) || it.Count != 9):
			t.Errorf("limit %d: %+v; want %s saying %q", c.limit, it, c.severity, c.text)
		}
	}
}
