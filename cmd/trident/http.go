package main

import (
	"cmp"
	"context"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/protocols/windows"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// handler routes a request: health checks on any host; the base domain to
// the platform (API and dashboard arrive there); every other host to its
// tenant's device endpoints.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", a.internalOnly(a.metrics.Handler()))

	platform := http.NewServeMux()
	platform.HandleFunc("GET /{$}", a.platformHome)
	if a.api != nil {
		h := a.api.Handler()
		for _, p := range []string{"/v1/", "/openapi.json", "/openapi.yaml", "/openapi-3.0.json", "/openapi-3.0.yaml", "/schemas/", "/docs", "/docs/"} {
			platform.Handle(p, h)
		}
	}

	if a.dash != nil {
		a.dash.Routes(platform)
	}

	device := http.NewServeMux()
	device.HandleFunc("GET /{$}", a.tenantHome)
	device.HandleFunc("GET /branding/logo", a.tenantLogo)
	if a.scep != nil {
		// A suspended tenant's enrolled devices check in; new ones do not
		// enroll (tenancy.Enrolling). SCEP issues first identities.
		device.Handle("/scep", a.countDevice("apple", tenancy.Enrolling(a.scep)))
		device.Handle("/mdm", a.countDevice("apple", a.deviceAddr(a.mdm)))
		device.Handle("/ade/enroll", a.countDevice("apple", tenancy.Enrolling(a.ade)))
	}
	if a.android != nil {
		a.android.Routes(device)
	}
	if a.windows != nil {
		win := http.NewServeMux()
		a.windows.Routes(win)
		device.Handle(windows.ManagementPath, a.countDevice("windows", a.deviceAddr(win)))
		for _, p := range []string{windows.DiscoveryPath, windows.PolicyPath, windows.EnrollmentPath, windows.AuthPath, windows.AuthPath + "/callback"} {
			device.Handle(p, a.countDevice("windows", tenancy.Enrolling(a.deviceAddr(win))))
		}
	}
	tenant := a.resolver.Middleware(a.log, device)

	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.resolver.IsBase(r.Host) {
			platform.ServeHTTP(w, r)
			return
		}
		tenant.ServeHTTP(w, r)
	}))
	return a.logRequests(mux)
}

// deviceAddr serves next a device's own request knowing the address it
// came from (through --trusted-proxies), which the inventory records:
// the check-in endpoints, not a vendor's cloud posting for devices.
func (a *app) deviceAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr := a.cfg.proxies.From(r); addr.IsValid() {
			r = r.WithContext(inventory.WithAddr(r.Context(), addr))
		}
		next.ServeHTTP(w, r)
	})
}

// internalOnly serves next only to names Trident does not serve the
// public on: not the platform's base domain, not a tenant's hostname (the
// metrics are for a scraper reaching the process by its address or an
// internal name).
func (a *app) internalOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := tenancy.NormalizeHost(r.Host)
		if err == nil && (a.resolver.IsBase(h) || strings.HasSuffix(h, "."+a.dir.BaseDomain())) {
			http.NotFound(w, r)
			return
		}
		if _, err := a.resolver.Resolve(r.Context(), r.Host); err == nil {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ready answers 200 when the database is reachable and its schema is the one
// this binary needs, and 503 (with the reason) otherwise or while shutting
// down, so load balancers stop sending work first.
func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status := map[string]string{"status": "ready"}
	code := http.StatusOK
	if a.stopping.Load() {
		status, code = map[string]string{"status": "shutting down"}, http.StatusServiceUnavailable
	} else if err := a.db.Ping(ctx); err != nil {
		// The reason is logged, not answered: /readyz is reachable by anyone.
		a.log.WarnContext(ctx, "not ready: database unreachable", "err", err)
		status, code = map[string]string{"status": "database unreachable"}, http.StatusServiceUnavailable
	} else if err := migrations.Current(ctx, a.db.Writer()); err != nil {
		a.log.WarnContext(ctx, "not ready: migrations pending", "err", err)
		status, code = map[string]string{"status": "migrations pending"}, http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(status)
}

var pages = template.Must(template.New("platform").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trident</title></head>
<body><h1>Trident</h1><p>Version {{.Version}}. This is the platform's own name: the API and the dashboard are served here.
Each tenant's devices use the tenant's own hostname, <code>{slug}.{{.Base}}</code>.</p></body></html>
{{define "tenant"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Name}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
header{border-bottom:4px solid {{.Color}};padding-bottom:1rem;display:flex;gap:1rem;align-items:center}
header img{max-height:64px;max-width:200px}h1{margin:0;font-size:1.6rem}a{color:{{.Accent}}}</style></head>
<body><header>{{if .Logo}}<img src="/branding/logo" alt="">{{end}}<h1>{{.Name}}</h1></header>
<p>Device management for {{.Name}} is served at this address.</p>
{{if .Support}}<p>Help: {{with .B.SupportEmail}}<a href="mailto:{{.}}">{{.}}</a> {{end}}{{with .B.SupportPhone}}<a href="tel:{{.}}">{{.}}</a> {{end}}{{with .B.SupportURL}}<a href="{{.}}">{{.}}</a>{{end}}</p>{{end}}
</body></html>
{{end}}`))

func (a *app) platformHome(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.Execute(w, map[string]string{"Version": version, "Base": a.dir.BaseDomain()})
}

func (a *app) tenantHome(w http.ResponseWriter, r *http.Request) {
	id, _ := tenancy.FromContext(r.Context())
	t, err := a.dir.Tenant(r.Context(), id)
	if err != nil {
		a.log.ErrorContext(r.Context(), "tenant home", "tenant", id, "err", err)
		http.Error(w, "tenant directory unavailable", http.StatusServiceUnavailable)
		return
	}
	var b tenants.Branding
	if a.brand != nil {
		if b, err = a.brand.Branding(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "tenant home: branding", "tenant", t.Slug, "err", err)
		}
	}
	// The colours are checked #rrggbb (tenants.Branding); html/template
	// keeps anything else out of the style sheet anyway.
	color, accent := cmp.Or(b.PrimaryColor, "#2563eb"), cmp.Or(b.AccentColor, b.PrimaryColor, "#2563eb")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "tenant", map[string]any{"Name": b.Name(t), "B": b, "Logo": b.LogoType != "", "Support": b.Support() != "",
		"Color": template.CSS(color), "Accent": template.CSS(accent)})
}

// tenantLogo serves the tenant's logo on its own hostname: for its
// enrollment page, and for what a platform fetches (an Android
// enterprise's logo).
func (a *app) tenantLogo(w http.ResponseWriter, r *http.Request) {
	if a.brand == nil {
		http.NotFound(w, r)
		return
	}
	data, typ, err := a.brand.Logo(r.Context())
	if err != nil {
		http.Error(w, "branding unavailable", http.StatusServiceUnavailable)
		return
	}
	if data == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.Write(data)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// countDevice counts device protocol requests by kind: check-ins (and
// SCEP) apart from command requests.
func (a *app) countDevice(platform string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		kind := "command"
		switch {
		case r.URL.Path == "/scep":
			kind = "scep"
		case r.URL.Path == "/ade/enroll":
			kind = "ade"
		case strings.HasPrefix(r.URL.Path, "/EnrollmentServer/"):
			kind = "enroll"
		case r.URL.Path == windows.ManagementPath:
			kind = "session"
		case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-apple-aspen-mdm-checkin"):
			kind = "checkin"
		}
		a.metrics.DeviceRequest(platform, kind, rec.code)
	})
}

// logRequests logs each request at debug level, and failures at warn, and
// counts it by route.
func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		a.metrics.Request(route(r), r.Method, rec.code, time.Since(start))
		level := slog.LevelDebug
		if rec.code >= 500 {
			level = slog.LevelWarn
		}
		a.log.Log(r.Context(), level, "request", "method", r.Method, "host", r.Host, "path", r.URL.Path,
			"status", rec.code, "duration", time.Since(start), "request_id", rec.Header().Get("X-Request-Id"))
	})
}

// route names a request for metrics: a few coarse routes, never a path
// with tenants or ids in it.
func route(r *http.Request) string {
	switch p := r.URL.Path; {
	case p == "/healthz" || p == "/readyz" || p == "/metrics" || p == "/scep" || p == "/mdm" || p == "/ade/enroll" ||
		p == "/android/pubsub" || p == "/android/callback" ||
		p == windows.DiscoveryPath || p == windows.PolicyPath || p == windows.EnrollmentPath || p == windows.ManagementPath:
		return p
	case strings.HasPrefix(p, "/v1/"):
		return "/v1"
	case strings.HasPrefix(p, "/docs") || strings.HasPrefix(p, "/openapi") || strings.HasPrefix(p, "/schemas/"):
		return "/docs"
	case strings.HasPrefix(p, "/dashboard"):
		return "/dashboard"
	}
	return "other"
}
