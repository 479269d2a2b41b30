package android_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/tridentmdm/trident/services/android"
)

// The tenant's branding reaches its enterprise, which Google shows while
// a device enrolls: the name, the colour as Google writes it, and the
// logo's URL with its digest; what the tenant removes goes back to
// Google's default.
func TestEnterpriseBranding(t *testing.T) {
	brand := android.Brand{DisplayName: "Corner Bakery", PrimaryColor: "#aa3300", LogoURL: "https://t.trident.test/branding/logo", LogoSHA256: []byte{1, 2, 3}}
	f := setupWith(t, func(o *android.Options) {
		o.Branding = func(context.Context) (android.Brand, error) { return brand, nil }
	})
	if err := f.svc.ApplyBrand(f.ctx); err != nil {
		t.Fatal(err)
	}
	e := f.google.Enterprise(f.ent)
	if e.EnterpriseDisplayName != "Corner Bakery" || e.PrimaryColor != 0xaa3300 || e.Logo == nil ||
		e.Logo.Url != brand.LogoURL || e.Logo.Sha256Hash != base64.StdEncoding.EncodeToString([]byte{1, 2, 3}) {
		t.Fatalf("the enterprise: %+v %+v", e, e.Logo)
	}
	brand = android.Brand{}
	if err := f.svc.ApplyBrand(f.ctx); err != nil {
		t.Fatal(err)
	}
	if e := f.google.Enterprise(f.ent); e.EnterpriseDisplayName != "Corner Bakery" || e.PrimaryColor != 0 || e.Logo != nil {
		t.Errorf("the branding removed: %+v", e)
	}
	if err := f.svc.QueueBrand(f.ctx); err != nil {
		t.Errorf("queue: %v", err)
	}
}
