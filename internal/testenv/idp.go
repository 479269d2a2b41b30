package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	idp "github.com/tridentmdm/trident/internal/devidp"
)

// IDP is a running test OpenID Provider process (see package idp).
type IDP struct {
	Issuer string
}

// StartIDP runs a test OpenID Provider with the given clients until the
// test ends.
func StartIDP(t testing.TB, clients ...idp.Client) *IDP {
	t.Helper()
	return StartIDPWith(t, idp.Config{Clients: clients})
}

// StartIDPWith runs a test OpenID Provider with clients and users.
func StartIDPWith(t testing.TB, c idp.Config) *IDP {
	t.Helper()
	bin, err := Build("github.com/tridentmdm/trident/internal/devidp/trident-idp")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(c)
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(string(cfg))
	cmd.Stderr = testWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
	}()
	select {
	case l := <-line:
		issuer, ok := strings.CutPrefix(l, "issuer ")
		if !ok {
			t.Fatalf("trident-idp printed %q", l)
		}
		return &IDP{Issuer: issuer}
	case <-time.After(30 * time.Second):
		t.Fatal("trident-idp did not start")
	}
	return nil
}

// Token fetches an access token from the provider's token endpoint with
// the client-credentials grant, as an integrator would.
func (p *IDP) Token(t testing.TB, clientID, secret string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: p.Issuer + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials token for %s: %v", clientID, err)
	}
	return tok.AccessToken
}

// SignIn plays a person signing in with the authorization-code flow: it
// opens start with client (which must keep cookies), fills in the
// provider's login form, and follows the redirects back. It answers the
// last page's status and body.
func (p *IDP) SignIn(t testing.TB, client *http.Client, start, user, password string) (int, string) {
	t.Helper()
	code, page, err := idp.SignIn(client, start, user, password)
	if err != nil && code == 0 {
		t.Fatal(err)
	} else if err != nil {
		t.Fatalf("%v: %s", err, page)
	}
	return code, page
}

// Rotate replaces the provider's signing key (the old one stays in its JWKS
// for a while, as real providers do).
func (p *IDP) Rotate(t testing.TB) {
	t.Helper()
	resp, err := http.Post(p.Issuer+"/admin/rotate", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("rotate the provider's key: %v %v", err, resp)
	}
	resp.Body.Close()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// SetUser adds or changes a person at the provider, as its admin would:
// their next sign-in or token refresh carries the change.
func (p *IDP) SetUser(t testing.TB, u idp.User) {
	t.Helper()
	b, _ := json.Marshal(u)
	req, _ := http.NewRequest(http.MethodPut, p.Issuer+"/admin/users/"+u.Subject, strings.NewReader(string(b)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("set user %s: %v %v", u.Subject, err, resp)
	}
	resp.Body.Close()
}

// RemoveUser removes a person: their refresh tokens stop working.
func (p *IDP) RemoveUser(t testing.TB, subject string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, p.Issuer+"/admin/users/"+subject, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remove user %s: %v %v", subject, err, resp)
	}
	resp.Body.Close()
}
