package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
)

type listEventsInput struct {
	TenantPath
	After   int64  `query:"after" minimum:"0" doc:"Only events with ids above this: the last id you handled, to resume."`
	Kind    string `query:"kind" maxLength:"100" doc:"Only events of this kind; ending in '.', every kind under it (device.)."`
	Subject string `query:"subject" maxLength:"200" doc:"Only events about this subject (a device or command id)."`
	PageParams
}

type eventCursor struct {
	ID int64 `json:"i"`
}

func (a *API) eventRoutes() {
	register(a, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/events", Tags: []string{"Events"},
		Summary: "List a tenant's events",
		Description: "Everything that happened in the tenant, oldest first. Events are kept for the configured retention (30 days by default). " +
			"The audit log's events (audit.recorded) are listed for the tenant's admins only, as the audit log is.",
	}, viewer, func(ctx context.Context, in *listEventsInput) (*struct{ Body Page[events.Event] }, error) {
		cur := eventCursor{ID: in.After}
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		evs, err := a.d.Events.List(tenantContext(ctx), events.Filter{After: cur.ID, Kind: in.Kind, Subject: in.Subject,
			Admin: callerIsAdmin(ctx), Limit: in.Limit + 1})
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Page[events.Event] }{page(evs, in.Limit, func(e events.Event) any { return eventCursor{ID: e.ID} })}, nil
	})
}

type listAuditInput struct {
	TenantPath
	Actor  string    `query:"actor" maxLength:"200" doc:"Only entries by this subject."`
	Action string    `query:"action" maxLength:"100" doc:"Only entries of this operation id, for example update-tenant."`
	Target string    `query:"target" maxLength:"500" doc:"Only entries whose target path contains this, for example a device's id."`
	Since  time.Time `query:"since" doc:"Only entries at or after this time (RFC 3339)."`
	Until  time.Time `query:"until" doc:"Only entries before this time (RFC 3339)."`
	MSP    bool      `query:"msp" doc:"Only what the tenant's MSP did: through standing access, a grant or break-glass."`
	PageParams
}

func (a *API) auditRoutes() {
	register(a, huma.Operation{
		OperationID: "list-audit-entries", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/audit", Tags: []string{"Audit"},
		Summary:     "Read a tenant's audit log",
		Description: "Every state-changing API call in the tenant, newest first: who, what, when and the request id.",
	}, admin, func(ctx context.Context, in *listAuditInput) (*struct{ Body Page[Entry] }, error) {
		var cur eventCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		es, err := a.d.Audit.List(tenantContext(ctx), audit.Filter{Before: cur.ID, Actor: in.Actor, Action: in.Action,
			Target: in.Target, Since: in.Since, Until: in.Until, MSP: in.MSP, Limit: in.Limit + 1})
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Page[Entry] }{page(convert(es, entryOf), in.Limit, func(e Entry) any { return eventCursor{ID: e.ID} })}, nil
	})
	register(a, huma.Operation{
		OperationID: "export-audit-entries", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/audit/export", Tags: []string{"Audit"},
		Summary: "Export a tenant's audit log",
		Description: "The whole audit log (or what the filters keep), oldest first, as JSON Lines (an entry a line, as list-audit-entries has them) " +
			"or CSV (safe to open in a spreadsheet; details as JSON), streamed a page at a time. For a SIEM that follows the log as it grows, " +
			"stream-events carries each new entry as an audit.recorded event (admins only), resumable with Last-Event-ID. The export is itself recorded in the audit log.",
		Responses: map[string]*huma.Response{"200": {Description: "The entries.",
			Content: map[string]*huma.MediaType{"application/jsonl": {}, "text/csv": {}}}},
	}, admin, func(ctx context.Context, in *exportAuditInput) (*huma.StreamResponse, error) {
		c := callFrom(ctx)
		// A read, but of everything done in the tenant: recorded before it streams.
		if err := a.problem(ctx, a.rawAudited(ctx, true, func(context.Context) error { return nil })); err != nil {
			return nil, err
		}
		f := audit.Filter{Actor: in.Actor, Action: in.Action, Target: in.Target, Since: in.Since, Until: in.Until, MSP: in.MSP}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", map[string]string{audit.CSV: "text/csv; charset=utf-8", audit.JSONLines: "application/jsonl"}[in.Format])
			hctx.SetHeader("Content-Disposition", `attachment; filename="`+c.tenant.Slug+`-audit-`+time.Now().UTC().Format("2006-01-02")+`.`+in.Format+`"`)
			if err := a.d.Audit.Export(tenantContext(ctx), f, in.Format, hctx.BodyWriter()); err != nil {
				// The status is sent: the file is cut short.
				a.d.Log.ErrorContext(ctx, "audit export", "tenant", c.tenant.Slug, "err", err)
			}
		}}, nil
	})
}

type exportAuditInput struct {
	TenantPath
	Format string    `query:"format" enum:"jsonl,csv" default:"jsonl" doc:"jsonl (JSON Lines) or csv."`
	Actor  string    `query:"actor" maxLength:"200" doc:"Only entries by this subject."`
	Action string    `query:"action" maxLength:"100" doc:"Only entries of this operation id."`
	Target string    `query:"target" maxLength:"500" doc:"Only entries whose target path contains this."`
	Since  time.Time `query:"since" doc:"Only entries at or after this time (RFC 3339)."`
	Until  time.Time `query:"until" doc:"Only entries before this time (RFC 3339)."`
	MSP    bool      `query:"msp" doc:"Only what the tenant's MSP did: through standing access, a grant or break-glass."`
}

// callerIsAdmin reports whether the caller is an admin of the call's
// tenant: they read the events only admins do (events.Kind.AdminOnly).
func callerIsAdmin(ctx context.Context) bool {
	c := callFrom(ctx)
	if c.principal == nil {
		return false
	}
	return c.access.Role.AtLeast(identity.Admin)
}
