package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/internal/fault"
)

// problem maps a service error to the API's answer: the one place where
// faults become HTTP statuses, by their code. Errors without a fault are
// unexpected: they are logged with the request id and answered without
// their text.
func (a *API) problem(ctx context.Context, err error) error {
	var se huma.StatusError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "request canceled")
	}
	f, ok := fault.As(err)
	if !ok {
		f = &fault.Error{} // no code: unexpected, logged below
	}
	switch f.Code {
	case fault.Invalid:
		return invalidFields(err, f, callFrom(ctx).op)
	case fault.NotFound:
		return huma.Error404NotFound(err.Error())
	case fault.Conflict:
		return huma.Error409Conflict(err.Error(), details(f, callFrom(ctx).op)...)
	case fault.Stale:
		return huma.Error412PreconditionFailed("the resource changed since the ETag in If-Match was read; read it again")
	case fault.Forbidden:
		return huma.Error403Forbidden(err.Error())
	case fault.Upstream:
		return huma.Error502BadGateway(f.Message)
	case fault.Unavailable:
		out := huma.Error503ServiceUnavailable(f.Message)
		if f.RetryAfter > 0 {
			return huma.ErrorWithHeaders(out, http.Header{"Retry-After": {strconv.Itoa(int(f.RetryAfter.Round(time.Second) / time.Second))}})
		}
		return out
	case fault.Unsupported:
		return huma.Error501NotImplemented(f.Message)
	}
	a.d.Log.ErrorContext(ctx, "API call failed", "request_id", RequestID(ctx), "path", callFrom(ctx).path, "err", err)
	return huma.Error500InternalServerError("internal error; quote request id " + RequestID(ctx) + " to the operator")
}

// invalidFields is the 422 for invalid input, with one detail per wrong
// field.
func invalidFields(err error, f *fault.Error, op *huma.Operation) error {
	if len(f.Fields) == 0 {
		return huma.Error422UnprocessableEntity(err.Error())
	}
	return huma.Error422UnprocessableEntity("invalid "+f.Fields[0].Name, details(f, op)...)
}

// details are a fault's fields as problem details. A field the
// operation has as a query parameter is named as one (a cursor, a sort);
// everything else is the body.
func details(f *fault.Error, op *huma.Operation) []error {
	out := make([]error, len(f.Fields))
	for i, fl := range f.Fields {
		loc := "body." + fl.Name
		if inQuery(op, fl.Name) {
			loc = "query." + fl.Name
		}
		out[i] = &huma.ErrorDetail{Location: loc, Message: fl.Problem}
	}
	return out
}

// inQuery reports whether op takes name as a query parameter.
func inQuery(op *huma.Operation, name string) bool {
	if op == nil {
		return false
	}
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == name {
			return true
		}
	}
	return false
}

// writeErr answers err from a middleware.
func (a *API) writeErr(ctx huma.Context, err error) {
	var se huma.StatusError
	if !errors.As(a.problem(ctx.Context(), err), &se) {
		se = huma.Error500InternalServerError("internal error")
	}
	huma.WriteErr(a.huma, ctx, se.GetStatus(), se.Error())
}

// writeProblem writes err, mapped as problem maps it, from inside an
// answer the operation streams (where huma's own error path is past).
func (a *API) writeProblem(ctx context.Context, hctx huma.Context, err error) {
	var em *huma.ErrorModel
	if !errors.As(a.problem(ctx, err), &em) {
		huma.WriteErr(a.huma, hctx, http.StatusInternalServerError, "internal error; quote request id "+RequestID(ctx)+" to the operator")
		return
	}
	details := make([]error, len(em.Errors))
	for i, d := range em.Errors {
		details[i] = d
	}
	huma.WriteErr(a.huma, hctx, em.Status, em.Detail, details...)
}
