package e2e

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// A tenant's branding, set over the API, is what its enrollment page on
// its own hostname shows (name, logo, support contact), and a logo that
// is not an image is refused.
func TestBrandingOnTheTenantsHost(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	idp := testenv.StartIDP(t, devidp.Client{ID: "admin", Secret: "s", Audience: []string{"trident-api"},
		Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}})
	s := start(t, idp.Issuer)
	bearer := "Bearer " + idp.Token(t, "admin", "s")
	c := apiClient{t: t, base: s.Base, bearer: bearer}
	tp := "/v1/tenants/" + tn.Slug
	if code, b := c.do("PUT", tp+"/branding", map[string]any{"display_name": "Corner Bakery", "primary_color": "#aa3300", "accent_color": "",
		"support_email": "it@corner.example", "support_phone": "", "support_url": ""}); code != 200 || !strings.Contains(string(b), `"display_name":"Corner Bakery"`) {
		t.Fatalf("set branding: %d %s", code, b)
	}
	var logo bytes.Buffer
	_ = png.Encode(&logo, image.NewGray(image.Rect(0, 0, 64, 32)))
	put := func(body []byte, typ string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "PUT", s.Base+tp+"/branding/logo", bytes.NewReader(body))
		req.Host = "trident.test" // the platform's own name
		req.Header.Set("Authorization", bearer)
		req.Header.Set("Content-Type", typ)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := put([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "image/png"); code != 422 || !strings.Contains(b, "not a PNG or JPEG") {
		t.Errorf("an SVG as the logo: %d %s", code, b)
	}
	if code, b := put(logo.Bytes(), "image/png"); code != 200 || !strings.Contains(b, `"logo_type":"image/png"`) || !strings.Contains(b, "/branding/logo") {
		t.Fatalf("the logo: %d %s", code, b)
	}
	device := func(path string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", s.Base+path, nil)
		req.Host = tn.Slug + ".trident.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, _, page := device("/"); code != 200 || !strings.Contains(page, "<h1>Corner Bakery</h1>") || !strings.Contains(page, `<img src="/branding/logo"`) ||
		!strings.Contains(page, "mailto:it@corner.example") || !strings.Contains(page, "#aa3300") {
		t.Errorf("the tenant's page: %d %s", code, page)
	}
	if code, typ, body := device("/branding/logo"); code != 200 || typ != "image/png" || body != logo.String() {
		t.Errorf("the logo on the tenant's host: %d %s %d bytes", code, typ, len(body))
	}
}
