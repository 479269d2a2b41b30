package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
	"github.com/tridentmdm/trident/workers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const audience = "trident-api"

// world is two MSPs, each with a tenant, and a caller for every role.
type world struct {
	url        string
	db         *tenancy.DB
	dir        *tenancy.Directory
	mspA, mspB tenancy.MSP
	a, b       tenancy.Tenant
	tokens     map[string]string // caller name -> bearer token
	pub        *events.Publisher
	bus        *events.Bus
	inv        *inventory.Inventory
	cmds       *commands.Queue
	comp       *compliance.Compliance
	msp        *msp.Service
	jobs       *jobs.Client
}

// callers, by name, with the groups their tokens carry (filled with the
// world's slugs).
func callers(w *world) map[string][]string {
	return map[string][]string{
		"msp-admin-a":  {"/trident/msp/" + w.mspA.Slug + "/admin"},
		"admin-a":      {"/trident/msp/" + w.a.MSPSlug + "/tenant/" + w.a.Slug + "/admin"},
		"operator-a":   {"/trident/msp/" + w.a.MSPSlug + "/tenant/" + w.a.Slug + "/operator"},
		"viewer-a":     {"/trident/msp/" + w.a.MSPSlug + "/tenant/" + w.a.Slug + "/viewer"},
		"admin-b":      {"/trident/msp/" + w.b.MSPSlug + "/tenant/" + w.b.Slug + "/admin"},
		"msp-admin-b":  {"/trident/msp/" + w.mspB.Slug + "/admin"},
		"tech-a":       {"/trident/msp/" + w.mspA.Slug + "/technician"},
		"no-roles":     {},
		"limited-user": {"/trident/msp/" + w.a.MSPSlug + "/tenant/" + w.a.Slug + "/viewer"},
		longCaller:     {"/trident/msp/" + w.a.MSPSlug + "/tenant/" + w.a.Slug + "/admin"},
	}
}

// longCaller is an admin of tenant a whose subject is as long as OIDC
// allows (255 characters).
var longCaller = "admin-" + strings.Repeat("x", 249)

func newWorld(t testing.TB, limits api.Limits) *world {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, dir: dir, tokens: map[string]string{}}
	u := uuid.NewString()[:6]
	for _, x := range []struct {
		m *tenancy.MSP
		t *tenancy.Tenant
		n string
	}{{&w.mspA, &w.a, "a"}, {&w.mspB, &w.b, "b"}} {
		if *x.m, err = dir.CreateMSP(ctx, "msp-"+x.n+"-"+u, "MSP "+x.n); err != nil {
			t.Fatal(err)
		}
		if *x.t, err = dir.CreateTenant(ctx, x.m.ID, "tenant-"+x.n+"-"+u, "Tenant "+x.n); err != nil {
			t.Fatal(err)
		}
	}
	var clients []devidp.Client
	for name, groups := range callers(w) {
		clients = append(clients, devidp.Client{ID: name, Secret: "secret", Audience: []string{audience},
			Claims: map[string]any{"groups": groups}})
	}
	p := testenv.StartIDP(t, clients...)
	for name := range callers(w) {
		w.tokens[name] = p.Token(t, name, "secret")
	}
	v, err := identity.NewVerifier(p.Issuer, audience, identity.DefaultClaims())
	if err != nil {
		t.Fatal(err)
	}
	log := testenv.Logger(t)
	store := events.NewStore(db)
	sealKey, _, _ := seal.NewRandomKey()
	keys := seal.NewKeyring(sealKey)
	late := &jobs.Late{}
	w.pub = events.NewPublisher(late, events.WithReaction(compliance.Reaction))
	w.inv = inventory.New(db, w.pub)
	w.cmds = commands.New(db, w.inv, w.pub, commands.WithSecrets(keys), commands.WithDelivery(late))
	w.comp = compliance.New(db, w.inv, w.cmds, w.pub)
	w.msp = msp.New(db, dir, w.inv, w.comp, store, nil).WithCommands(w.cmds)
	jobs, err := workers.New(workers.Deps{DB: db, Directory: dir, Events: store, Log: log, MSP: w.msp,
		Webhooks: events.NewSender(db, events.SenderOptions{AllowPrivateNetworks: true, Keys: keys}),
		Commands: w.cmds, Inventory: w.inv, Compliance: w.comp},
		workers.Config{Schema: migrations.RiverSchema, EventRetention: time.Hour, SweepInterval: time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	late.Set(jobs)
	w.jobs = jobs
	if err := jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jobs.Stop(context.Background()) })
	w.bus = events.NewBus(store, log)
	listener := events.NewListener(db.Writer().Config().ConnConfig, log)
	listener.Handle(events.Channel, w.bus.Handler())
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { w.bus.Run(lctx); done <- struct{}{} }()
	go func() { listener.Run(lctx); done <- struct{}{} }()
	t.Cleanup(func() { stop(); <-done; <-done })
	a := api.New(api.Deps{DB: db, Directory: dir, Auth: v, Events: store, Bus: w.bus, Audit: audit.NewStore(db, w.pub),
		Publisher: w.pub, Webhooks: events.NewWebhooks(db, w.pub, events.URLPolicy{AllowHTTP: true}, keys), Tenants: tenants.New(db, dir, w.pub), Keys: keys,
		Inventory: w.inv, Commands: w.cmds, Compliance: w.comp, Jobs: late, Log: log, Limits: limits, MSP: w.msp})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do calls the API as caller ("" for no token).
func (w *world) do(t *testing.T, caller, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if caller != "" {
		req.Header.Set("Authorization", "Bearer "+w.tokens[caller])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return response{status: resp.StatusCode, header: resp.Header} // a stream: see stream_test.go
	}
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r response) detail() string { s, _ := r.body["detail"].(string); return s }

// isProblem checks the RFC 9457 shape of an error answer.
func isProblem(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if r.body["status"] != float64(status) || r.body["title"] == "" || r.detail() == "" {
		t.Errorf("problem details lack status, title or detail: %s", r.raw)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

func TestProblemsAndRequestIDs(t *testing.T) {
	w := newWorld(t, api.Limits{})
	isProblem(t, w.do(t, "", "GET", "/v1/tenants/"+w.a.Slug, nil), 401)
	r := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug, nil, "Authorization", "Bearer forged.token.here")
	isProblem(t, r, 401)
	if !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	isProblem(t, w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/hostnames", map[string]any{"hostname": "x.trident.test"}), 422)
	isProblem(t, w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/hostnames", map[string]any{"nope": 1}), 422)
	isProblem(t, w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/events?cursor=garbage", nil), 422)
	r = w.do(t, "viewer-a", "GET", "/v1/me", nil, "X-Request-Id", "client-chosen-id-1")
	if r.header.Get("X-Request-Id") != "client-chosen-id-1" {
		t.Errorf("X-Request-Id %q; want the client's own", r.header.Get("X-Request-Id"))
	}
}

func TestTenantETags(t *testing.T) {
	w := newWorld(t, api.Limits{})
	path := "/v1/tenants/" + w.a.Slug
	r := w.do(t, "admin-a", "GET", path, nil)
	tag := r.header.Get("ETag")
	if r.status != 200 || tag == "" {
		t.Fatalf("GET: %d ETag %q", r.status, tag)
	}
	r = w.do(t, "admin-a", "PATCH", path, map[string]any{"name": "Renamed"}, "If-Match", tag)
	if r.status != 200 || r.body["name"] != "Renamed" || r.header.Get("ETag") == tag {
		t.Fatalf("PATCH with the current ETag: %d %s (ETag %q)", r.status, r.raw, r.header.Get("ETag"))
	}
	isProblem(t, w.do(t, "admin-a", "PATCH", path, map[string]any{"name": "Lost update"}, "If-Match", tag), 412)
	isProblem(t, w.do(t, "admin-a", "PATCH", path, map[string]any{"name": "x"}, "If-Match", `"nonsense"`), 412)
	if got := w.do(t, "admin-a", "GET", path, nil); got.body["name"] != "Renamed" {
		t.Fatalf("a stale update was applied: %s", got.raw)
	}
	// Suspending is the MSP's decision, not the tenant admin's.
	isProblem(t, w.do(t, "admin-a", "PATCH", path, map[string]any{"status": "suspended"}), 403)
	if r := w.do(t, "msp-admin-a", "PATCH", path, map[string]any{"status": "suspended"}); r.status != 200 || r.body["status"] != "suspended" {
		t.Fatalf("MSP admin suspends: %d %s", r.status, r.raw)
	}
	// Each change is in the audit log, with who and which request.
	r = w.do(t, "admin-a", "GET", path+"/audit?action=update-tenant", nil)
	items, _ := r.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("audit entries for update-tenant: %s", r.raw)
	}
	newest := items[0].(map[string]any)
	if newest["actor"] != "msp-admin-a" || newest["request_id"] == "" || newest["target"] != path {
		t.Errorf("newest audit entry %v", newest)
	}
}

func TestPagination(t *testing.T) {
	w := newWorld(t, api.Limits{})
	ctx := context.Background()
	for i := range 4 {
		if _, err := w.dir.CreateTenant(ctx, w.mspA.ID, w.a.Slug+"-"+string(rune('a'+i)), "More"); err != nil {
			t.Fatal(err)
		}
	}
	var slugs []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		r := w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/tenants?limit=2&sort=-slug&cursor="+cursor, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		for _, it := range r.body["items"].([]any) {
			slugs = append(slugs, it.(map[string]any)["slug"].(string))
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	want := []string{w.a.Slug + "-d", w.a.Slug + "-c", w.a.Slug + "-b", w.a.Slug + "-a", w.a.Slug}
	if strings.Join(slugs, ",") != strings.Join(want, ",") {
		t.Fatalf("pages gave %v, want %v", slugs, want)
	}
	isProblem(t, w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/tenants?limit=201", nil), 422)
	r := w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/tenants?limit=1&sort=slug", nil)
	isProblem(t, w.do(t, "msp-admin-a", "GET", "/v1/msps/"+w.mspA.Slug+"/tenants?sort=created_at&cursor="+r.body["next_cursor"].(string), nil), 422)
}

func TestRateLimits(t *testing.T) {
	// A token every 10 s: however slow the machine, the third request
	// comes before the next token.
	w := newWorld(t, api.Limits{CallerRate: 0.1, CallerBurst: 2, TenantRate: 100, TenantBurst: 100})
	for i := range 2 {
		if r := w.do(t, "viewer-a", "GET", "/v1/me", nil); r.status != 200 {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := w.do(t, "viewer-a", "GET", "/v1/me", nil)
	isProblem(t, r, 429)
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 10 {
		t.Errorf("Retry-After %q; want 1 to 10 s at 0.1 requests/s", r.header.Get("Retry-After"))
	}
	// Another caller has its own bucket.
	if r := w.do(t, "admin-a", "GET", "/v1/me", nil); r.status != 200 {
		t.Fatalf("another caller: %d", r.status)
	}
}

// A suspended tenant can be read and not changed, by anyone, until its
// MSP resumes it; the operations that can change it say so in the
// document.
func TestSuspendedTenantIsReadOnly(t *testing.T) {
	w := newWorld(t, api.Limits{})
	path := "/v1/tenants/" + w.a.Slug
	if r := w.do(t, "msp-admin-a", "PATCH", path, map[string]any{"status": "suspended"}); r.status != 200 {
		t.Fatalf("suspend: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "admin-a", "GET", path+"/devices", nil); r.status != 200 {
		t.Fatalf("reading a suspended tenant: %d %s", r.status, r.raw)
	}
	for _, who := range []string{"admin-a", "msp-admin-a"} {
		r := w.do(t, who, "POST", path+"/groups", map[string]any{"name": "Kiosks"})
		isProblem(t, r, 409)
		if !strings.Contains(r.detail(), "suspended") {
			t.Errorf("%s's change to a suspended tenant: %q, want it to say why", who, r.detail())
		}
		isProblem(t, w.do(t, who, "PATCH", path, map[string]any{"name": "Renamed while suspended"}), 409)
	}
	if r := w.do(t, "admin-a", "GET", path+"/groups", nil); r.status != 200 || len(r.body["items"].([]any)) != 0 {
		t.Fatalf("a refused change was made: %d %s", r.status, r.raw)
	}
	// Resuming is the one change a suspended tenant takes, and the MSP's.
	isProblem(t, w.do(t, "admin-a", "PATCH", path, map[string]any{"status": "active"}), 403)
	if r := w.do(t, "msp-admin-a", "PATCH", path, map[string]any{"status": "active"}); r.status != 200 || r.body["status"] != "active" {
		t.Fatalf("resume: %d %s", r.status, r.raw)
	}
	if r := w.do(t, "admin-a", "POST", path+"/groups", map[string]any{"name": "Kiosks"}); r.status != 201 {
		t.Fatalf("a change after resuming: %d %s", r.status, r.raw)
	}

	doc := w.do(t, "admin-a", "GET", "/openapi.json", nil)
	var spec struct {
		Paths map[string]map[string]struct {
			ID        string                    `json:"operationId"`
			Access    map[string]any            `json:"x-trident-access"`
			Responses map[string]map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(doc.raw), &spec); err != nil {
		t.Fatal(err)
	}
	for _, ops := range spec.Paths {
		for method, op := range ops {
			if op.Access["scope"] != "tenant" || method == "get" {
				continue
			}
			if _, ok := op.Responses["409"]; !ok {
				t.Errorf("%s changes a tenant and does not document 409 (suspended)", op.ID)
			}
		}
	}
}
