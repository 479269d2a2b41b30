package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

func get(t *testing.T, url, host string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, d)
	idp := testenv.StartIDP(t, devidp.Client{ID: "viewer", Secret: "s", Audience: []string{"trident-api"},
		Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/viewer"}}})
	dns := testenv.DNS(t)
	srv := start(t, idp.Issuer, "--dns-server", dns.Addr())
	base, dir := srv.Base, srv.Dir

	if code, body := get(t, base+"/healthz", "10.0.0.1"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz", "10.0.0.1"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, body := get(t, base+"/", "trident.test"); code != 200 || !strings.Contains(body, "<h1>Trident</h1>") {
		t.Fatalf("platform home: %d %s", code, body)
	}
	if code, body := get(t, base+"/", tn.Slug+".trident.test"); code != 200 || !strings.Contains(body, tn.Name) {
		t.Fatalf("tenant home: %d %s", code, body)
	}
	if code, _ := get(t, base+"/", "nobody.trident.test"); code != 404 {
		t.Fatalf("unknown tenant: %d, want 404", code)
	}

	// The API lives on the platform's hostname, behind bearer tokens.
	if code, _ := get(t, base+"/v1/tenants/"+tn.Slug, "trident.test"); code != 401 {
		t.Fatalf("API without a token: %d, want 401", code)
	}
	bearer := "Bearer " + idp.Token(t, "viewer", "s")
	if code, body := get(t, base+"/v1/tenants/"+tn.Slug, "trident.test", "Authorization", bearer); code != 200 || !strings.Contains(body, tn.ID.String()) {
		t.Fatalf("API with a token: %d %s", code, body)
	}
	if code, _ := get(t, base+"/v1/tenants/"+tn.Slug, tn.Slug+".trident.test", "Authorization", bearer); code != 404 {
		t.Fatalf("API on a tenant hostname: %d, want 404 (the API is the platform's)", code)
	}
	// Device endpoints live on tenant hostnames: SCEP answers there.
	if code, body := get(t, base+"/scep?operation=GetCACaps", tn.Slug+".trident.test"); code != 200 || !strings.Contains(body, "Renewal") {
		t.Fatalf("SCEP on the tenant's hostname: %d %s", code, body)
	}
	if code, _ := get(t, base+"/scep?operation=GetCACaps", "trident.test"); code != 404 {
		t.Fatalf("SCEP on the platform's hostname: %d, want 404", code)
	}
	for _, p := range []string{"/openapi.json", "/openapi.yaml", "/docs", "/docs/assets/swagger-ui-bundle.js"} {
		if code, _ := get(t, base+p, "trident.test"); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}

	// Metrics count what happened, without tenants or ids in the labels.
	code, body := get(t, base+"/metrics", "10.0.0.1")
	if code != 200 || !strings.Contains(body, `trident_http_requests_total{code="200",method="GET",route="/v1"}`) ||
		!strings.Contains(body, `trident_device_requests_total{code="200",kind="scep",platform="apple"}`) || strings.Contains(body, tn.Slug) {
		t.Fatalf("metrics:\n%s", body)
	}

	// ... and never on the names the public reaches: the platform's, or a
	// tenant's (the outside security test read them on a tenant hostname).
	for _, host := range []string{"trident.test", tn.Slug + ".trident.test", "unknown.trident.test"} {
		if code, _ := get(t, base+"/metrics", host); code != 404 {
			t.Errorf("metrics on %s: %d, want 404", host, code)
		}
	}

	// A hostname verified elsewhere (another process, an operator command)
	// reaches this process's Host cache through NOTIFY trident_tenancy.
	custom := "mdm-" + tn.Slug + ".example"
	if code, _ := get(t, base+"/", custom); code != 404 {
		t.Fatalf("custom host before registration: %d, want 404", code)
	}
	dns.VerifiedHostname(t, dir, tn.ID, custom)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/", custom)
		if code == 200 && strings.Contains(body, tn.Name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("custom host still answers %d after registration: the cache was not invalidated", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
