package tenancy

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

type ctxKey struct{}

// ErrNoTenant is returned by Tx when the context carries no tenant: a bug at
// an edge that forgot to put one there, never a reason to fall back to a
// default.
var ErrNoTenant = errors.New("tenancy: no tenant in context")

// ErrNoMSP is MSPReadTx asked for no MSP.
var ErrNoMSP = errors.New("tenancy: no MSP")

// WithTenant returns ctx carrying tenant id. Only the edges call it: the
// Host middleware, the API's path middleware, the job wrapper.
func WithTenant(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the tenant ctx carries.
func FromContext(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(ctxKey{}).(uuid.UUID)
	return id, ok && id != uuid.Nil
}

// Require returns the tenant ctx carries, or ErrNoTenant: what a service
// calls before it names the tenant outside a transaction (a job's
// arguments, a vendor's account name), where RLS cannot catch the bug.
func Require(ctx context.Context) (uuid.UUID, error) {
	if id, ok := FromContext(ctx); ok {
		return id, nil
	}
	return uuid.Nil, ErrNoTenant
}
