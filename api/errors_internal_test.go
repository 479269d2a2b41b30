package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// The API maps every fault code, and nothing else, to a status other
// than 500: one mapping, by code, for every service's errors.
func TestProblemMapsEveryCode(t *testing.T) {
	a := &API{d: Deps{Log: slog.New(slog.DiscardHandler)}}
	status := func(err error) int {
		var se huma.StatusError
		if !errors.As(a.problem(context.Background(), err), &se) {
			t.Fatalf("%v: not a status", err)
		}
		return se.GetStatus()
	}
	for _, c := range fault.Codes {
		if got := status(fmt.Errorf("wrapped: %w", fault.New(c, "x"))); got == http.StatusInternalServerError {
			t.Errorf("code %s answers 500", c)
		}
	}
	cases := []struct {
		err  error
		want int
	}{
		{errors.New("pgx: connection refused"), 500},
		{fmt.Errorf("tenant x: %w", tenancy.ErrNotFound), 404},
		{tenancy.ErrStale, 412},
		{fault.Join(fault.InvalidField("name", "empty"), fault.InvalidField("kind", "unknown")), 422},
		{commands.Authorize(identity.Operator, "erase", nil), 403},
		{commands.ErrNoJobs, 501},
		{android.ErrNotBound, 409},
		{&android.GoogleError{Code: 403, Message: "no"}, 502},
		{&android.GoogleError{Code: 429, Message: "slow down", RetryAfter: 3 * time.Second}, 503},
		// An Apple failure that needs the admin in ABM is a conflict, in
		// the API and (now) in the dashboard alike; Apple's own refusal is
		// a bad gateway.
		{&dep.AppleError{Status: dep.TermsNotSigned, Message: "sign the terms"}, 409},
		{&dep.AppleError{Message: "Apple answered 500"}, 502},
	}
	for _, c := range cases {
		if got := status(c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
	// Every wrong field is a detail, located in the query when the
	// operation has a query parameter of its name, else in the body.
	listing := context.WithValue(context.Background(), callKey{}, &call{op: &huma.Operation{
		Parameters: []*huma.Param{{Name: "sort", In: "query"}}}})
	var se *huma.ErrorModel
	errors.As(a.problem(listing, fault.Join(fault.InvalidField("name", "empty"), fault.InvalidField("sort", "unknown"))), &se)
	if len(se.Errors) != 2 || se.Errors[0].Location != "body.name" || se.Errors[1].Location != "query.sort" {
		t.Errorf("details: %+v", se.Errors)
	}
	errors.As(a.problem(context.Background(), fault.InvalidField("sort", "unknown")), &se)
	if len(se.Errors) != 1 || se.Errors[0].Location != "body.sort" {
		t.Errorf("a body's field named like a query parameter elsewhere: %+v", se.Errors)
	}
	// Google's quota says when to come back.
	var hs huma.HeadersError
	if !errors.As(a.problem(context.Background(), &android.GoogleError{Code: 429, RetryAfter: 3 * time.Second}), &hs) || hs.GetHeaders().Get("Retry-After") != "3" {
		t.Error("a quota answer without Retry-After")
	}
}
