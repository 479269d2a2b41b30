package compliance_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	ifault "github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Found by an outside try (issue 24): the platform "apple" lumped macOS
// and iOS, so "macOS firewall on" failed every iPhone and "iOS 17.4 or
// later" every Mac. Rules are scoped to device families, a rule checks
// only what a family has (a firewall: macOS and Windows), and a rule that
// does not apply leaves no result, so it counts neither way.
func TestRulesApplyByDeviceFamily(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	c := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	devices := map[string]inventory.Device{}
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		for _, r := range []inventory.Report{
			{Platform: inventory.Apple, Identifier: "iphone", Model: "iPhone15,2", OSVersion: "17.5", Status: inventory.Enrolled},
			{Platform: inventory.Apple, Identifier: "mac", Model: "MacBookPro18,3", OSVersion: "14.4", Status: inventory.Enrolled,
				Facts: map[string]any{"firewall_enabled": true}},
		} {
			d, err := inv.RecordTx(ctx, tx, r)
			if err != nil {
				return err
			}
			devices[r.Identifier] = d
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if f := devices["iphone"].Family(); f != inventory.IOS {
		t.Errorf("iPhone15,2 is %q; want ios", f)
	}
	if f := devices["mac"].Family(); f != inventory.MacOS {
		t.Errorf("MacBookPro18,3 is %q; want macos", f)
	}
	rules := map[string]compliance.Rule{}
	for _, r := range []compliance.Rule{
		{Name: "iOS 17.4 or later", Platform: "ios", Kind: compliance.OSVersionMin, Params: compliance.Params{Version: "17.4"}, Enabled: true},
		{Name: "Firewall on", Platform: inventory.Apple, Kind: compliance.FirewallEnabled, Enabled: true},
	} {
		created, err := c.Create(ctx, r)
		if err != nil {
			t.Fatalf("create %s: %v", r.Name, err)
		}
		rules[r.Name] = created
	}
	if _, err := c.Create(ctx, compliance.Rule{Name: "x", Platform: "symbian", Kind: compliance.DiskEncrypted}); !ifault.Is(err, ifault.Invalid) {
		t.Errorf("a rule for no platform or family: %v", err)
	}
	for name, d := range devices {
		ok, err := c.Evaluate(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("%s fails a rule that is not for it", name)
		}
	}
	results := func(name string) map[string]bool {
		var rs []compliance.Result
		if err := db.ReadWithin(ctx, func(ctx context.Context) (err error) { rs, err = c.Results(ctx, devices[name].ID); return err }); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, r := range rs {
			for n, rule := range rules {
				if rule.ID == r.RuleID {
					out[n] = r.Compliant
				}
			}
		}
		return out
	}
	if got := results("iphone"); len(got) != 1 || !got["iOS 17.4 or later"] {
		t.Errorf("the iPhone's results: %v; want only the iOS rule, passed", got)
	}
	if got := results("mac"); len(got) != 1 || !got["Firewall on"] {
		t.Errorf("the Mac's results: %v; want only the firewall, passed", got)
	}
	if !compliance.Applies(rules["Firewall on"], devices["mac"]) || compliance.Applies(rules["Firewall on"], devices["iphone"]) ||
		compliance.Applies(rules["iOS 17.4 or later"], devices["mac"]) {
		t.Error("Applies disagrees with the evaluation")
	}
}
