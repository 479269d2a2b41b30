package dashboard

import (
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
)

// The device page says "not applicable" for a rule that is not for the
// device, not "not evaluated" (issue 24): a Mac's firewall rule on an
// iPhone, an iOS rule on a Mac.
func TestStandingsSayNotApplicable(t *testing.T) {
	firewall := compliance.Rule{ID: uuid.New(), Name: "Firewall", Platform: inventory.Apple, Kind: compliance.FirewallEnabled, Enabled: true}
	ios := compliance.Rule{ID: uuid.New(), Name: "iOS 17", Platform: inventory.Platform(inventory.IOS), Kind: compliance.OSVersionMin, Enabled: true}
	iphone := inventory.Device{Platform: inventory.Apple, Model: "iPhone15,2"}
	mac := inventory.Device{Platform: inventory.Apple, Model: "Mac14,2"}
	for _, c := range []struct {
		dev  inventory.Device
		want []bool
	}{{iphone, []bool{false, true}}, {mac, []bool{true, false}}} {
		s := standings(c.dev, []compliance.Rule{firewall, ios}, nil)
		if len(s) != 2 || s[0].Applies != c.want[0] || s[1].Applies != c.want[1] {
			t.Errorf("%s: %+v; want applies %v", c.dev.Model, s, c.want)
		}
	}
}
