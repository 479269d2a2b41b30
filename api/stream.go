package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"github.com/tridentmdm/trident/services/events"
)

type streamInput struct {
	TenantPath
	LastEventID int64 `header:"Last-Event-ID" minimum:"0" doc:"Resume after this event: browsers send it when they reconnect."`
	After       int64 `query:"after" minimum:"0" doc:"Resume after this event id (for clients that cannot set Last-Event-ID)."`
}

// Ping is sent when the stream opens and every 20 seconds while nothing
// happens, to keep proxies from closing an idle stream.
type Ping struct {
	At time.Time `json:"at"`
}

// heartbeat is how often an idle stream pings, by default
// (Limits.Heartbeat).
const heartbeat = 20 * time.Second

func (a *API) streamRoutes() {
	registerStream(a, huma.Operation{
		OperationID: "stream-events", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/events/stream", Tags: []string{"Events"},
		Summary: "Follow a tenant's events live",
		Description: "A server-sent events stream of the tenant's events as they happen (each `event` message's id is the " +
			"event's), with `ping` messages while idle. On reconnect, Last-Event-ID (or `after`) replays what was missed. " +
			"A reader too slow to keep up is disconnected and resumes the same way. The audit log's events (audit.recorded) reach the tenant's admins only. A caller holds at most 10 streams open at once by default (the operator sets it; 429 above).",
		Errors:      []int{http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{a.oneOfCallersStreams},
	}, viewer, map[string]any{"event": events.Event{}, "ping": Ping{}}, func(ctx context.Context, in *streamInput, send sse.Sender) {
		if a.d.Bus == nil {
			return
		}
		after := max(in.LastEventID, in.After)
		admin := callerIsAdmin(ctx)
		c := callFrom(ctx)
		sub, err := a.d.Bus.Subscribe(tenantContext(ctx), after)
		if err != nil {
			a.d.Log.ErrorContext(ctx, "event stream", "err", err)
			return
		}
		defer sub.Close()
		// A first ping sends the answer's headers at once: the client
		// knows it is connected (and subscribed) before anything happens.
		if send(sse.Message{Data: Ping{At: time.Now().UTC()}}) != nil {
			return
		}
		tick := time.NewTicker(cmp.Or(a.d.Limits.Heartbeat, heartbeat))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// An MSP's access or a grant that ended ends the stream
				// within a heartbeat.
				if ok, err := a.d.Grants.Holds(ctx, c.principal, c.tenant, c.access); !ok {
					a.d.Log.InfoContext(ctx, "event stream ended: the caller's access ended", "err", err)
					return
				}
				if send(sse.Message{Data: Ping{At: time.Now().UTC()}}) != nil {
					return
				}
			case ev, ok := <-sub.C():
				if !ok {
					if err := sub.Err(); err != nil && !errors.Is(err, context.Canceled) {
						a.d.Log.InfoContext(ctx, "event stream ended", "err", err)
					}
					return
				}
				if !admin && events.AdminOnly(ev.Kind) {
					continue
				}
				if send(sse.Message{ID: int(ev.ID), Data: ev}) != nil {
					return
				}
			}
		}
	})
}

// oneOfCallersStreams holds one of the caller's open streams for the
// stream's life, or answers 429 when the caller holds them all.
func (a *API) oneOfCallersStreams(ctx huma.Context, next func(huma.Context)) {
	c := callFrom(ctx.Context())
	if c == nil || c.principal == nil {
		next(ctx) // refused as unauthenticated next
		return
	}
	release, ok := a.streams.Acquire(c.principal.Subject)
	if !ok {
		ctx.SetHeader("Retry-After", "30")
		huma.WriteErr(a.huma, ctx, http.StatusTooManyRequests,
			"this caller holds as many live streams open as it may; close one first")
		return
	}
	defer release()
	next(ctx)
}
