package clientip_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/tridentmdm/trident/internal/clientip"
)

func TestFrom(t *testing.T) {
	lb, err := clientip.Parse("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		proxies    clientip.Proxies
		want       string
	}{
		{"no proxies: the peer, whatever the header says", "203.0.113.5:4000", []string{"198.51.100.1"}, nil, "203.0.113.5"},
		{"an untrusted peer's header is ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, lb, "203.0.113.5"},
		{"through the load balancer", "10.1.2.3:4000", []string{"198.51.100.1"}, lb, "198.51.100.1"},
		{"a client's own entry left of the real one is not believed", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.1"}, lb, "198.51.100.1"},
		{"two proxies of ours", "10.1.2.3:4000", []string{"198.51.100.1, 192.0.2.7"}, lb, "198.51.100.1"},
		{"headers repeated", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.1"}, lb, "198.51.100.1"},
		{"a malformed entry stops the walk", "10.1.2.3:4000", []string{"198.51.100.1, not-an-ip"}, lb, "10.1.2.3"},
		{"only proxies", "10.1.2.3:4000", []string{"10.9.9.9"}, lb, "10.9.9.9"},
		{"no header", "10.1.2.3:4000", nil, lb, "10.1.2.3"},
		{"IPv6", "[2001:db8::1]:443", nil, lb, "2001:db8::1"},
		{"IPv4 in IPv6", "[::ffff:203.0.113.9]:443", nil, nil, "203.0.113.9"},
	} {
		r := httptest.NewRequest("GET", "/mdm", nil)
		r.RemoteAddr = c.peer
		for _, h := range c.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := c.proxies.From(r); got != netip.MustParseAddr(c.want) {
			t.Errorf("%s: %v, want %s", c.name, got, c.want)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "pipe"
	if got := lb.From(r); got.IsValid() {
		t.Errorf("a peer that is no address: %v", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0"} {
		if _, err := clientip.Parse(bad); err == nil {
			t.Errorf("Parse(%q) took it", bad)
		}
	}
}

// What a device (or anyone in front of the proxy) writes in the header
// never panics, and never yields a trusted proxy's address when a
// client's could be found instead.
func FuzzFrom(f *testing.F) {
	f.Add("10.1.2.3:4000", "198.51.100.1")
	f.Add("10.1.2.3:4000", "6.6.6.6, 198.51.100.1, 10.9.9.9")
	f.Add("[2001:db8::1]:443", ",,,")
	f.Add("10.1.2.3:4000", "::ffff:10.0.0.1, zz")
	lb, _ := clientip.Parse("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		_ = lb.From(r)
		_ = clientip.Proxies(nil).From(r)
	})
}
