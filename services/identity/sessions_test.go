package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/identity"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A session lasts until it expires or ends: its token then names nothing,
// whatever copy of the cookie holds it; EndAll ends a person's every one.
func TestSessions(t *testing.T) {
	db := testenv.DB(t)
	key, _, _ := seal.NewRandomKey()
	s := identity.NewSessions(db, seal.NewKeyring(key))
	ctx := context.Background()
	start := func(subject string) string {
		tok, err := s.Start(ctx, subject, []byte(`{"sub":"`+subject+`"}`), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	gone := func(what, tok string) {
		t.Helper()
		if _, err := s.Get(ctx, tok); !errors.Is(err, identity.ErrNoSession) {
			t.Errorf("%s: %v; want ErrNoSession", what, err)
		}
	}
	a := start("ana")
	if b, err := s.Get(ctx, a); err != nil || string(b) != `{"sub":"ana"}` {
		t.Fatalf("a current session: %q %v", b, err)
	}
	gone("an unknown token", "x"+a)
	if _, err := db.Writer().Exec(ctx, `UPDATE dashboard_sessions SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	gone("an expired session", a)
	b := start("ana")
	if err := s.End(ctx, b); err != nil {
		t.Fatal(err)
	}
	gone("an ended session", b)
	c, d, other := start("ana"), start("ana"), start("eve")
	if n, err := s.EndAll(ctx, "ana"); err != nil || n != 2 {
		t.Fatalf("EndAll: %d %v; want 2", n, err)
	}
	gone("ana's first", c)
	gone("ana's second", d)
	if _, err := s.Get(ctx, other); err != nil {
		t.Fatalf("another person's session: %v", err)
	}
}
