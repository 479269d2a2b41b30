package api

import (
	"context"
	"errors"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// problem maps a service error to the API's answer: the one place where
// service errors become HTTP statuses. Unexpected errors are logged with the
// request id and answered without their text.
func (a *API) problem(ctx context.Context, err error) error {
	var se huma.StatusError
	var verr *tenancy.ValidationError
	var everr *events.ValidationError
	var iverr *inventory.ValidationError
	var cverr *commands.ValidationError
	var cerr *ClientError
	var coverr *compliance.ValidationError
	var enverr *enrollment.ValidationError
	switch {
	case errors.As(err, &cerr):
		return huma.NewError(cerr.Status, cerr.Message)
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.As(err, &verr):
		return invalidField(verr.Field, verr.Problem)
	case errors.As(err, &everr):
		return invalidField(everr.Field, everr.Problem)
	case errors.As(err, &iverr):
		return invalidField(iverr.Field, iverr.Problem)
	case errors.As(err, &cverr):
		return invalidField(cverr.Field, cverr.Problem)
	case errors.As(err, &coverr):
		return invalidField(coverr.Field, coverr.Problem)
	case errors.As(err, &enverr):
		return invalidField(enverr.Field, enverr.Problem)
	case errors.Is(err, tenancy.ErrNotFound), errors.Is(err, events.ErrNotFound), errors.Is(err, inventory.ErrNotFound),
		errors.Is(err, commands.ErrNotFound), errors.Is(err, compliance.ErrNotFound), errors.Is(err, enrollment.ErrNoFederation):
		return huma.Error404NotFound(err.Error())
	case errors.Is(err, tenancy.ErrStale), errors.Is(err, events.ErrStale):
		return huma.Error412PreconditionFailed("the resource changed since the ETag in If-Match was read; read it again")
	case errors.Is(err, tenancy.ErrConflict), errors.Is(err, commands.ErrConflict), errors.Is(err, inventory.ErrConflict):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, commands.ErrForbidden):
		return huma.Error403Forbidden(err.Error())
	case errors.Is(err, commands.ErrNoJobs):
		return huma.Error501NotImplemented("background jobs are not configured on this server")
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "request canceled")
	}
	a.d.Log.ErrorContext(ctx, "API call failed", "request_id", RequestID(ctx), "path", callFrom(ctx).path, "err", err)
	return huma.Error500InternalServerError("internal error; quote request id " + RequestID(ctx) + " to the operator")
}

// invalidField is the 422 for a service's validation error. Query
// parameters and cursors are named as such; everything else is the body.
func invalidField(field, problem string) error {
	loc := "body." + field
	switch field {
	case "cursor", "sort", "platform", "status":
		loc = "query." + field
	}
	return huma.Error422UnprocessableEntity("invalid "+field, &huma.ErrorDetail{Location: loc, Message: problem})
}

// writeErr answers err from a middleware.
func (a *API) writeErr(ctx huma.Context, err error) {
	var se huma.StatusError
	if !errors.As(a.problem(ctx.Context(), err), &se) {
		se = huma.Error500InternalServerError("internal error")
	}
	huma.WriteErr(a.huma, ctx, se.GetStatus(), se.Error())
}
