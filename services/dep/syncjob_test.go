package dep_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/tenancy"
	tjobs "github.com/tridentmdm/trident/tenancy/jobs"
)

// syncWorker runs dep.sync jobs as workers/dep.go does.
type syncWorker struct {
	river.WorkerDefaults[dep.SyncArgs]
	f fixture
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[dep.SyncArgs]) error {
	ctx = tenancy.WithTenant(ctx, job.Args.TenantID)
	_, err := w.f.dep.SyncJob(ctx, job.Args.TokenID, func(ctx context.Context) error { return tjobs.Complete(ctx, w.f.db, job) })
	return err
}

// An ask that comes after a run's last check for asks, while River still
// has the job running, is skipped as a duplicate of it: it must be seen
// all the same (TestABMThroughTheServer, with serve and worker in two
// processes, lost ACME0004 this way).
func TestSyncAskedForAsARunEndsIsNotLost(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Late", "L0")
	tn.upload()
	jobs[dep.SyncArgs](tn, "dep.sync") // the upload's: this test queues its own

	var once sync.Once
	dep.OnRoundEnd(f.dep, func() {
		once.Do(func() {
			f.apple.Add(tn.account, "L1")
			if err := f.db.Within(tn.ctx, func(ctx context.Context) error { return f.dep.EnqueueSync(ctx, tn.token.ID) }); err != nil {
				t.Error(err)
			}
		})
	})
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{f: f})
	c, err := tjobs.NewClient(f.db, &river.Config{Schema: migrations.RiverSchema, Workers: workers,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}}, FetchPollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	if err := f.db.Within(tn.ctx, func(ctx context.Context) error { return f.dep.EnqueueSync(ctx, tn.token.ID) }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(tn.devices()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the ask made as the run ended was lost: devices %v", tn.devices())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
