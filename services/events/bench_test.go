package events_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// BenchmarkFanOut measures an event's way from its commit to 1,000 live
// subscribers of its tenant (a dashboard's streams): NOTIFY, the
// listener, one read of the event, and delivery to each subscription.
func BenchmarkFanOut(b *testing.B) {
	f := start(b)
	tn := testenv.Tenant(b, f.dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	subs := make([]*events.Subscription, 1000)
	for i := range subs {
		s, err := f.bus.Subscribe(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		subs[i] = s
	}
	pub := events.NewPublisher(nil)
	for b.Loop() {
		var id int64
		err := f.db.Tx(ctx, func(tx pgx.Tx) error {
			ev, err := pub.Publish(ctx, tx, "bench.tick", "", nil)
			id = ev.ID
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range subs {
			if e := <-s.C(); e.ID != id {
				b.Fatalf("got event %d, want %d", e.ID, id)
			}
		}
	}
}
