package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// The bus delivers a tenant's events live to its subscribers: an event
// published in a committed transaction reaches every subscription of
// that tenant (through LISTEN/NOTIFY, from any process), and no other
// tenant's.
func ExampleBus() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	db, err := tenancy.Open(ctx, testenv.AppURL(), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	dir, _ := tenancy.NewDirectory(db, "trident.example")
	suffix := uuid.NewString()[:8]
	msp, _ := dir.CreateMSP(ctx, "example-"+suffix, "Example IT")
	acme, _ := dir.CreateTenant(ctx, msp.ID, "acme-"+suffix, "Acme")
	beta, _ := dir.CreateTenant(ctx, msp.ID, "beta-"+suffix, "Beta")

	log := slog.New(slog.DiscardHandler)
	bus := events.NewBus(events.NewStore(db), log)
	listener := events.NewListener(db.Writer().Config().ConnConfig, log)
	listener.Handle(events.Channel, bus.Handler())
	go bus.Run(ctx)
	go listener.Run(ctx)

	acmeCtx := tenancy.WithTenant(ctx, acme.ID)
	mine, _ := bus.Subscribe(acmeCtx, 0)
	defer mine.Close()
	theirs, _ := bus.Subscribe(tenancy.WithTenant(ctx, beta.ID), 0)
	defer theirs.Close()

	pub := events.NewPublisher(nil)
	err = db.Tx(acmeCtx, func(tx pgx.Tx) error {
		_, err := pub.Publish(acmeCtx, tx, events.TenantUpdated, acme.ID.String(), events.TenantPayload(acme))
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case ev := <-mine.C():
		fmt.Println("Acme's subscriber got", ev.Kind)
	case <-time.After(10 * time.Second):
		fmt.Println("Acme's subscriber got nothing")
	}
	select {
	case ev := <-theirs.C():
		fmt.Println("Beta's subscriber got", ev.Kind)
	case <-time.After(time.Second):
		fmt.Println("Beta's subscriber got nothing")
	}
	// Output:
	// Acme's subscriber got tenant.updated
	// Beta's subscriber got nothing
}
