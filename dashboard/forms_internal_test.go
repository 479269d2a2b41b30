package dashboard

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/tenancy"
)

// The dashboard maps every fault code, and nothing else, to a message
// of its own status; the same errors get the API's statuses.
func TestProblemMapsEveryCode(t *testing.T) {
	d := &Dashboard{log: slog.New(slog.DiscardHandler)}
	r := httptest.NewRequest("POST", "/dashboard/t/x", nil)
	for _, c := range fault.Codes {
		code, msg := d.problem(r, fault.New(c, "the reason"))
		own := c == fault.NotFound || c == fault.Stale // the dashboard says these its own way
		if code == http.StatusInternalServerError || msg == "" || !own && !strings.Contains(msg, "The reason") {
			t.Errorf("code %s: %d %q", c, code, msg)
		}
	}
	cases := []struct {
		err  error
		want int
	}{
		{errors.New("pgx: connection refused"), 500},
		{fmt.Errorf("group: %w", tenancy.ErrNotFound), 404},
		{tenancy.ErrStale, 409},
		{android.ErrNotBound, 409},
		{&android.GoogleError{Code: 403, Message: "no"}, 502},
		// The dashboard answered 502 for every Apple failure while the
		// API answered 409 for those an admin fixes in ABM; both do now.
		{&dep.AppleError{Status: dep.TermsNotSigned, Message: "sign the terms"}, 409},
		{&dep.AppleError{Message: "Apple answered 500"}, 502},
		{&UserError{Status: 413, Message: "too large"}, 413},
	}
	for _, c := range cases {
		if got, msg := d.problem(r, c.err); got != c.want {
			t.Errorf("%v: %d %q, want %d", c.err, got, msg, c.want)
		}
	}
	if _, msg := d.problem(r, errors.New("pgx: password=hunter2")); strings.Contains(msg, "hunter2") {
		t.Error("an unexpected error's text reached the page")
	}
}
