package apple_test

import (
	"strings"
	"testing"

	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/tenants"
)

// The enrollment profile names the tenant as its branding does: the
// organization the device shows, and whom to ask in the description.
func TestEnrollmentProfileBranding(t *testing.T) {
	e := setupMDM(t)
	ctx := e.ctx(e.a)
	certPEM, keyPEM := pushCert(t, topic)
	if err := e.store.StorePushCert(ctx, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	brand := tenants.New(e.db, e.dir, events.NewPublisher(nil))
	profiles := apple.NewProfiles(e.pki, e.store, "trident.test", "https", 0).WithBranding(brand)
	read := func() (org, desc string) {
		t.Helper()
		signed, err := profiles.Enrollment(ctx, e.a)
		if err != nil {
			t.Fatal(err)
		}
		p7, err := pkcs7.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ PayloadOrganization, PayloadDescription string }
		if err := plist.Unmarshal(p7.Content, &p); err != nil {
			t.Fatal(err)
		}
		return p.PayloadOrganization, p.PayloadDescription
	}
	if org, desc := read(); org != e.a.Name || strings.Contains(desc, "help") {
		t.Errorf("without branding: %q, %q", org, desc)
	}
	if _, err := brand.SetBranding(ctx, tenants.Branding{DisplayName: "Corner Bakery", SupportEmail: "it@corner.example"}); err != nil {
		t.Fatal(err)
	}
	if org, desc := read(); org != "Corner Bakery" || !strings.Contains(desc, "Corner Bakery's device management. For help: it@corner.example.") {
		t.Errorf("with branding: %q, %q", org, desc)
	}
}
