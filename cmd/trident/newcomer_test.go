package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
)

// What `trident dev` prints must work as printed (issue 24: the API line
// used $TOKEN, which nothing set). The token line runs in a shell against
// a real identity provider and sets TOKEN to a JWT.
func TestWelcomeTokenLineWorksAsPrinted(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	client := devidp.Client{ID: "demo-admin", Secret: "s3cret", Audience: []string{"trident-api"}}
	idp := testenv.StartIDP(t, client)
	var out bytes.Buffer
	printWelcome(&out, "localhost:8080", "demo", &devIdentity{issuer: idp.Issuer, clients: []devidp.Client{client}})
	var tokenLine, apiLine string
	for _, l := range strings.Split(out.String(), "\n") {
		l = strings.TrimSpace(l)
		if s, ok := strings.CutPrefix(l, "then: "); ok && strings.HasPrefix(s, "TOKEN=") {
			tokenLine = s
		} else if s, ok := strings.CutPrefix(l, "and:  "); ok {
			apiLine = s
		}
	}
	if tokenLine == "" || !strings.Contains(apiLine, `Bearer $TOKEN`) {
		t.Fatalf("no token line and API call in:\n%s", out.String())
	}
	got, err := exec.Command("bash", "-c", tokenLine+`; printf %s "$TOKEN"`).Output()
	if err != nil || strings.Count(string(got), ".") != 2 {
		t.Fatalf("the printed token line: %q %v; want TOKEN set to a JWT", got, err)
	}
}

// tenant create prints where the tenant is: with the dev cluster, on
// trident dev's plain HTTP port, not https on port 443.
func TestTenantURL(t *testing.T) {
	if got := tenantURL("bakery", "localhost", true); got != "http://bakery.localhost:8080/" {
		t.Errorf("dev: %s", got)
	}
	if got := tenantURL("bakery", "mdm.example.com", false); got != "https://bakery.mdm.example.com/" {
		t.Errorf("production: %s", got)
	}
}
