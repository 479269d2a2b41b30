package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tridentmdm/trident/internal/fault"
)

func TestCodeThroughWrapping(t *testing.T) {
	sentinel := fault.New(fault.NotFound, "not found")
	err := fmt.Errorf("webhook %s: %w", "x", sentinel)
	if fault.Of(err) != fault.NotFound || !errors.Is(err, sentinel) || err.Error() != "webhook x: not found" {
		t.Fatalf("wrapped sentinel: %q %q", fault.Of(err), err)
	}
	if fault.Of(errors.New("boom")) != "" || fault.Is(nil, fault.NotFound) {
		t.Fatal("an error without a fault has a code")
	}
	cause := errors.New("pgx: closed")
	w := fault.Wrap(fault.Unavailable, cause, "the store is unavailable")
	if !errors.Is(w, cause) || w.Error() != "the store is unavailable" {
		t.Fatalf("Wrap: %v", w)
	}
}

func TestJoinListsEveryField(t *testing.T) {
	err := fault.Join(nil, fault.InvalidField("name", "must be 1 to 200 characters"), fault.InvalidField("kind", `"x" is not a rule kind`))
	f, ok := fault.As(err)
	if !ok || f.Code != fault.Invalid || len(f.Fields) != 2 || f.Fields[1].Name != "kind" ||
		err.Error() != `invalid name: must be 1 to 200 characters; invalid kind: "x" is not a rule kind` {
		t.Fatalf("Join: %#v", err)
	}
	if fault.Join(nil, nil) != nil {
		t.Fatal("Join of nothing is not nil")
	}
	// A real failure among validation errors is not hidden behind them.
	boom := errors.New("boom")
	if err := fault.Join(fault.InvalidField("name", "x"), boom); !errors.Is(err, boom) {
		t.Fatalf("Join hid a failure: %v", err)
	}
}

// A richer error type presents itself as a fault with an As method.
type quota struct{}

func (quota) Error() string { return "quota" }
func (q quota) As(target any) bool {
	if p, ok := target.(**fault.Error); ok {
		*p = &fault.Error{Code: fault.Unavailable, Message: "try later", Err: q}
		return true
	}
	return false
}

func TestTypesPresentAsFaults(t *testing.T) {
	err := fmt.Errorf("call: %w", quota{})
	if f, ok := fault.As(err); !ok || f.Code != fault.Unavailable || !errors.As(f, new(quota)) {
		t.Fatalf("As: %v %v", f, ok)
	}
}
