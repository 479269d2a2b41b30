package workers

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// Applying a baseline whose settings go to more devices than one
// transaction queues snoozes the job, which queues the rest when it runs
// again, then completes. Replacing the snooze with a plain return fails
// here (the rest would wait for the sweep).
func TestApplyBaselinesSnoozesForTheRest(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	key, _, _ := seal.NewRandomKey()
	q := commands.New(db, inv, pub, commands.WithSecrets(seal.NewKeyring(key)))
	s := msp.New(db, dir, inv, compliance.New(db, inv, q, pub), events.NewStore(db), nil).WithCommands(q)
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO devices (id, platform, identifier) SELECT gen_random_uuid(), 'windows', 'many-' || g FROM generate_series(1, $1) g`,
			commands.DeployBatch+1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateBaseline(context.Background(), tn.MSPID, "Lock", []msp.Item{{Key: "lock", WindowsSettings: &msp.WindowsSettings{Name: "Lock",
		Settings: []msp.Setting{{LocURI: "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock", Value: "5"}}}}}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(context.Background(), tn.MSPID, b.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	tw := rivertest.NewWorker(t, riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema,
		Middleware: []rivertype.Middleware{river.WorkerMiddlewareFunc(tenantMiddleware)}}, &applyBaselinesWorker{dir: dir, msp: s})
	work := func() *rivertest.WorkResult {
		t.Helper()
		tx, err := db.Writer().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		res, err := tw.Work(ctx, t, tx, msp.ApplyArgs{TenantID: tn.ID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := work(); res.EventKind != river.EventKindJobSnoozed {
		t.Errorf("%d devices to queue: %s, want snoozed for the rest", commands.DeployBatch+1, res.EventKind)
	}
	if res := work(); res.EventKind != river.EventKindJobCompleted {
		t.Errorf("the rest queued: %s, want completed", res.EventKind)
	}
	ds, err := s.DriftOf(context.Background(), tn)
	if err != nil || len(ds) != 1 || ds[0].Rollout == nil || ds[0].Rollout.Waiting != commands.DeployBatch+1 {
		t.Errorf("every device's command queued: %+v %v", ds, err)
	}
}
