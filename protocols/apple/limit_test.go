package apple_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
)

// A tenant at its device limit refuses a new Apple device's first
// check-in with 403, keeping nothing of it; the enrolled device checks in
// as before.
func TestCheckinPastTheDeviceLimit(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	one := 1
	if _, err := e.inv.SetDeviceLimit(e.ctx(e.a), e.a, &one); err != nil {
		t.Fatal(err)
	}
	first := e.enroll(t, e.a)
	if err := first.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	second := e.enroll(t, e.a)
	var herr *devicesim.HTTPError
	// (nanomdm answers a status with its text only; Apple devices show
	// none of a body anyway.)
	if err := second.Authenticate(ctx); !errors.As(err, &herr) || herr.Status != http.StatusForbidden {
		t.Fatalf("the second device's Authenticate: %v; want 403", err)
	}
	var n int
	actx := e.ctx(e.a)
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		return tx.QueryRow(actx, `SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM apple_devices)`).Scan(&n)
	}); err != nil || n != 2 {
		t.Fatalf("the tenant holds %d device rows (%v); want the first device's two", n, err)
	}
	if err := first.TokenUpdate(ctx); err != nil {
		t.Errorf("the enrolled device: %v", err)
	}
}
