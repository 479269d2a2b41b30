package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/dashboard"
	"github.com/tridentmdm/trident/internal/egress"
	"github.com/tridentmdm/trident/internal/lastseen"
	"github.com/tridentmdm/trident/internal/metrics"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/migrations"
	androidproto "github.com/tridentmdm/trident/protocols/android"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/protocols/windows"
	androidsvc "github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/services/push"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
	"github.com/tridentmdm/trident/workers"
)

// roles says what a process does: serve HTTP for devices, API and
// dashboard; work jobs; or both (dev).
type roles struct{ serve, work bool }

// app is one running Trident process: the only place concrete parts are
// built and connected.
type app struct {
	cfg   serverConfig
	log   *slog.Logger
	roles roles

	db       *tenancy.DB
	dir      *tenancy.Directory
	resolver *tenancy.Resolver
	events   *events.Store
	bus      *events.Bus
	// mspChanges wakes the open MSP consoles when a rollup changes.
	mspChanges *msp.Changes
	listener   *events.Listener
	river      *jobs.Client
	api        *api.API
	scep       *apple.SCEP
	mdm        http.Handler
	ade        http.Handler
	android    *androidproto.Handler
	dash       *dashboard.Dashboard
	windows    *windows.Handler
	brand      *tenants.Service // tenants' branding, on their enrollment pages
	metrics    *metrics.Metrics
	seen       []*lastseen.Batch

	stopping atomic.Bool
}

func newApp(ctx context.Context, cfg serverConfig, dbs databases, r roles, log *slog.Logger) (_ *app, err error) {
	db, err := tenancy.Open(ctx, dbs.app, dbs.reader)
	if err != nil {
		return nil, err
	}
	defer func() { // one cleanup for every failure below
		if err != nil {
			db.Close()
		}
	}()
	a := &app{cfg: cfg, log: log, roles: r, db: db, metrics: metrics.New()}
	if err := migrations.Current(ctx, db.Writer()); err != nil {
		return nil, err
	}
	if a.dir, err = tenancy.NewDirectory(db, cfg.baseDomain); err != nil {
		return nil, err
	}
	a.dir.UseDNS(tenancy.DNSResolver(cfg.dnsServer))
	a.listen()
	keys, err := cfg.keyring()
	if err != nil {
		return nil, err
	}
	// Check-ins without news hand their last-contact times to batches,
	// written every seenFlush (see serve).
	devicesSeen := lastseen.New(db, "devices", inventory.SeenUpdate)
	enrollmentsSeen := lastseen.New(db, "apple_enrollments", mdmstore.SeenUpdate)
	a.seen = []*lastseen.Batch{devicesSeen, enrollmentsSeen}
	appleStore := mdmstore.New(db, keys, mdmstore.BatchSeen(enrollmentsSeen))
	// The services that enqueue jobs exist before the River client that
	// also works those jobs; LateJobs joins them once it does.
	jobs := &jobs.Late{}
	pub := newPublisher(jobs)
	inv := inventory.New(db, pub, inventory.BatchSeen(devicesSeen))
	certs := pki.New(db, pub, keys)
	cmds := commands.New(db, inv, pub, append(platformCommands(),
		commands.WithAcknowledged("erase", certs.RevokeErased),
		commands.WithDelivery(jobs), commands.WithSecrets(keys),
		commands.WithObserver(func(s commands.Status) { a.metrics.CommandStatus(string(s)) }))...)
	comp := compliance.New(db, inv, cmds, pub)
	tenantsSvc := tenants.New(db, a.dir, pub)
	// The URL devices reach a tenant at (its hostname under the base
	// domain), and the same from a tenant's id for the services that hand
	// devices a URL from a job.
	deviceURL := func(t tenancy.Tenant) string {
		return apple.TenantURL(t.Slug, a.dir.BaseDomain(), cfg.deviceScheme, cfg.devicePort)
	}
	deviceURLOf := func(path string) func(context.Context, uuid.UUID) (string, error) {
		return func(ctx context.Context, id uuid.UUID) (string, error) {
			t, err := a.dir.Tenant(ctx, id)
			if err != nil {
				return "", err
			}
			return deviceURL(t) + path, nil
		}
	}
	auditLog := audit.NewStore(db, pub)
	abm := dep.New(db, keys, pub, jobs, dep.Options{BaseURL: cfg.depURL, Log: log.With("component", "abm"),
		EnrollURL: deviceURLOf("/ade/enroll"), Support: tenantsSvc.SupportContact})
	apnsOptions, err := cfg.apnsClientOptions(log)
	if err != nil {
		return nil, err
	}
	wakers := map[inventory.Platform]commands.Waker{inventory.Apple: push.AppleWaker{APNs: push.NewAPNs(appleStore, apnsOptions...)}}
	droid, err := cfg.android.service(ctx, db, pub, jobs, inv, cmds, deviceURLOf("/android/callback"), androidBrand(tenantsSvc, deviceURLOf("/branding/logo")), log)
	if err != nil {
		return nil, err
	}
	if droid != nil {
		wakers[inventory.Android] = androidsvc.Waker{S: droid}
	}
	webhooks := events.NewWebhooks(db, pub, events.URLPolicy{AllowHTTP: cfg.egressPrivate}, keys)
	finder := attention.New(attention.Sources{Push: appleStore, ABM: abm, Inventory: inv, Compliance: comp, Webhooks: webhooks,
		Directory: a.dir, Identities: certs, Android: droid, Bulks: cmds}, time.Now)
	console := msp.New(db, a.dir, inv, comp, a.events, finder).WithCommands(cmds).WithAndroid(droid)
	profiles := apple.NewProfiles(certs, appleStore, a.dir.BaseDomain(), cfg.deviceScheme, cfg.devicePort).WithBranding(tenantsSvc)
	appleEnroll := enrollment.NewApple(db, certs, inv, cmds, pub)
	renewer := &apple.Renewer{Dir: a.dir, Profiles: profiles, Apple: appleEnroll,
		Window: cfg.identityRenewal, Log: log.With("component", "identity-renewal")}
	a.river, err = workers.New(workers.Deps{DB: db, Directory: a.dir, Events: a.events, Tenants: tenantsSvc, Log: log,
		Webhooks: events.NewSender(db, events.SenderOptions{AllowPrivateNetworks: cfg.egressPrivate, Keys: keys}),
		Commands: cmds, Inventory: inv, Compliance: comp, DEP: abm, Android: droid, Wakers: wakers, Renewer: renewer, MSP: console},
		workers.Config{Schema: migrations.RiverSchema, EventRetention: cfg.eventRetention, MaxWorkers: cfg.workers, ObserveJob: a.metrics.Job,
			DEPSyncInterval: cfg.depSyncInterval, RollupInterval: cfg.rollupInterval, JobTimeout: cfg.jobTimeout, RescueAfter: cfg.jobRescueAfter}, r.work)
	if err != nil {
		return nil, err
	}
	jobs.Set(a.river)
	winEnroll := enrollment.NewWindows(db, certs, inv, pub, keys).WithEgress(egress.Policy{AllowPrivate: cfg.egressPrivate})
	if r.serve {
		if err := a.edges(cfg, serving{db: db, keys: keys, jobs: jobs, pub: pub, inv: inv, certs: certs, cmds: cmds, comp: comp,
			tenants: tenantsSvc, abm: abm, droid: droid, appleStore: appleStore, profiles: profiles, winEnroll: winEnroll,
			appleEnroll: appleEnroll, audit: auditLog, grants: identity.NewDelegations(db, pub, inv), deviceURL: deviceURL, webhooks: webhooks, msp: console, finder: finder}, log); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// insertOnlyJobs is a River client that inserts jobs for the workers and
// works none: the CLI's, whose changes queue what they cause.
func insertOnlyJobs(db *tenancy.DB) (*jobs.Client, error) {
	return jobs.NewClient(db, &river.Config{Schema: migrations.RiverSchema})
}

// newPublisher is the event publisher of every process that changes
// things, with the reactions events cause (a device's report its
// compliance evaluation, a new hostname its DNS check) queued through
// jobs.
func newPublisher(jobs events.Jobs) *events.Publisher {
	return events.NewPublisher(jobs, events.WithReaction(compliance.Reaction), events.WithReaction(workers.HostnameReaction),
		events.WithReaction(msp.Reaction))
}

// listen sets up the Host resolver and the event bus behind one
// listener of the database's notifications.
func (a *app) listen() {
	a.resolver = tenancy.NewResolver(a.dir)
	a.events = events.NewStore(a.db)
	a.bus = events.NewBus(a.events, a.log.With("component", "events"), events.WithLagObserver(a.metrics.EventLag))
	a.listener = events.NewListener(a.db.Writer().Config().ConnConfig, a.log.With("component", "listener"))
	a.listener.Handle(events.Channel, a.bus.Handler())
	a.mspChanges = msp.NewChanges()
	a.listener.Handle(msp.Channel, a.mspChanges.Handler())
	// Hostname and tenant changes (from any process) drop the Host cache;
	// so does a reconnect, since notices may have been missed meanwhile.
	a.listener.Handle("trident_tenancy", events.Handler{
		Notify:    func(string) { a.resolver.Invalidate() },
		OnConnect: a.resolver.Invalidate,
	})
}

// service is the Android service, or nil when Android management is off
// (no --android-project).
func (c androidConfig) service(ctx context.Context, db *tenancy.DB, pub *events.Publisher, jobs events.Jobs, inv *inventory.Inventory,
	cmds *commands.Queue, callback func(context.Context, uuid.UUID) (string, error), brand func(context.Context) (androidsvc.Brand, error),
	log *slog.Logger) (*androidsvc.Service, error) {
	if c.project == "" {
		return nil, nil
	}
	return androidsvc.New(ctx, db, pub, jobs, inv, cmds, androidsvc.Options{Project: c.project, Topic: c.topic,
		Client: c.clientOptions(), Log: log.With("component", "android"), CallbackURL: callback, Branding: brand})
}

// androidBrand reads the tenant in ctx's branding for its Android
// enterprise, its logo at logoURL on the tenant's own hostname.
func androidBrand(t *tenants.Service, logoURL func(context.Context, uuid.UUID) (string, error)) func(context.Context) (androidsvc.Brand, error) {
	return func(ctx context.Context) (androidsvc.Brand, error) {
		id, err := tenancy.Require(ctx)
		if err != nil {
			return androidsvc.Brand{}, err
		}
		b, err := t.Branding(ctx)
		if err != nil {
			return androidsvc.Brand{}, err
		}
		out := androidsvc.Brand{DisplayName: b.DisplayName, PrimaryColor: b.PrimaryColor}
		if b.LogoHash != "" {
			if out.LogoSHA256, err = hex.DecodeString(b.LogoHash); err != nil {
				return androidsvc.Brand{}, err
			}
			if out.LogoURL, err = logoURL(ctx, id); err != nil {
				return androidsvc.Brand{}, err
			}
		}
		return out, nil
	}
}

// apnsClientOptions are the APNs client's options: Apple's servers, or
// a local APNs (--apns-url, --apns-ca) for tests and load tests.
func (cfg serverConfig) apnsClientOptions(log *slog.Logger) ([]push.Option, error) {
	if cfg.apnsURL == "" {
		return nil, nil
	}
	var pool *x509.CertPool
	if cfg.apnsCA != "" {
		var err error
		if pool, err = loadPool(cfg.apnsCA); err != nil {
			return nil, err
		}
	}
	log.Warn("MDM pushes go to a local APNs, not Apple's", "apns", cfg.apnsURL)
	return []push.Option{push.WithHost(strings.TrimRight(cfg.apnsURL, "/"), func(c *tls.Config) { c.RootCAs = pool })}, nil
}

// serving is what newApp built that the HTTP edges serve.
type serving struct {
	db          *tenancy.DB
	keys        *seal.Keyring
	jobs        *jobs.Late
	pub         *events.Publisher
	inv         *inventory.Inventory
	certs       *pki.PKI
	cmds        *commands.Queue
	comp        *compliance.Compliance
	tenants     *tenants.Service
	abm         *dep.Service
	droid       *androidsvc.Service
	appleStore  *mdmstore.Store
	profiles    *apple.Profiles
	winEnroll   *enrollment.Windows
	appleEnroll *enrollment.Apple
	audit       *audit.Store
	grants      *identity.Delegations
	deviceURL   func(tenancy.Tenant) string
	webhooks    *events.Webhooks
	msp         *msp.Service
	finder      *attention.Finder
}

// edges builds the HTTP edges of a serving process: the device
// protocols, the dashboard and the API.
func (a *app) edges(cfg serverConfig, s serving, log *slog.Logger) error {
	a.scep = apple.NewSCEP(s.certs, log.With("component", "scep"))
	a.brand = s.tenants
	v, err := identity.NewVerifier(cfg.oidc.issuer, cfg.oidc.audience, cfg.oidc.claims())
	if err != nil {
		return err
	}
	mdmLog := log.With("component", "apple-mdm")
	if a.mdm, err = apple.NewMDM(s.db, s.appleStore, s.certs, apple.NewService(s.appleEnroll, s.inv, mdmLog),
		apple.MDMOptions{Identity: apple.Identity(cfg.appleIdentity), Header: cfg.appleIdentityHeader}, mdmLog); err != nil {
		return err
	}
	var vendor *apple.Vendor
	if cfg.appleVendorCert != "" {
		if vendor, err = apple.LoadVendor(cfg.appleVendorCert, cfg.appleVendorKey); err != nil {
			return err
		}
	}
	appleEdge := appleAPI{store: s.appleStore, requests: apple.NewPushRequests(s.appleStore, vendor), profiles: s.profiles}
	var deviceCA *x509.CertPool
	if cfg.appleDeviceCA != "" {
		if deviceCA, err = loadPool(cfg.appleDeviceCA); err != nil {
			return err
		}
	}
	if s.droid != nil {
		a.android = androidproto.NewHandler(s.droid, a.dir, androidproto.NewPushVerifier(cfg.android.pushIssuer,
			cfg.android.pushAudience, cfg.android.pushAccount), log.With("component", "android"))
	}
	if id := cfg.windowsIdentitySource(); id != "" {
		if a.windows, err = windows.New(s.db, s.winEnroll, s.certs, s.inv, s.cmds, windows.Options{Scheme: cfg.deviceScheme,
			Identity: windows.Identity(id), Header: cfg.windowsIdentityHeader, Poll: cfg.windowsPoll, Keys: s.keys,
			Egress: egress.Policy{AllowPrivate: cfg.egressPrivate}, ServerName: s.tenants.ServerName}, log.With("component", "windows")); err != nil {
			return err
		}
	} else {
		log.Info("Windows endpoints are off: Trident does not terminate TLS, so it cannot see Windows devices' certificates; set --windows-device-identity header behind a proxy that terminates mutual TLS")
	}
	webhooks := s.webhooks
	if cfg.oidc.dashboardClient != "" {
		if a.dash, err = dashboard.New(s.db, a.dir, s.inv, s.cmds, dashboard.Options{PKI: s.certs, Issuer: cfg.oidc.issuer, ClientID: cfg.oidc.dashboardClient,
			ClientSecret: cfg.oidc.dashboardSecret, RolesEvery: cfg.oidc.dashboardRoles, Audience: cfg.oidc.audience, Claims: cfg.oidc.claims(), BaseURL: cfg.platformURL(),
			Keys: s.keys, Bus: a.bus, Events: a.events, Compliance: s.comp, Audit: s.audit, StreamsPerPerson: cfg.apiLimits.Streams,
			Windows: windowsEnrollment(a.windows, s.winEnroll), DeviceURL: s.deviceURL, Alerts: tenantAlerts(s.finder), MSP: s.msp, Changes: a.mspChanges, Jobs: s.jobs, Apple: appleDashboard{appleEdge}, DEP: s.abm, Android: s.droid,
			Webhooks: webhooks, Publisher: s.pub, Tenants: s.tenants, Grants: s.grants}, log.With("component", "dashboard")); err != nil {
			return err
		}
	}
	a.ade = apple.NewADE(a.dir, s.abm, s.profiles, deviceCA, log.With("component", "ade"))
	a.api = api.New(api.Deps{DB: s.db, Directory: a.dir, Tenants: s.tenants, Keys: s.keys, Auth: v, Events: a.events, Bus: a.bus, Limits: cfg.apiLimits,
		Publisher: s.pub, Inventory: s.inv, Commands: s.cmds, Compliance: s.comp, Jobs: s.jobs, PKI: s.certs, AppleEnrollment: appleEdge, ApplePush: appleEdge, DEP: s.abm, Android: s.droid,
		Windows: windowsEnrollment(a.windows, s.winEnroll), DeviceURL: s.deviceURL, Webhooks: webhooks,
		Audit: s.audit, Grants: s.grants, MSP: s.msp, Log: log.With("component", "api")})
	return nil
}

// run serves until ctx ends, then shuts down gracefully: readiness turns
// false, in-flight requests finish, running jobs finish (or are cancelled
// at the shutdown timeout), then the connections close.
func (a *app) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.listen)
	if err != nil {
		a.db.Close()
		return fmt.Errorf("listen on %s: %w", a.cfg.listen, err)
	}
	return a.serve(ctx, ln)
}

// seenFlush is how often batched last-contact times are written: how late
// a device's last contact may reach the database, on top of
// inventory.SeenPrecision.
const seenFlush = 5 * time.Second

// serve is run on a listener of the caller's.
func (a *app) serve(ctx context.Context, ln net.Listener) (err error) {
	defer a.db.Close()
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if a.cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.tlsCert, a.cfg.tlsKey)
		if err != nil {
			return err
		}
		// Devices may present their identity certificate; whether it is
		// acceptable is the tenant's CA's call (pki.Verify), not the
		// handshake's, and a device never fails TLS for lack of one.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert,
			MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.bus.Run(bg) })
	wg.Go(func() { _ = a.listener.Run(bg) })
	for _, b := range a.seen {
		// Stopped with bg, after the server's last request: the last
		// flush then loses nothing.
		wg.Go(func() { b.Run(bg, seenFlush, a.log) })
	}
	if a.roles.work {
		if err = a.river.Start(bg); err != nil {
			stopBG()
			wg.Wait()
			return fmt.Errorf("start workers: %w", err)
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if a.cfg.pprofListen != "" {
		// Go's profiles, on a listener of their own: never on the public
		// mux, where every tenant hostname and the internet reach.
		pl, perr := net.Listen("tcp", a.cfg.pprofListen)
		if perr != nil {
			a.log.Error("pprof listener", "err", perr)
		} else {
			psrv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = psrv.Serve(pl) }()
			defer psrv.Close()
			a.log.Warn("Go profiles are served", "pprof", "http://"+pl.Addr().String()+"/debug/pprof/")
		}
	}
	a.log.Info("trident running", "listen", ln.Addr().String(), "base_domain", a.dir.BaseDomain(),
		"serve", a.roles.serve, "work", a.roles.work)

	select {
	case err = <-serveErr:
		a.log.Error("HTTP server stopped", "err", err)
	case <-ctx.Done():
	}
	a.stopping.Store(true)
	a.log.Info("shutting down", "timeout", a.cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.shutdownTimeout)
	defer cancel()
	if herr := srv.Shutdown(sctx); herr != nil {
		a.log.Warn("requests still running at the shutdown timeout", "err", herr)
	}
	if a.roles.work {
		if rerr := a.river.Stop(sctx); rerr != nil {
			a.log.Warn("jobs still running at the shutdown timeout; cancelling them", "err", rerr)
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = a.river.StopAndCancel(cctx)
			ccancel()
		}
	}
	stopBG()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.log.Info("stopped")
	return err
}

// windowsEnrollment is the enrollment service the API offers: none while
// the Windows endpoints are off.
func windowsEnrollment(h *windows.Handler, w *enrollment.Windows) *enrollment.Windows {
	if h == nil {
		return nil
	}
	return w
}

// pprofMux serves net/http/pprof's handlers.
func pprofMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

// platformCommands routes each platform's commands through its protocol's
// translator (commands.Dispatcher).
func platformCommands() []commands.Option {
	return []commands.Option{commands.WithDispatcher(inventory.Apple, apple.Dispatcher()),
		commands.WithChecker(inventory.Android, androidsvc.Dispatcher{}), commands.WithChecker(inventory.Windows, windows.Commands{})}
}
