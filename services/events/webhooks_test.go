package events_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

// Endpoint.Wants, which the dashboard's live webhook page uses to skip
// events before it reads, says what Publish does: an endpoint has a
// delivery of an event exactly when it wants the event's kind.
func TestWantsIsWhatPublishDelivers(t *testing.T) {
	f := start(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, f.dir).ID)
	q, err := jobs.NewClient(f.db, &river.Config{Schema: migrations.RiverSchema})
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := seal.NewRandomKey()
	pub := events.NewPublisher(q)
	hooks := events.NewWebhooks(f.db, pub, events.URLPolicy{AllowHTTP: true}, seal.NewKeyring(k))
	var endpoints []events.Endpoint
	for i, kinds := range [][]string{{"*"}, {"test."}, {"test.tick"}, {"test.rolled_back", "tenant."}, {"tenant.updated"}} {
		e, err := hooks.Create(ctx, events.NewEndpoint{URL: fmt.Sprintf("http://hook-%d.test/", i), EventKinds: kinds})
		if err != nil {
			t.Fatalf("%v: %v", kinds, err)
		}
		endpoints = append(endpoints, e)
	}
	for _, c := range []struct {
		kind    string
		payload any
	}{{"test.tick", tick{N: 1}}, {"test.rolled_back", nil}, {events.TenantUpdated, events.TenantChanged{}}} {
		var ev events.Event
		if err := f.db.Tx(ctx, func(tx pgx.Tx) (err error) {
			ev, err = pub.Publish(ctx, tx, c.kind, "s", c.payload)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, e := range endpoints {
			ds, err := hooks.DeliveriesOf(ctx, e.ID, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ds) == 1; got != e.Wants(c.kind) {
				t.Errorf("%v and %s: delivered %v, Wants %v", e.EventKinds, c.kind, got, e.Wants(c.kind))
			}
		}
	}
}
