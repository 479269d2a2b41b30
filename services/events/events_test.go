package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// tick is the payload of the tests' events.
type tick struct {
	N int `json:"n"`
}

func init() {
	events.Declare(events.Kind{Name: "test.tick", Payload: tick{}}, events.Kind{Name: "test.rolled_back"}, events.Kind{Name: "bench.tick"})
}

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	db    *tenancy.DB
	dir   *tenancy.Directory
	store *events.Store
	bus   *events.Bus
}

// start runs a listener and bus for the test's lifetime.
func start(t testing.TB) *fixture {
	t.Helper()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	log := testenv.Logger(t)
	store := events.NewStore(db)
	bus := events.NewBus(store, log)
	l := events.NewListener(db.Writer().Config().ConnConfig, log)
	l.MinBackoff = 10 * time.Millisecond
	l.Handle(events.Channel, bus.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { bus.Run(ctx); done <- struct{}{} }()
	go func() { l.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return &fixture{db: db, dir: dir, store: store, bus: bus}
}

func publish(t *testing.T, db *tenancy.DB, ctx context.Context, n int, from int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		err := db.Tx(ctx, func(tx pgx.Tx) error {
			ev, err := events.NewPublisher(nil).Publish(ctx, tx, "test.tick", fmt.Sprint(from+i), tick{N: from + i})
			ids = append(ids, ev.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// receive reads n events from s, failing after a deadline.
func receive(t *testing.T, s *events.Subscription, n int) []int64 {
	t.Helper()
	var got []int64
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case e, ok := <-s.C():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, s.Err())
			}
			got = append(got, e.ID)
		case <-deadline:
			t.Fatalf("got %d of %d events before the deadline", len(got), n)
		}
	}
	return got
}

// quiet checks that nothing more arrives for a moment (duplicates would).
func quiet(t *testing.T, s *events.Subscription, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-s.C():
		if ok {
			t.Fatalf("unexpected extra event %d (a duplicate?)", e.ID)
		}
	case <-time.After(d):
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPublishIsTransactional(t *testing.T) {
	f := start(t)
	tn := testenv.Tenant(t, f.dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	sub, err := f.bus.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	rollback := errors.New("roll back")
	err = f.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := events.NewPublisher(nil).Publish(ctx, tx, "test.rolled_back", "", nil); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	ids := publish(t, f.db, ctx, 1, 0)
	if got := receive(t, sub, 1); !equal(got, ids) {
		t.Fatalf("got %v, want only the committed %v", got, ids)
	}
	if evs, _ := f.store.Since(ctx, 0, 10); len(evs) != 1 || evs[0].Kind != "test.tick" {
		t.Fatalf("stored events %v", evs)
	}
	for _, bad := range []string{"", "Upper", "1x", "has space", "x/y"} {
		err := f.db.Tx(ctx, func(tx pgx.Tx) error { _, err := events.NewPublisher(nil).Publish(ctx, tx, bad, "", nil); return err })
		if err == nil {
			t.Errorf("kind %q accepted", bad)
		}
	}
}

func TestSubscribersSeeOnlyTheirTenant(t *testing.T) {
	f := start(t)
	a, b := testenv.Tenant(t, f.dir), testenv.Tenant(t, f.dir)
	ctxA := tenancy.WithTenant(context.Background(), a.ID)
	ctxB := tenancy.WithTenant(context.Background(), b.ID)
	subA, err := f.bus.Subscribe(ctxA, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	publish(t, f.db, ctxB, 3, 0)
	want := publish(t, f.db, ctxA, 2, 0)
	if got := receive(t, subA, 2); !equal(got, want) {
		t.Fatalf("tenant A got %v, want %v", got, want)
	}
	quiet(t, subA, 200*time.Millisecond)
	if _, err := f.bus.Subscribe(context.Background(), 0); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Fatalf("Subscribe without tenant: %v", err)
	}
}

func TestSubscribeReplaysThenGoesLive(t *testing.T) {
	f := start(t)
	tn := testenv.Tenant(t, f.dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	old := publish(t, f.db, ctx, 5, 0)
	sub, err := f.bus.Subscribe(ctx, old[1]) // resume after the second
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	live := publish(t, f.db, ctx, 3, 5)
	want := append(old[2:], live...)
	if got := receive(t, sub, len(want)); !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	quiet(t, sub, 200*time.Millisecond)
}

// The listener's connection is killed mid-stream, twice; the subscriber
// still gets every event exactly once, in order.
func TestEventsSurviveAKilledListener(t *testing.T) {
	f := start(t)
	tn := testenv.Tenant(t, f.dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	sub, err := f.bus.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	su := testenv.Superuser(t)
	// kill terminates the listener's connection, once it has one: after
	// the last kill it may still be reconnecting (CI once found none,
	// the catch-up having delivered while the listener was down).
	kill := func() {
		t.Helper()
		var n int
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			err = su.QueryRow(context.Background(), `SELECT count(*) FROM (
  SELECT pg_terminate_backend(pid) FROM pg_stat_activity
  WHERE application_name = $1 AND datname = current_database()) k`, events.ListenerName).Scan(&n)
			if err != nil || n > 0 || time.Now().After(deadline) {
				break
			}
		}
		if n != 1 {
			t.Fatalf("terminated %d listener connections (%v); want 1", n, err)
		}
	}
	var want, got []int64
	want = append(want, publish(t, f.db, ctx, 20, 0)...)
	got = append(got, receive(t, sub, 20)...)

	kill()
	// Published while the listener is down: only the catch-up can find them.
	want = append(want, publish(t, f.db, ctx, 20, 20)...)
	got = append(got, receive(t, sub, 20)...)

	// Killed while events are being published.
	done := make(chan []int64)
	go func() { done <- publish(t, f.db, ctx, 40, 40) }()
	kill()
	want = append(want, <-done...)
	got = append(got, receive(t, sub, 40)...)

	if !equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	quiet(t, sub, 300*time.Millisecond)
}

func TestLaggingSubscriberIsCut(t *testing.T) {
	f := start(t)
	tn := testenv.Tenant(t, f.dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	sub, err := f.bus.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, f.db, ctx, 300, 0) // more than the 256-event buffer
	// Nobody reads until the bus has cut the subscriber off: reading while
	// the bus still delivers (a slow machine) would make room and it would
	// never lag (CI saw that, a failure after the 20 s deadline).
	for deadline := time.Now().Add(20 * time.Second); sub.Err() == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a subscriber that never reads was not cut off")
		}
	}
	n := 0
	for range sub.C() {
		n++
	}
	if !errors.Is(sub.Err(), events.ErrLagged) || n != 256 {
		t.Fatalf("ended after %d events with %v; want 256 and ErrLagged", n, sub.Err())
	}
}

func TestDeleteBefore(t *testing.T) {
	f := start(t)
	a, b := testenv.Tenant(t, f.dir), testenv.Tenant(t, f.dir)
	ctxA := tenancy.WithTenant(context.Background(), a.ID)
	ctxB := tenancy.WithTenant(context.Background(), b.ID)
	publish(t, f.db, ctxA, 7, 0)
	publish(t, f.db, ctxB, 2, 0)
	cut := time.Now().Add(time.Hour)
	n, err := f.store.DeleteBefore(ctxA, cut, 3)
	if err != nil || n != 7 {
		t.Fatalf("deleted %d (%v), want 7", n, err)
	}
	if evs, _ := f.store.Since(ctxB, 0, 10); len(evs) != 2 {
		t.Fatalf("tenant B has %d events after A's cleanup, want 2", len(evs))
	}
}

// Publish lets through only the declared contract: a kind no service
// declared, or a payload of another type than the declared one, is
// refused and nothing is recorded.
func TestPublishKeepsToTheCatalogue(t *testing.T) {
	f := start(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, f.dir).ID)
	for _, c := range []struct {
		kind    string
		payload any
	}{
		{"device.enroled", nil},                        // a typo of device.enrolled
		{"test.tick", map[string]int{"n": 1}},          // an untyped payload
		{"test.tick", nil},                             // a missing payload
		{"test.rolled_back", tick{N: 1}},               // a payload where none is declared
		{events.TenantUpdated, events.HostnameAdded{}}, // another kind's payload
	} {
		err := f.db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := events.NewPublisher(nil).Publish(ctx, tx, c.kind, "", c.payload)
			return err
		})
		if err == nil {
			t.Errorf("%s with %T: published", c.kind, c.payload)
		}
	}
	if evs, _ := f.store.Since(ctx, 0, 10); len(evs) != 0 {
		t.Fatalf("refused events were recorded: %v", evs)
	}
	// A pointer to the declared type is the declared type.
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := events.NewPublisher(nil).Publish(ctx, tx, "test.tick", "", &tick{N: 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for pattern, want := range map[string]bool{"*": true, "test.": true, "test.tick": true, "test.tock": false, "nothing.": false} {
		if events.Subscribable(pattern) != want {
			t.Errorf("Subscribable(%q) = %v", pattern, !want)
		}
	}
}
