package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// The processes' publisher reacts to a new tenant by applying its MSP's
// baselines there (those for all tenants reach it at once): the job is
// queued in the tenant.created event's transaction.
func TestNewTenantGetsItsBaselines(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := insertOnlyJobs(db)
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := newPublisher(jobs).Publish(ctx, tx, events.TenantCreated, tn.ID.String(), events.TenantPayload(tn))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := testenv.Superuser(t).QueryRow(context.Background(), `SELECT count(*) FROM `+migrations.RiverSchema+`.river_job
WHERE kind = 'msp.apply_baselines' AND args->>'tenant_id' = $1`, tn.ID.String()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d baseline applications queued for the new tenant, want 1", n)
	}
}
