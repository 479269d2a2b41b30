package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListenerName is the application_name of the listener's connection, so
// operators (and tests) can find it in pg_stat_activity.
const ListenerName = "trident-events-listener"

// Handler receives one channel's notifications. OnConnect runs after every
// (re)connect, once LISTEN is in place, so a handler can catch up on what it
// may have missed while disconnected.
type Handler struct {
	Notify    func(payload string)
	OnConnect func()
}

// Listener holds one dedicated connection that LISTENs on a set of
// channels, reconnecting with exponential backoff (with jitter) when it is
// lost. Handlers run on the listener's goroutine and must not block.
type Listener struct {
	cfg      *pgx.ConnConfig
	handlers map[string]Handler
	log      *slog.Logger

	MinBackoff, MaxBackoff time.Duration
}

// NewListener returns a listener that connects with cfg (copied; its
// application_name is set to ListenerName).
func NewListener(cfg *pgx.ConnConfig, log *slog.Logger) *Listener {
	cfg = cfg.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName
	return &Listener{cfg: cfg, handlers: map[string]Handler{}, log: log,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 30 * time.Second}
}

// Handle registers h for channel. Call it before Run.
func (l *Listener) Handle(channel string, h Handler) { l.handlers[channel] = h }

// Run listens until ctx ends.
func (l *Listener) Run(ctx context.Context) error {
	backoff := l.MinBackoff
	for {
		err := l.session(ctx, func() { backoff = l.MinBackoff })
		if ctx.Err() != nil {
			return nil
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		l.log.Warn("event listener disconnected; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, l.MaxBackoff)
	}
}

// session connects, listens and dispatches until the connection fails.
func (l *Listener) session(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for ch := range l.handlers {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	connected()
	l.log.Debug("event listener connected")
	for _, h := range l.handlers {
		if h.OnConnect != nil {
			h.OnConnect()
		}
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if h, ok := l.handlers[n.Channel]; ok && h.Notify != nil {
			h.Notify(n.Payload)
		}
	}
}
