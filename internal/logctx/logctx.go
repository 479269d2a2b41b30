// Package logctx puts who and what a request is about on every log line:
// the request's id, the caller and the tenant ride in the context, and
// Handler adds them to each record logged with that context (the
// *Context methods of log/slog). The keys are always these: tenant, msp,
// request_id, caller.
package logctx

import (
	"context"
	"log/slog"
	"slices"

	"github.com/tridentmdm/trident/tenancy"
)

type requestIDKey struct{}
type callerKey struct{}
type mspKey struct{}

// WithMSP notes the MSP (its slug) the request is about in ctx: the
// tenant's MSP, or the MSP of an MSP-wide operation.
func WithMSP(ctx context.Context, slug string) context.Context {
	return context.WithValue(ctx, mspKey{}, slug)
}

// MSP is the MSP noted in ctx, or "".
func MSP(ctx context.Context) string {
	s, _ := ctx.Value(mspKey{}).(string)
	return s
}

// WithRequestID notes the request's id in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request's id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithCaller notes who is calling (a token's subject) in ctx.
func WithCaller(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, callerKey{}, subject)
}

// Caller is the caller noted in ctx, or "".
func Caller(ctx context.Context) string {
	s, _ := ctx.Value(callerKey{}).(string)
	return s
}

// Handler adds tenant, msp, request_id and caller from the context to
// every record that does not carry them already.
type Handler struct{ slog.Handler }

// New wraps h.
func New(h slog.Handler) Handler { return Handler{h} }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, r)
	}
	var add []slog.Attr
	if id, ok := tenancy.FromContext(ctx); ok {
		add = append(add, slog.String("tenant", id.String()))
	}
	if m := MSP(ctx); m != "" {
		add = append(add, slog.String("msp", m))
	}
	if id := RequestID(ctx); id != "" {
		add = append(add, slog.String("request_id", id))
	}
	if c := Caller(ctx); c != "" {
		add = append(add, slog.String("caller", c))
	}
	if len(add) == 0 {
		return h.Handler.Handle(ctx, r) // most lines: nothing to add, nothing to look at
	}
	// A record that names one of them itself keeps its own.
	r.Attrs(func(a slog.Attr) bool {
		add = slices.DeleteFunc(add, func(b slog.Attr) bool { return b.Key == a.Key })
		return len(add) > 0
	})
	r.AddAttrs(add...)
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(as []slog.Attr) slog.Handler { return Handler{h.Handler.WithAttrs(as)} }

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler { return Handler{h.Handler.WithGroup(name)} }
