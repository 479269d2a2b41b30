package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// A suspended tenant's hostname still serves its devices' check-ins and
// refuses what enrolls new ones; resumed, it enrolls again. The MSP's
// PATCH drops every process's Host cache (NOTIFY trident_tenancy).
func TestSuspendedTenantRefusesEnrollment(t *testing.T) {
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, d)
	idp := testenv.StartIDP(t, devidp.Client{ID: "msp", Secret: "s", Audience: []string{"trident-api"},
		Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/admin"}}})
	s := start(t, idp.Issuer)
	c := apiClient{t: t, base: s.Base, bearer: "Bearer " + idp.Token(t, "msp", "s")}
	device := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", s.Base+path, nil)
		req.Host = tn.Slug + ".trident.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status := func(st string) {
		t.Helper()
		if code, body := c.do("PATCH", "/v1/tenants/"+tn.Slug, map[string]any{"status": st}); code != 200 {
			t.Fatalf("%s: %d %s", st, code, body)
		}
	}
	if code, _ := device("/scep?operation=GetCACaps"); code != 200 {
		t.Fatalf("an active tenant's SCEP: %d", code)
	}
	status("suspended")
	eventually(t, "SCEP refused once suspended", func() bool {
		code, body := device("/scep?operation=GetCACaps")
		return code == 403 && strings.Contains(body, "suspended")
	})
	if code, body := device("/ade/enroll"); code != 403 || !strings.Contains(body, "suspended") {
		t.Errorf("a suspended tenant's ADE enrollment: %d %s", code, body)
	}
	if code, body := device("/mdm"); code == 403 {
		t.Errorf("a suspended tenant's check-in endpoint refuses: %d %s", code, body)
	}
	status("active")
	eventually(t, "SCEP served once resumed", func() bool { code, _ := device("/scep?operation=GetCACaps"); return code == 200 })
}
