package tenancy_test

import (
	"strings"
	"testing"

	"github.com/tridentmdm/trident/tenancy"
)

// The Host header is the first thing a device sends that Trident parses.
// Whatever it holds, NormalizeHost either refuses it or returns a name that
// is lower case, DNS-shaped, and a fixed point.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"demo.localhost:8080", "EnterpriseEnrollment.Example.COM.", "[::1]:443",
		"a..b", "-x.example", "x_y.example", "ü.example", "", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		h, err := tenancy.NormalizeHost(host)
		if err != nil {
			return
		}
		if h == "" || len(h) > 253 || strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
			t.Fatalf("NormalizeHost(%q) = %q: not a lower-case DNS name", host, h)
		}
		if again, err := tenancy.NormalizeHost(h); err != nil || again != h {
			t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q, %v", host, h, h, again, err)
		}
	})
}
