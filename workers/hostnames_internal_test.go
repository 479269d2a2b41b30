package workers

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// The verification job, worked by rivertest against a DNS server on the
// loopback: while the record is missing it snoozes (soon for a new name,
// at most an hour later on), a week after the name was added it gives up,
// and once the record is there it verifies the name and publishes
// tenant.hostname_verified in the same transaction.
func TestVerifyHostnameJob(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	dns := testenv.DNS(t)
	dir.UseDNS(dns.Resolver())
	tn := testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	now := time.Now()
	w := &verifyHostnameWorker{tenants: tenants.New(db, dir, events.NewPublisher(nil)), log: testenv.Logger(t), now: func() time.Time { return now }}
	tw := rivertest.NewWorker(t, riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema,
		Middleware: []rivertype.Middleware{river.WorkerMiddlewareFunc(tenantMiddleware)}}, w)
	work := func(name string) *rivertest.WorkResult {
		t.Helper()
		tx, err := db.Writer().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		res, err := tw.Work(ctx, t, tx, tenancy.VerifyHostnameArgs{TenantID: tn.ID, Hostname: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	near := func(got, want time.Time) bool { d := got.Sub(want); return d > -10*time.Second && d < 10*time.Second }

	// The reaction schedules the first check soon after the name is added.
	args, opts, ok := HostnameReaction(events.Event{Kind: "tenant.hostname_added", TenantID: tn.ID, Subject: "mdm.shop.example"})
	if !ok || args.(tenancy.VerifyHostnameArgs).Hostname != "mdm.shop.example" || !near(opts.ScheduledAt, time.Now().Add(30*time.Second)) {
		t.Fatalf("reaction = %+v, %+v, %v", args, opts, ok)
	}
	if _, _, ok := HostnameReaction(events.Event{Kind: "tenant.hostname_removed"}); ok {
		t.Fatal("a removal reacts")
	}

	h, err := dir.AddHostname(ctx, tn.ID, "mdm.shop.example")
	if err != nil {
		t.Fatal(err)
	}
	res := work(h.Name)
	if res.EventKind != river.EventKindJobSnoozed || !near(res.Job.ScheduledAt, time.Now().Add(30*time.Second)) {
		t.Fatalf("a new name without its record: %s, next %s; want snoozed ~30 s", res.EventKind, res.Job.ScheduledAt)
	}
	now = now.Add(5 * time.Hour)
	if res = work(h.Name); res.EventKind != river.EventKindJobSnoozed || !near(res.Job.ScheduledAt, time.Now().Add(time.Hour)) {
		t.Fatalf("hours later: %s, next %s; want snoozed an hour", res.EventKind, res.Job.ScheduledAt)
	}
	now = now.Add(tenancy.VerifyFor)
	if res = work(h.Name); res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("a week later: %s; want the job to end", res.EventKind)
	}

	dns.SetTXT(h.RecordName(), h.RecordValue())
	if res = work(h.Name); res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("with the record: %s", res.EventKind)
	}
	var verified bool
	var published int
	if err := db.ReadTx(ctx, func(tx pgx.Tx) error {
		got, err := tenancy.HostnameTx(ctx, tx, h.Name)
		verified = got.Verified()
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE kind = 'tenant.hostname_verified' AND subject = $1`, h.Name).Scan(&published)
	}); err != nil {
		t.Fatal(err)
	}
	if !verified || published != 1 {
		t.Fatalf("after the job: verified %v, %d events; want verified and one event", verified, published)
	}
	// A name removed meanwhile ends its job.
	if err := dir.RemoveHostname(ctx, tn.ID, h.Name); err != nil {
		t.Fatal(err)
	}
	if res = work(h.Name); res.EventKind != river.EventKindJobCompleted {
		t.Fatalf("a removed name: %s", res.EventKind)
	}
}
