package events

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/tenancy"
)

// Channel is the NOTIFY channel the events trigger uses.
const Channel = "trident_events"

// ErrLagged ends a subscription whose reader fell so far behind that its
// buffer filled. The reader resubscribes from the last id it handled.
var ErrLagged = errors.New("events: subscriber fell behind")

// Bus fans a tenant's events out to that tenant's subscribers in this
// process. Register Bus.Handler on a Listener for Channel.
type Bus struct {
	store *Store
	log   *slog.Logger

	mu         sync.Mutex
	subs       map[uuid.UUID]map[*Subscription]struct{}
	pending    map[uuid.UUID][]int64 // notified ids not yet read
	catchUp    bool                  // the listener reconnected
	wake       chan struct{}
	bufferSize int
	lag        func(time.Duration)
}

// BusOption tunes a Bus.
type BusOption func(*Bus)

// WithLagObserver calls observe with how long each event took from its
// commit to reaching this process's subscribers (for metrics).
func WithLagObserver(observe func(time.Duration)) BusOption { return func(b *Bus) { b.lag = observe } }

// NewBus returns a bus reading events through store. Run must be running
// for subscribers to receive anything.
func NewBus(store *Store, log *slog.Logger, opts ...BusOption) *Bus {
	b := &Bus{store: store, log: log,
		subs: map[uuid.UUID]map[*Subscription]struct{}{}, pending: map[uuid.UUID][]int64{},
		wake: make(chan struct{}, 1), bufferSize: 256}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Handler is what the Listener calls for Channel.
func (b *Bus) Handler() Handler {
	return Handler{Notify: b.notified, OnConnect: b.reconnected}
}

func (b *Bus) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// notified records "<tenant>:<id>" for the worker; events of tenants with
// no subscriber here are ignored.
func (b *Bus) notified(payload string) {
	t, idText, ok := strings.Cut(payload, ":")
	tenant, err1 := uuid.Parse(t)
	id, err2 := strconv.ParseInt(idText, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		b.log.Warn("malformed event notification", "payload", payload)
		return
	}
	b.mu.Lock()
	if len(b.subs[tenant]) > 0 {
		b.pending[tenant] = append(b.pending[tenant], id)
	}
	b.mu.Unlock()
	b.signal()
}

func (b *Bus) reconnected() {
	b.mu.Lock()
	b.catchUp = true
	b.mu.Unlock()
	b.signal()
}

// retryLater schedules a catch-up after a failed read, a second from now,
// so a database outage does not turn into a busy loop.
func (b *Bus) retryLater() { time.AfterFunc(time.Second, b.reconnected) }

// Run reads notified events and delivers them until ctx ends.
func (b *Bus) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			b.closeAll(ctx.Err())
			return
		case <-b.wake:
		}
		b.mu.Lock()
		catchUp, pending := b.catchUp, b.pending
		b.catchUp, b.pending = false, map[uuid.UUID][]int64{}
		tenants := make([]uuid.UUID, 0, len(b.subs))
		for t := range b.subs {
			tenants = append(tenants, t)
		}
		b.mu.Unlock()
		if catchUp {
			// Read, per subscribed tenant, everything after the oldest id any
			// subscriber may still be missing; subscribers drop what they have.
			for _, t := range tenants {
				if err := b.catchUpTenant(ctx, t); err != nil && ctx.Err() == nil {
					b.log.Error("event catch-up failed; retrying", "tenant", t, "err", err)
					b.retryLater()
				}
			}
		}
		for t, ids := range pending {
			evs, err := b.store.byIDs(tenancy.WithTenant(ctx, t), ids)
			if err != nil {
				if ctx.Err() == nil {
					b.log.Error("read notified events; catching up instead", "tenant", t, "err", err)
					b.retryLater()
				}
				continue
			}
			b.deliver(t, evs)
		}
	}
}

func (b *Bus) catchUpTenant(ctx context.Context, t uuid.UUID) error {
	b.mu.Lock()
	from := int64(-1)
	for s := range b.subs[t] {
		if low := s.low(); from < 0 || low < from {
			from = low
		}
	}
	b.mu.Unlock()
	if from < 0 {
		return nil
	}
	for {
		evs, err := b.store.Since(tenancy.WithTenant(ctx, t), from, 500)
		if err != nil {
			return err
		}
		b.deliver(t, evs)
		if len(evs) < 500 {
			return nil
		}
		from = evs[len(evs)-1].ID
	}
}

func (b *Bus) deliver(t uuid.UUID, evs []Event) {
	if len(evs) == 0 {
		return
	}
	b.mu.Lock()
	subs := make([]*Subscription, 0, len(b.subs[t]))
	for s := range b.subs[t] {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	if b.lag != nil {
		for _, e := range evs {
			b.lag(time.Since(e.CreatedAt))
		}
	}
	for _, s := range subs {
		for _, e := range evs {
			s.offer(e, true)
		}
	}
}

func (b *Bus) closeAll(err error) {
	b.mu.Lock()
	var all []*Subscription
	for _, set := range b.subs {
		for s := range set {
			all = append(all, s)
		}
	}
	b.mu.Unlock()
	for _, s := range all {
		s.close(err)
	}
}

// Subscribe returns a subscription to the tenant in ctx's events: first
// those with ids above after (after = 0 for none; pass the last id a client
// saw to resume), then live ones, each once, in id order within each part.
// The subscription ends when ctx does, on Close, or with ErrLagged.
func (b *Bus) Subscribe(ctx context.Context, after int64) (*Subscription, error) {
	t, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	s := &Subscription{bus: b, tenant: t, after: after, replaying: true, seen: map[int64]struct{}{},
		c: make(chan Event, b.bufferSize), done: make(chan struct{})}
	b.mu.Lock()
	if b.subs[t] == nil {
		b.subs[t] = map[*Subscription]struct{}{}
	}
	b.subs[t][s] = struct{}{}
	b.mu.Unlock()
	// Replay while live events wait in s.held; then release them in order.
	for from := after; ; {
		evs, err := b.store.Since(ctx, from, 500)
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, e := range evs {
			s.offer(e, false)
		}
		if len(evs) < 500 {
			break
		}
		from = evs[len(evs)-1].ID
	}
	s.release()
	go func() {
		select {
		case <-ctx.Done():
			s.close(ctx.Err())
		case <-s.done:
		}
	}()
	return s, nil
}

// Subscription is one reader of a tenant's events.
type Subscription struct {
	bus    *Bus
	tenant uuid.UUID
	c      chan Event
	done   chan struct{}

	mu        sync.Mutex
	after     int64              // never deliver ids at or below this
	seen      map[int64]struct{} // recently delivered ids, for de-duplication
	ring      []int64            // the same ids in delivery order, to forget the oldest
	next      int
	replaying bool
	held      []Event // live events that arrived during replay
	err       error
	closed    bool
}

// seenSize bounds the memory of delivered ids. An event that commits after
// more than seenSize later events were delivered to a subscriber that then
// loses its connection cannot be told apart from one delivered already; the
// catch-up reads from the oldest remembered id.
const seenSize = 1024

// C delivers the events. It is closed when the subscription ends; Err then
// says why.
func (s *Subscription) C() <-chan Event { return s.c }

// Err is why the subscription ended: nil while open or after Close,
// ErrLagged, or the context's error.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() { s.close(nil) }

func (s *Subscription) close(err error) {
	s.bus.mu.Lock()
	delete(s.bus.subs[s.tenant], s)
	if len(s.bus.subs[s.tenant]) == 0 {
		delete(s.bus.subs, s.tenant)
	}
	s.bus.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed, s.err = true, err
	close(s.done)
	close(s.c)
}

// low is the id after which a catch-up must read for this subscriber: where
// it started while it remembers every id it delivered, else just below the
// oldest id it remembers (a later commit may carry a lower id than the
// newest delivered one).
func (s *Subscription) low() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) < seenSize {
		return s.after
	}
	return slices.Min(s.ring) - 1
}

// offer delivers e unless it was delivered before; during the replay of
// Subscribe, live events wait until the replay is done.
func (s *Subscription) offer(e Event, live bool) {
	s.mu.Lock()
	if s.replaying && live {
		s.held = append(s.held, e)
		s.mu.Unlock()
		return
	}
	lagged := s.deliverLocked(e)
	s.mu.Unlock()
	if lagged {
		s.close(ErrLagged)
	}
}

// release ends the replay and delivers the live events it held back.
func (s *Subscription) release() {
	s.mu.Lock()
	held := s.held
	s.held, s.replaying = nil, false
	slices.SortFunc(held, func(a, b Event) int { return cmp.Compare(a.ID, b.ID) })
	lagged := false
	for _, e := range held {
		if lagged = s.deliverLocked(e); lagged {
			break
		}
	}
	s.mu.Unlock()
	if lagged {
		s.close(ErrLagged)
	}
}

// deliverLocked sends e and reports whether the reader's buffer was full.
func (s *Subscription) deliverLocked(e Event) (lagged bool) {
	if s.closed || e.ID <= s.after {
		return false
	}
	if _, dup := s.seen[e.ID]; dup {
		return false
	}
	if len(s.ring) < seenSize {
		s.ring = append(s.ring, e.ID)
	} else {
		delete(s.seen, s.ring[s.next])
		s.ring[s.next] = e.ID
		s.next = (s.next + 1) % seenSize
	}
	s.seen[e.ID] = struct{}{}
	select {
	case s.c <- e:
		return false
	default:
		return true
	}
}

// StreamLimit bounds the live streams one caller holds open at once, per
// process: starting streams is rate-limited, but a caller that keeps
// each one open could otherwise hold any number.
type StreamLimit struct {
	Max  int // per caller; 0 means DefaultStreams
	mu   sync.Mutex
	open map[string]int
}

// DefaultStreams is how many live streams a caller may hold open at once.
const DefaultStreams = 10

// Acquire takes one of who's streams, or reports false when who holds
// Max already; release gives it back.
func (l *StreamLimit) Acquire(who string) (release func(), ok bool) {
	max := l.Max
	if max == 0 {
		max = DefaultStreams
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil {
		l.open = map[string]int{}
	}
	if l.open[who] >= max {
		return nil, false
	}
	l.open[who]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[who]--; l.open[who] <= 0 {
				delete(l.open, who)
			}
		})
	}, true
}
