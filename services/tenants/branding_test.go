package tenants_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// PNG is a w×h image, encoded.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Branding keeps what is valid and refuses, field by field and changing
// nothing, what is not: colours, an address, a phone, a URL, and a logo
// that is not a whole PNG or JPEG of a sensible size.
func TestBranding(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn, other := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	svc := tenants.New(db, dir, events.NewPublisher(nil))
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	if b, err := svc.Branding(ctx); err != nil || !b.UpdatedAt.IsZero() || b.Name(tn) != tn.Name {
		t.Fatalf("no branding: %+v, %v", b, err)
	}
	good := tenants.Branding{DisplayName: " Bakery Ltd ", PrimaryColor: "#AA3300", AccentColor: "#003366",
		SupportEmail: "help@bakery.example", SupportPhone: "+44 20 7946 0000", SupportURL: "https://bakery.example/help"}
	b, err := svc.SetBranding(ctx, good)
	if err != nil || b.DisplayName != "Bakery Ltd" || b.PrimaryColor != "#aa3300" || b.Support() != "help@bakery.example · +44 20 7946 0000 · https://bakery.example/help" {
		t.Fatalf("set: %+v, %v", b, err)
	}
	for field, bad := range map[string]func(*tenants.Branding){
		"display_name":  func(b *tenants.Branding) { b.DisplayName = "<script>" },
		"primary_color": func(b *tenants.Branding) { b.PrimaryColor = "red" },
		"accent_color":  func(b *tenants.Branding) { b.AccentColor = "#12345" },
		"support_email": func(b *tenants.Branding) { b.SupportEmail = "Help <help@x.example>" },
		"support_phone": func(b *tenants.Branding) { b.SupportPhone = "call us" },
		"support_url":   func(b *tenants.Branding) { b.SupportURL = "http://bakery.example" },
	} {
		x := good
		bad(&x)
		f, _ := fault.As(func() error { _, err := svc.SetBranding(ctx, x); return err }())
		if f == nil || f.Code != fault.Invalid || len(f.Fields) != 1 || f.Fields[0].Name != field {
			t.Errorf("%s: %+v", field, f)
		}
	}
	if got, _ := svc.Branding(ctx); got.DisplayName != "Bakery Ltd" {
		t.Errorf("a refused change changed the branding: %+v", got)
	}

	big := make([]byte, tenants.MaxLogoBytes+1)
	copy(big, PNG(t, 64, 64))
	damaged := PNG(t, 64, 64)
	damaged = damaged[:len(damaged)-30]
	for name, data := range map[string][]byte{
		"empty": nil, "text": []byte("not an image at all"), "svg": []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`),
		"too large": big, "too small": PNG(t, 8, 8), "too wide": PNG(t, 2000, 20), "damaged": damaged,
	} {
		if _, err := svc.SetLogo(ctx, data); !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "logo") {
			t.Errorf("a logo %s: %v", name, err)
		}
	}
	logo := PNG(t, 128, 64)
	if b, err := svc.SetLogo(ctx, logo); err != nil || b.LogoType != "image/png" || len(b.LogoHash) != 64 || b.DisplayName != "Bakery Ltd" {
		t.Fatalf("a logo: %+v, %v", b, err)
	}
	if data, typ, err := svc.Logo(ctx); err != nil || typ != "image/png" || !bytes.Equal(data, logo) {
		t.Fatalf("the logo back: %s %d bytes, %v", typ, len(data), err)
	}
	if data, _, _ := svc.Logo(tenancy.WithTenant(context.Background(), other.ID)); data != nil {
		t.Error("another tenant reads the logo")
	}
	if b, err := svc.DeleteLogo(ctx); err != nil || b.LogoType != "" || b.LogoHash != "" {
		t.Fatalf("delete: %+v, %v", b, err)
	}
	if email, phone, err := svc.SupportContact(ctx); err != nil || email != "help@bakery.example" || phone != "+44 20 7946 0000" {
		t.Errorf("the support contact: %q %q %v", email, phone, err)
	}
}
