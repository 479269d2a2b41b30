package workers_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/workers"
)

func init() { events.Declare(events.Kind{Name: "test.new"}) }

func TestMain(m *testing.M) { testenv.Main(m) }

func deps(t *testing.T) workers.Deps {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	return workers.Deps{DB: db, Directory: dir, Events: events.NewStore(db),
		Log: testenv.Logger(t)}
}

func countEvents(t *testing.T, d workers.Deps, tenant uuid.UUID) (n int) {
	t.Helper()
	ctx := tenancy.WithTenant(context.Background(), tenant)
	if err := d.DB.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// The periodic sweep runs on start, fans out one retention job per tenant,
// and each deletes only its tenant's old events.
func TestRetentionSweep(t *testing.T) {
	d := deps(t)
	a, b := testenv.Tenant(t, d.Directory), testenv.Tenant(t, d.Directory)
	for _, tn := range []tenancy.Tenant{a, b} {
		ctx := tenancy.WithTenant(context.Background(), tn.ID)
		err := d.DB.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO events (kind, created_at)
SELECT 'test.old', now() - interval '40 days' FROM generate_series(1, 7)`)
			if err != nil {
				return err
			}
			_, err = events.NewPublisher(nil).Publish(ctx, tx, "test.new", "", nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := workers.New(d, workers.Config{Schema: migrations.RiverSchema, EventRetention: 30 * 24 * time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	completed, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)

	pending := map[uuid.UUID]bool{a.ID: true, b.ID: true}
	deadline := time.After(30 * time.Second)
	for len(pending) > 0 {
		select {
		case ev := <-completed:
			if ev.Kind == river.EventKindJobFailed {
				t.Fatalf("job %s failed: %v", ev.Job.Kind, ev.Job.Errors)
			}
			if ev.Job.Kind == (events.RetentionArgs{}).Kind() {
				var args events.RetentionArgs
				if err := json.Unmarshal(ev.Job.EncodedArgs, &args); err != nil {
					t.Fatal(err)
				}
				delete(pending, args.TenantID)
			}
		case <-deadline:
			t.Fatalf("retention jobs for %v did not complete", pending)
		}
	}
	for _, tn := range []tenancy.Tenant{a, b} {
		if n := countEvents(t, d, tn.ID); n != 1 {
			t.Errorf("tenant %s has %d events after retention; want the 1 recent one", tn.Slug, n)
		}
	}
}

// serve's insert-only client enqueues inside a tenant transaction, so a job
// exists exactly when the change that caused it commits.
func TestInsertInTenantTransaction(t *testing.T) {
	d := deps(t)
	tn := testenv.Tenant(t, d.Directory)
	c, err := workers.New(d, workers.Config{Schema: migrations.RiverSchema, EventRetention: time.Hour}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	var job *rivertype.JobInsertResult
	err = d.DB.Tx(ctx, func(tx pgx.Tx) error {
		job, err = c.InsertTx(ctx, tx, events.RetentionArgs{TenantID: tn.ID}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.JobGet(context.Background(), job.Job.ID)
	if err != nil || got.Kind != "events.retention" {
		t.Fatalf("JobGet = %v, %v", got, err)
	}
	rolledBack := context.Canceled
	_ = d.DB.Tx(ctx, func(tx pgx.Tx) error {
		job, err = c.InsertTx(ctx, tx, events.RetentionArgs{TenantID: tn.ID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rolledBack
	})
	if _, err := c.JobGet(context.Background(), job.Job.ID); err == nil {
		t.Fatal("a job inserted in a rolled-back transaction exists")
	}
}

// A job naming a malformed tenant is cancelled, not retried.
func TestBadTenantIsCancelled(t *testing.T) {
	d := deps(t)
	c, err := workers.New(d, workers.Config{Schema: migrations.RiverSchema, EventRetention: time.Hour, SweepInterval: 24 * time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	events_, cancel := c.Subscribe(river.EventKindJobCancelled, river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	res, err := c.Insert(ctx, badTenantArgs{TenantID: "not-a-uuid"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events_:
			if ev.Job.ID != res.Job.ID {
				continue
			}
			if ev.Kind != river.EventKindJobCancelled {
				t.Fatalf("job ended %s; want cancelled", ev.Kind)
			}
			return
		case <-deadline:
			t.Fatal("job with a bad tenant_id did not end")
		}
	}
}

// badTenantArgs uses the retention job's kind with a malformed tenant_id,
// as a corrupted or hand-made row would.
type badTenantArgs struct {
	TenantID string `json:"tenant_id"`
}

func (badTenantArgs) Kind() string { return "events.retention" }

// The hourly snapshot sweep runs on start and records each tenant's
// standing in that tenant's history only.
func TestSnapshotSweep(t *testing.T) {
	d := deps(t)
	pub := events.NewPublisher(nil)
	d.Inventory = inventory.New(d.DB, pub)
	d.Compliance = compliance.New(d.DB, d.Inventory, commands.New(d.DB, d.Inventory, pub), pub)
	a, b := testenv.Tenant(t, d.Directory), testenv.Tenant(t, d.Directory)
	for i, tn := range []tenancy.Tenant{a, b} {
		ctx := tenancy.WithTenant(context.Background(), tn.ID)
		if err := d.DB.Tx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO devices (id, platform, identifier, status, last_seen_at)
SELECT gen_random_uuid(), 'windows', 'pc-' || g, 'enrolled', now() FROM generate_series(1, $1) g`, i+2)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := workers.New(d, workers.Config{Schema: migrations.RiverSchema, EventRetention: 30 * 24 * time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	completed, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	pending := map[uuid.UUID]bool{a.ID: true, b.ID: true}
	deadline := time.After(30 * time.Second)
	for len(pending) > 0 {
		select {
		case ev := <-completed:
			if ev.Kind == river.EventKindJobFailed {
				t.Fatalf("job %s failed: %v", ev.Job.Kind, ev.Job.Errors)
			}
			if ev.Job.Kind == (compliance.SnapshotArgs{}).Kind() {
				var args compliance.SnapshotArgs
				if err := json.Unmarshal(ev.Job.EncodedArgs, &args); err != nil {
					t.Fatal(err)
				}
				delete(pending, args.TenantID)
			}
		case <-deadline:
			t.Fatalf("snapshot jobs for %v did not complete", pending)
		}
	}
	for i, tn := range []tenancy.Tenant{a, b} {
		ctx := tenancy.WithTenant(context.Background(), tn.ID)
		ps, err := d.Compliance.History(ctx, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].Enrolled != i+2 || ps[0].CheckedIn != i+2 {
			t.Errorf("tenant %s history = %+v; want one point with %d enrolled and checked in", tn.Slug, ps, i+2)
		}
	}
}

// The baseline sweep applies every tenant's baselines when the workers
// start (and every 10 minutes): an application a crashed worker never
// finished, or a local change, is put right without waiting for River
// to rescue the killed job.
func TestBaselineSweep(t *testing.T) {
	d := deps(t)
	pub := events.NewPublisher(nil)
	d.Inventory = inventory.New(d.DB, pub)
	d.Compliance = compliance.New(d.DB, d.Inventory, commands.New(d.DB, d.Inventory, pub), pub)
	d.MSP = msp.New(d.DB, d.Directory, d.Inventory, d.Compliance, d.Events, nil)
	tn := testenv.Tenant(t, d.Directory)
	ctx := context.Background()
	b, err := d.MSP.CreateBaseline(ctx, tn.MSPID, "Standard", []msp.Item{{Key: "disk", Rule: compliance.Rule{Name: "Disk", Kind: compliance.DiskEncrypted}}}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.MSP.Assign(ctx, tn.MSPID, b.ID, []string{"all"}); err != nil { // assigned, never applied: as if its job died
		t.Fatal(err)
	}
	// A second baseline's pilot ring (no tenant has its tag yet) has had
	// version 2 for two hours of its hour's soak: the sweep passes it on
	// to everyone, the tenant with them.
	ringed, err := d.MSP.CreateBaseline(ctx, tn.MSPID, "Ringed", []msp.Item{{Key: "fw", Rule: compliance.Rule{Name: "Firewall", Kind: compliance.FirewallEnabled}}}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.MSP.Assign(ctx, tn.MSPID, ringed.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MSP.SetRings(ctx, tn.MSPID, ringed.ID, []msp.Ring{{Name: "pilot", Targets: []string{"tag:early"}, SoakHours: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MSP.SetItems(ctx, tn.MSPID, ringed.ID, []msp.Item{{Key: "fw", Rule: compliance.Rule{Name: "Firewall on", Kind: compliance.FirewallEnabled}}}, "mo"); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.Superuser(t).Exec(ctx, `UPDATE baselines SET rings = jsonb_set(rings, '{0,since}', to_jsonb(now() - interval '2 hours')) WHERE id = $1`, ringed.ID); err != nil {
		t.Fatal(err)
	}
	c, err := workers.New(d, workers.Config{Schema: migrations.RiverSchema, EventRetention: 30 * 24 * time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	tctx := tenancy.WithTenant(ctx, tn.ID)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		rs, _ := d.Compliance.Rules(tctx)
		if slices.ContainsFunc(rs, func(r compliance.Rule) bool { return r.Baseline != nil && r.Baseline.Baseline == b.ID }) &&
			slices.ContainsFunc(rs, func(r compliance.Rule) bool { return r.Baseline != nil && r.Name == "Firewall on" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not apply the baseline, and the promoted version of the other, within 30 s")
		}
	}
	bs, err := d.MSP.Baselines(ctx, tn.MSPID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.ID == ringed.ID && b.Released != 2 {
			t.Errorf("the soaked pilot's version did not reach everyone: released %d", b.Released)
		}
	}
}
