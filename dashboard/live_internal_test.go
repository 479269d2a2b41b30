package dashboard

import (
	"testing"

	"github.com/google/uuid"
)

// The render cache hands every stream of an event the same entry, keeps
// tenants apart, and forgets the oldest events past renderKeep.
func TestRenderCache(t *testing.T) {
	var c renderCache
	a, b := uuid.New(), uuid.New()
	first := c.entry(a, 1, "")
	if c.entry(a, 1, "") != first {
		t.Error("a second stream of the same event got another entry")
	}
	if c.entry(b, 1, "") == first {
		t.Error("another tenant's event of the same id shares the entry")
	}
	for i := range int64(renderKeep) {
		c.entry(a, 100+i, "")
	}
	if len(c.entries) != renderKeep || len(c.order) != renderKeep {
		t.Errorf("%d entries, %d in order; want %d", len(c.entries), len(c.order), renderKeep)
	}
	if c.entry(a, 1, "") == first {
		t.Error("the oldest event was not forgotten")
	}
}

// The sign-in's return parameter, as the outside security test tried it
// (/dashboard/../\evil.com ended at Location: /\evil.com, which browsers
// read as //evil.com), and its cousins: only the dashboard's own paths.
func TestLocalReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/dashboard/t/acme/devices?q=x": "/dashboard/t/acme/devices?q=x",
		"/dashboard/":                   "/dashboard/",
		"/dashboard/t/acme/":            "/dashboard/t/acme/",
		`/dashboard/../\evil.com`:       "/dashboard/",
		"/dashboard/..//evil.com":       "/dashboard/",
		"/dashboard/../../evil.com":     "/dashboard/",
		"//evil.com/dashboard/":         "/dashboard/",
		"https://evil.com/dashboard/":   "/dashboard/",
		"/dashboard/%2e%2e/x":           "/dashboard/",
		"/dashboard/\tx":                "/dashboard/",
		"/dashboard/\x00":               "/dashboard/",
		"javascript:alert(1)":           "/dashboard/",
		"":                              "/dashboard/",
		"/elsewhere":                    "/dashboard/",
	} {
		if got := localReturn(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
