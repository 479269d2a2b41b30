package egress_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/egress"
)

// The addresses the outside security test dialled, and the registries'
// other special blocks, are refused; public ones are not.
func TestRefused(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
		"198.18.0.1", "198.19.255.254", "192.0.0.170", "192.0.2.1", "203.0.113.9", "240.0.0.1", "255.255.255.255", "224.0.0.1",
		"::1", "::", "fe80::1", "fd00::1", "fc00::1", "ff02::1", "2001:db8::1", "100::1",
		"::ffff:169.254.169.254", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b:1::1",
		"2002:a9fe:a9fe::1", "2002:7f00:1::1",
	} {
		if egress.Refused(netip.MustParseAddr(s)) == "" {
			t.Errorf("%s is let through", s)
		}
	}
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"} {
		if why := egress.Refused(netip.MustParseAddr(s)); why != "" {
			t.Errorf("%s is refused: %s", s, why)
		}
	}
}

func TestCheckURL(t *testing.T) {
	p := egress.Policy{}
	for _, u := range []string{"http://example.com/", "https://127.0.0.1/", "https://[::1]/", "https://169.254.169.254/latest",
		"https://user:pw@example.com/", "ftp://example.com/", "/relative", "https://[64:ff9b::a9fe:a9fe]/"} {
		if err := p.CheckURL(u); !errors.Is(err, egress.ErrRefused) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := p.CheckURL("https://login.example.com/realms/x"); err != nil {
		t.Error(err)
	}
	if err := (egress.Policy{AllowPrivate: true}).CheckURL("http://127.0.0.1:8081/"); err != nil {
		t.Errorf("dev: %v", err)
	}
}

// A name is checked when dialled, and so is every redirect: a server the
// policy lets through (here, 127.0.0.2 standing in for the internet) that
// redirects to the loopback's 127.0.0.1 is refused there, and 127.0.0.1 is
// never reached. Answers larger than MaxBody fail.
func TestDialsAndRedirects(t *testing.T) {
	internal := 0
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internal++
		io.WriteString(w, "INTERNAL-ONLY-SECRET")
	}))
	defer inside.Close()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2 on this machine:", err)
	}
	outside := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, inside.URL+"/", http.StatusFound)
		case "/big":
			io.WriteString(w, strings.Repeat("x", 2048))
		default:
			io.WriteString(w, "ok")
		}
	}))
	outside.Listener.Close()
	outside.Listener = ln
	outside.Start()
	defer outside.Close()

	c := egress.Policy{AllowPrivate: false, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, MaxBody: 1024, Redirects: 3}.Client()
	if _, err := c.Get(inside.URL); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("the loopback: %v", err)
	}
	resp, err := c.Get(outside.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := c.Get(outside.URL + "/redirect"); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("a redirect inward: %v", err)
	}
	resp, err = c.Get(outside.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, egress.ErrTooLarge) {
		t.Fatalf("an answer over the bound: %v", err)
	}
	if internal != 0 {
		t.Fatalf("the internal server was reached %d times", internal)
	}
}
