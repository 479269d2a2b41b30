package events

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tridentmdm/trident/internal/egress"
)

func TestWebhooksReachOnlyPublicAddresses(t *testing.T) {
	for addr, public := range map[string]bool{
		"127.0.0.1:443": false, "[::1]:443": false, "10.1.2.3:443": false, "172.16.0.1:443": false,
		"192.168.1.1:443": false, "169.254.169.254:80": false, "100.64.0.1:443": false, "0.0.0.0:443": false,
		"[fe80::1]:443": false, "[fd00::1]:443": false, "[::ffff:127.0.0.1]:443": false,
		"93.184.216.34:443": true, "[2606:2800:220:1::1]:443": true,
	} {
		why := egress.Refused(netip.MustParseAddrPort(addr).Addr())
		if (why == "") != public {
			t.Errorf("%s: %q, want public=%v", addr, why, public)
		}
	}
}

func TestSignature(t *testing.T) {
	// VerifySignature is tested against real deliveries in the API's
	// tests; here, the edges: tampering, age and malformed headers.
	now := time.Now()
	body := []byte(`{"x":1}`)
	h := Sign("whsec_a", now, body)
	if err := VerifySignature("whsec_a", h, body, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		header string
		body   []byte
	}{
		"tampered body": {h, []byte(`{"x":2}`)},
		"old":           {Sign("whsec_a", now.Add(-2*time.Minute), body), body},
		"malformed":     {"v1=abc", body},
		"empty":         {"", body},
	} {
		if err := VerifySignature("whsec_a", c.header, c.body, time.Minute, now); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}
