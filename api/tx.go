package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/idempotency"
	"github.com/tridentmdm/trident/services/identity"
)

// audited runs change, one or more service use cases, and the operation's
// audit entry in one tenant transaction (tenancy.DB.Within): the services
// join it, so the change and its entry commit together, or neither does.
// The error is mapped to an answer.
func (a *API) audited(ctx context.Context, change func(ctx context.Context) error) error {
	return a.problem(ctx, a.rawAudited(ctx, false, change))
}

// rawAudited is audited without mapping the error. Reads are recorded
// only when always (a read that reaches a vendor as the tenant, such as
// the ABM proxy's GETs).
func (a *API) rawAudited(ctx context.Context, always bool, change func(ctx context.Context) error) error {
	c := callFrom(ctx)
	return a.d.DB.Within(tenantContext(ctx), func(ctx context.Context) error {
		if err := change(ctx); err != nil {
			return err
		}
		if c.op == nil || (!always && (c.op.Method == http.MethodGet || c.op.Method == http.MethodHead)) {
			return nil
		}
		return a.record(ctx)
	})
}

// record writes the operation's audit entry in the transaction ctx is
// within, for a change that holds its transaction itself (a hostname's
// verification).
func (a *API) record(ctx context.Context) error {
	c := callFrom(ctx)
	status := c.op.DefaultStatus
	if status == 0 {
		status = http.StatusOK
	}
	via := string(c.access.Source)
	if via == "" && c.msp.ID != uuid.Nil {
		via = string(identity.FromMSP) // an MSP's operation on one of its tenants
	}
	return a.d.Audit.Record(ctx, audit.Entry{
		Actor: c.principal.Subject, ActorName: c.principal.Name, Action: c.op.OperationID,
		Target: c.path, RequestID: c.requestID, Status: status, Access: via, Grant: c.access.GrantID(),
	})
}

// read runs fn, one or more service reads, in one read-only tenant
// transaction on the reader (tenancy.DB.ReadWithin), for answers that
// tolerate replica lag. The error is mapped to an answer.
func (a *API) read(ctx context.Context, fn func(ctx context.Context) error) error {
	return a.problem(ctx, a.d.DB.ReadWithin(tenantContext(ctx), fn))
}

// IdempotencyKey is the header of POSTs that create. Keys are kept per
// tenant and per caller for a day (idempotency.TTL).
type IdempotencyKey struct {
	Key string `header:"Idempotency-Key" maxLength:"200" doc:"Any unique string (a UUID). Repeating the request with the same key answers the first answer again, with Idempotent-Replayed: true, instead of creating twice. Kept for 24 hours."`
}

// idempotent runs create, an audited change, at most once per key
// (idempotency.Do): a repeat answers the first answer with replayed set,
// and a key reused with a different request is refused. Without a key,
// create just runs.
func idempotent[O any](a *API, ctx context.Context, key string, request any, create func(ctx context.Context) (*O, error)) (out *O, replayed bool, err error) {
	if key == "" {
		err = a.audited(ctx, func(ctx context.Context) (err error) {
			out, err = create(ctx)
			return err
		})
		return out, false, err
	}
	c := callFrom(ctx)
	r := idempotency.Request{Caller: c.principal.Subject, Key: key, Operation: c.op.OperationID, Path: c.path, Body: request}
	err = a.rawAudited(ctx, false, func(ctx context.Context) (err error) {
		out, replayed, err = idempotency.Do(ctx, a.keys, r, create)
		if replayed {
			return errReplay // roll back the claim's transaction: nothing to record
		}
		return err
	})
	switch {
	case replayed:
		return out, true, nil
	case errors.Is(err, idempotency.ErrReused):
		return nil, false, huma.Error422UnprocessableEntity(idempotency.ErrReused.Message,
			&huma.ErrorDetail{Location: "header.Idempotency-Key", Message: "use a new key for a new request", Value: key})
	}
	return out, false, a.problem(ctx, err)
}

// errReplay rolls back the transaction of a repeated request.
var errReplay = errors.New("replay")

// readValue is read for a use case that answers with one value.
func readValue[T any](a *API, ctx context.Context, fn func(ctx context.Context) (T, error)) (T, error) {
	var out T
	err := a.read(ctx, func(ctx context.Context) (err error) {
		out, err = fn(ctx)
		return err
	})
	return out, err
}
