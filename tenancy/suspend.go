package tenancy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
)

// A suspended tenant keeps its data and its devices: they check in and
// report as before, and get no new work (services/commands holds their
// commands). People may read it and change nothing in it until its MSP
// resumes it; no new device enrolls.

// Writable is nil for an active tenant and, for a suspended one, the
// conflict that refuses a person's change to it.
func (t Tenant) Writable() error {
	if t.Status == Suspended {
		return fault.New(fault.Conflict, "the tenant %q is suspended: it is read-only until its MSP resumes it", t.Slug)
	}
	return nil
}

// SuspendedTx reports whether the tenant tx is scoped to is suspended.
func SuspendedTx(ctx context.Context, tx pgx.Tx) (bool, error) {
	var suspended bool
	err := tx.QueryRow(ctx, `SELECT status = 'suspended' FROM tenants WHERE id = current_tenant()`).Scan(&suspended)
	if err != nil {
		return false, fmt.Errorf("tenancy: is the tenant suspended: %w", err)
	}
	return suspended, nil
}

type resolvedKey struct{}

// Resolved is the tenant the request's Host named, as Resolver.Middleware
// found it.
func Resolved(ctx context.Context) (Tenant, bool) {
	t, ok := ctx.Value(resolvedKey{}).(Tenant)
	return t, ok
}

// Enrolling wraps what enrolls new devices: a suspended tenant's answer
// is 403 (its enrolled devices are served as before).
func Enrolling(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := Resolved(r.Context()); ok && t.Status == Suspended {
			http.Error(w, "this tenant is suspended: it enrolls no new devices", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
