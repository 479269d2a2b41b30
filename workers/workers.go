// Package workers holds Trident's River job workers and builds the River
// client. A job's args type lives in the service that enqueues it; the
// worker here calls that service back, so services never import workers.
//
// Job args that carry a "tenant_id" run with that tenant in their context
// (see tenantMiddleware): the worker then opens its own tenant transaction
// with tenancy.DB.Tx, like any other edge.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

// Config tunes the jobs.
type Config struct {
	// Schema is the PostgreSQL schema of River's tables
	// (migrations.RiverSchema); required.
	Schema string
	// EventRetention is how long events are kept.
	EventRetention time.Duration
	// SweepInterval is how often the retention sweep runs.
	SweepInterval time.Duration
	// DEPSyncInterval is how often every ABM token is synced (default 30
	// minutes; Apple asks for no more than a sync a minute per server).
	DEPSyncInterval time.Duration
	// RollupInterval is how often the MSP console's tenant rollups are
	// checked for staleness (default 15 seconds).
	RollupInterval time.Duration
	// JobTimeout is how long a job may run unless its worker says
	// otherwise (default River's, a minute).
	JobTimeout time.Duration
	// RescueAfter is how long a job may be running before River takes its
	// worker for dead and runs it again (default an hour): a killed
	// worker's jobs wait this long.
	RescueAfter time.Duration
	// MaxWorkers is the number of jobs worked at once by this process.
	MaxWorkers int
	// ObserveJob, when set, hears how long each job ran and how it ended
	// (for metrics).
	ObserveJob func(kind, outcome string, d time.Duration)
}

// baselineSweep is how often every tenant's baselines are applied again
// (a no-op where nothing changed).
const baselineSweep = 10 * time.Minute

// Deps are the services the workers call.
type Deps struct {
	DB        *tenancy.DB
	Directory *tenancy.Directory
	Events    *events.Store
	Webhooks  *events.Sender
	// Tenants verifies custom hostnames (and publishes what it finds);
	// nil leaves those jobs to another process.
	Tenants *tenants.Service
	// Commands and the wakers of each platform drive command delivery; a
	// nil Commands leaves delivery jobs to another process.
	Commands   *commands.Queue
	Inventory  *inventory.Inventory
	Compliance *compliance.Compliance
	Wakers     map[inventory.Platform]commands.Waker
	DEP        *dep.Service
	Android    *android.Service
	// Renewer renews devices' identities before they expire (nil: not
	// in this process).
	Renewer IdentityRenewer
	// MSP refreshes the MSP console's tenant rollups (nil: not in this
	// process).
	MSP *msp.Service
	Log *slog.Logger
}

// New builds the River client. With work false it only inserts jobs (what
// `trident serve` needs: jobs are enqueued inside tenant transactions with
// InsertTx); with work true it also works them and runs periodic jobs (what
// `trident worker` and `trident dev` run).
func New(d Deps, cfg Config, work bool) (*jobs.Client, error) {
	if cfg.Schema == "" {
		return nil, errors.New("workers: Config.Schema (River's schema) is required")
	}
	if cfg.EventRetention <= 0 {
		return nil, fmt.Errorf("workers: event retention must be positive, not %s", cfg.EventRetention)
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Hour
	}
	if cfg.DEPSyncInterval <= 0 {
		cfg.DEPSyncInterval = 30 * time.Minute
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 20
	}
	if cfg.RollupInterval <= 0 {
		cfg.RollupInterval = 15 * time.Second
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, &retentionSweepWorker{dir: d.Directory, interval: cfg.SweepInterval, log: d.Log})
	river.AddWorker(ws, &retentionWorker{events: d.Events, keep: cfg.EventRetention, log: d.Log})
	river.AddWorker(ws, &deliverWorker{sender: d.Webhooks})
	river.AddWorker(ws, &deliverCommandWorker{db: d.DB, cmds: d.Commands, wakers: d.Wakers, log: d.Log})
	river.AddWorker(ws, &bulkWorker{db: d.DB, cmds: d.Commands, log: d.Log})
	river.AddWorker(ws, &wakeSilentSweepWorker{dir: d.Directory})
	river.AddWorker(ws, &evaluateWorker{db: d.DB, c: d.Compliance})
	river.AddWorker(ws, &evaluateTenantWorker{db: d.DB, c: d.Compliance})
	river.AddWorker(ws, &snapshotSweepWorker{dir: d.Directory})
	river.AddWorker(ws, &snapshotWorker{db: d.DB, c: d.Compliance})
	river.AddWorker(ws, &depSyncSweepWorker{dir: d.Directory, period: cfg.DEPSyncInterval})
	river.AddWorker(ws, &depSyncTenantWorker{db: d.DB, dep: d.DEP})
	river.AddWorker(ws, &depSyncWorker{dep: d.DEP, db: d.DB})
	river.AddWorker(ws, &depAssignWorker{dep: d.DEP})
	river.AddWorker(ws, &androidPublishWorker{svc: d.Android})
	river.AddWorker(ws, &androidBrandWorker{svc: d.Android})
	river.AddWorker(ws, &androidApplyWorker{svc: d.Android})
	river.AddWorker(ws, &androidSyncWorker{svc: d.Android})
	river.AddWorker(ws, &wakeSilentWorker{db: d.DB, inv: d.Inventory, wakers: d.Wakers, log: d.Log})
	river.AddWorker(ws, &expireDueWorker{db: d.DB, cmds: d.Commands, log: d.Log})
	river.AddWorker(ws, &renewalSweepWorker{dir: d.Directory})
	river.AddWorker(ws, &renewIdentitiesWorker{renewer: d.Renewer})
	river.AddWorker(ws, &verifyHostnameWorker{tenants: d.Tenants, log: d.Log, now: time.Now})
	river.AddWorker(ws, &rollupSweepWorker{dir: d.Directory, msp: d.MSP, interval: cfg.RollupInterval})
	river.AddWorker(ws, &rollupWorker{dir: d.Directory, msp: d.MSP})
	river.AddWorker(ws, &applyBaselinesWorker{dir: d.Directory, msp: d.MSP})
	river.AddWorker(ws, &baselineSweepWorker{dir: d.Directory, msp: d.MSP, period: baselineSweep, log: d.Log})
	river.AddWorker(ws, &meterSweepWorker{dir: d.Directory})
	river.AddWorker(ws, &meterWorker{dir: d.Directory, msp: d.MSP})

	rc := &river.Config{
		Schema:     cfg.Schema,
		Logger:     slog.New(quietHandler{d.Log.Handler(), slog.LevelWarn}).With("component", "river"),
		Workers:    ws,
		JobTimeout: cfg.JobTimeout, RescueStuckJobsAfter: cfg.RescueAfter,
		Middleware: []rivertype.Middleware{river.WorkerMiddlewareFunc(tenantMiddleware), timing(cfg.ObserveJob)},
	}
	if work {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
		rc.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return RetentionSweepArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return WakeSilentSweepArgs{}, nil }, nil),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.DEPSyncInterval),
				func() (river.JobArgs, *river.InsertOpts) { return DEPSyncSweepArgs{}, nil }, nil),
		}
		if d.Renewer != nil {
			// Daily, and at start: a renewal window is weeks long.
			rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return RenewalSweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
		}
	}
	if work && d.MSP != nil {
		rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(cfg.RollupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return RollupSweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(baselineSweep),
				func() (river.JobArgs, *river.InsertOpts) { return BaselineSweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) { return MeterSweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	if work && d.Compliance != nil {
		// The fleet's hourly history, for the dashboard's charts.
		rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return SnapshotSweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	return jobs.NewClient(d.DB, rc)
}

// timing reports each job's duration and outcome to observe.
func timing(observe func(kind, outcome string, d time.Duration)) rivertype.Middleware {
	return river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, next func(context.Context) error) error {
		start := time.Now()
		err := next(ctx)
		if observe != nil {
			outcome := "ok"
			var snooze *river.JobSnoozeError
			switch {
			case errors.As(err, &snooze):
				outcome = "snoozed"
			case err != nil:
				outcome = "error"
			}
			observe(job.Kind, outcome, time.Since(start))
		}
		return err
	})
}

// tenantMiddleware puts the tenant named by a job's "tenant_id" argument in
// its context. A job whose tenant_id is present but not a uuid is
// cancelled: retrying cannot fix it.
func tenantMiddleware(ctx context.Context, job *rivertype.JobRow, next func(context.Context) error) error {
	var args struct {
		TenantID *string `json:"tenant_id"`
	}
	if err := json.Unmarshal(job.EncodedArgs, &args); err != nil {
		return river.JobCancel(fmt.Errorf("decode %s job args: %w", job.Kind, err))
	}
	if args.TenantID == nil {
		return next(ctx)
	}
	id, err := uuid.Parse(*args.TenantID)
	if err != nil || id == uuid.Nil {
		return river.JobCancel(fmt.Errorf("%s job has a bad tenant_id %q", job.Kind, *args.TenantID))
	}
	return next(tenancy.WithTenant(ctx, id))
}

// quietHandler drops River's records below min: its info logs (producer
// counts every few seconds) drown Trident's own at the default level.
type quietHandler struct {
	slog.Handler
	min slog.Level
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as), h.min}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name), h.min}
}
