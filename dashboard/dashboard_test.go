package dashboard_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/api/option"

	"github.com/tridentmdm/trident/dashboard"
	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/android"
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
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	t      *testing.T
	url    string
	a, b   tenancy.Tenant
	client *http.Client
	db     *tenancy.DB
	inv    *inventory.Inventory
	comp   *compliance.Compliance
	idp    *testenv.IDP
	dns    *testenv.DNSServer
	pki    *pki.PKI
	msp    *msp.Service
	// lastHeader is the header of postHX's last answer.
	lastHeader http.Header
}

// setup serves the dashboard with two tenants, a device in each, and a
// provider whose user "ana" is an operator of tenant a only.
func setup(t *testing.T) *fixture {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	dns := testenv.DNS(t)
	dir.UseDNS(dns.Resolver())
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	for i, tn := range []tenancy.Tenant{a, b} {
		ctx := tenancy.WithTenant(context.Background(), tn.ID)
		if err := db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "DEV-" + tn.Slug,
				Name: []string{"Reception PC", "Secret Lab Mac"}[i], Model: "Surface", OSVersion: "10.0.22631"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	idp := testenv.StartIDPWith(t, devidp.Config{
		Clients: []devidp.Client{{ID: "trident-dashboard", Secret: "dash-secret", RedirectURIs: []string{srv.URL + "/dashboard/callback"}}},
		Users: []devidp.User{{Subject: "ana", Email: "ana@msp.test", Name: "Ana", Password: "pw",
			Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/tenant/" + a.Slug + "/operator"}}},
			{Subject: "bo", Email: "bo@msp.test", Name: "Bo", Password: "pw",
				Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/tenant/" + a.Slug + "/admin"}}},
			{Subject: "cy", Email: "cy@msp.test", Name: "Cy", Password: "pw",
				Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/tenant/" + a.Slug + "/viewer"}}},
			{Subject: "mo", Email: "mo@msp.test", Name: "Mo", Password: "pw",
				Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/admin"}}},
			{Subject: "tess", Email: "tess@msp.test", Name: "Tess", Password: "pw",
				Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/technician"}}},
			{Subject: "mia", Email: "mia@msp.test", Name: "Mia", Password: "pw",
				Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/admin"}}, AMR: []string{"pwd", "otp"}}},
	})
	k, _, _ := seal.NewRandomKey()
	certs := pki.New(db, events.NewPublisher(nil), seal.NewKeyring(k))
	store := events.NewStore(db)
	bus := events.NewBus(store, slog.New(slog.DiscardHandler))
	listener := events.NewListener(db.Writer().Config().ConnConfig, slog.New(slog.DiscardHandler))
	listener.Handle(events.Channel, bus.Handler())
	changes := msp.NewChanges()
	listener.Handle(msp.Channel, changes.Handler())
	lctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { bus.Run(lctx); done <- struct{}{} }()
	go func() { listener.Run(lctx); done <- struct{}{} }()
	t.Cleanup(func() { stop(); <-done; <-done })
	jobs, err := river.NewClient(riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema})
	if err != nil {
		t.Fatal(err)
	}
	cmds := commands.New(db, inv, events.NewPublisher(nil), commands.WithSecrets(seal.NewKeyring(k)), commands.WithDelivery(jobs))
	console := msp.New(db, dir, inv, compliance.New(db, inv, cmds, events.NewPublisher(nil)), store,
		attention.New(attention.Sources{Inventory: inv, Directory: dir}, time.Now)).WithCommands(cmds)
	droid, err := android.New(context.Background(), db, events.NewPublisher(jobs), jobs, inv, cmds, android.Options{Project: "p", Topic: "projects/p/topics/t",
		Client: []option.ClientOption{option.WithEndpoint("http://127.0.0.1:1/"), option.WithoutAuthentication()}})
	if err != nil {
		t.Fatal(err)
	}
	console.WithAndroid(droid)
	d, err := dashboard.New(db, dir, inv, cmds, dashboard.Options{Issuer: idp.Issuer, ClientID: "trident-dashboard", ClientSecret: "dash-secret",
		Audience: "trident-api", Claims: identity.DefaultClaims(), BaseURL: srv.URL, Keys: seal.NewKeyring(k), Bus: bus, Events: store,
		Compliance: compliance.New(db, inv, cmds, events.NewPublisher(nil)), Audit: audit.NewStore(db, events.NewPublisher(jobs)),
		Windows:   enrollment.NewWindows(db, pki.New(db, events.NewPublisher(nil), seal.NewKeyring(k)), inv, events.NewPublisher(nil), seal.NewKeyring(k)),
		DeviceURL: func(t tenancy.Tenant) string { return "https://" + t.Slug + ".trident.test" },
		PKI:       certs,
		Jobs:      jobs,
		DEP:       dep.New(db, seal.NewKeyring(k), events.NewPublisher(jobs), jobs, dep.Options{BaseURL: "http://127.0.0.1:1", Log: slog.New(slog.DiscardHandler)}),
		Webhooks:  events.NewWebhooks(db, events.NewPublisher(jobs), events.URLPolicy{}, seal.NewKeyring(k)), Publisher: events.NewPublisher(jobs),
		Tenants: tenants.New(db, dir, events.NewPublisher(jobs)),
		MSP:     console, Changes: changes,
		Alerts: func(_ context.Context, t tenancy.Tenant) ([]dashboard.Alert, error) {
			return []dashboard.Alert{{Text: "The Apple push certificate of " + t.Slug + " expires soon"}}, nil
		}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	d.Routes(mux)
	handler = mux
	jar, _ := cookiejar.New(nil)
	return &fixture{t: t, url: srv.URL, a: a, b: b, client: &http.Client{Jar: jar}, db: db, inv: inv,
		comp: compliance.New(db, inv, cmds, events.NewPublisher(nil)), idp: idp, dns: dns, pki: certs, msp: console}
}

func (f *fixture) get(path string, header ...string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.url+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) post(path string, form url.Values) (int, string) {
	f.t.Helper()
	resp, err := f.client.PostForm(f.url+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var reHidden = regexp.MustCompile(`name="(auth_request|csrf)" value="([^"]*)"`)

// signIn follows the login to the provider's form, posts it, and follows
// the redirects back to the dashboard.
func (f *fixture) signIn(user, password string) (int, string) {
	f.t.Helper()
	return f.idp.SignIn(f.t, f.client, f.url+"/dashboard/", user, password)
}

func TestSignInAndSeeOnlyYourTenants(t *testing.T) {
	f := setup(t)
	code, home := f.signIn("ana@msp.test", "pw")
	if code != 200 || !strings.Contains(home, f.a.Name) || strings.Contains(home, f.b.Name) || !strings.Contains(home, "operator") ||
		!strings.Contains(home, "1 of 1 devices enrolled") || !strings.Contains(home, "windows 1") ||
		!strings.Contains(home, "The Apple push certificate of "+f.a.Slug+" expires soon") {
		t.Fatalf("home after sign-in: %d %s", code, home)
	}
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	if code != 200 || !strings.Contains(page, "Reception PC") || strings.Contains(page, "Secret Lab Mac") {
		t.Errorf("tenant a's devices: %d %s", code, page)
	}
	// Editing the URL to the other tenant shows nothing of it.
	code, page = f.get("/dashboard/t/" + f.b.Slug + "/devices")
	if code != 404 || strings.Contains(page, "Secret Lab Mac") {
		t.Errorf("tenant b's devices: %d %s", code, page)
	}
	// htmx asks for the rows alone; search and platform filter.
	code, rows := f.get("/dashboard/t/"+f.a.Slug+"/devices?q=recep&platform=windows", "HX-Request", "true")
	if code != 200 || !strings.Contains(rows, "Reception PC") || strings.Contains(rows, "<html") {
		t.Errorf("rows: %d %s", code, rows)
	}
	if _, rows := f.get("/dashboard/t/"+f.a.Slug+"/devices?q=nothing", "HX-Request", "true"); !strings.Contains(rows, "No devices match") {
		t.Errorf("no match: %s", rows)
	}
	// Assets come from the binary.
	if code, js := f.get("/dashboard/assets/htmx.min.js"); code != 200 || !strings.Contains(js, "htmx") {
		t.Errorf("htmx: %d", code)
	}
	// Signing out needs the page's CSRF token.
	if code, _ := f.post("/dashboard/logout", url.Values{"csrf": {"forged"}}); code != 403 {
		t.Errorf("logout with a forged token: %d", code)
	}
	m := reHidden.FindStringSubmatch(home)
	if m == nil || m[1] != "csrf" {
		t.Fatal("no CSRF token on the page")
	}
	// A copy of the session cookie, kept from before signing out.
	base, _ := url.Parse(f.url + "/dashboard/")
	var kept *http.Cookie
	for _, c := range f.client.Jar.Cookies(base) {
		if c.Name == "trident_session" {
			kept = c
		}
	}
	if kept == nil {
		t.Fatal("no session cookie")
	}
	if code, page := f.post("/dashboard/logout", url.Values{"csrf": {m[2]}}); code != 200 || !strings.Contains(page, "Signed out") {
		t.Errorf("logout: %d %s", code, page)
	}
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); strings.Contains(page, "Reception PC") {
		t.Error("devices still shown after signing out")
	}
	// The outside security test replayed such a copy after logout, and it
	// still worked: sessions are ended server-side now.
	req, _ := http.NewRequest("GET", f.url+"/dashboard/t/"+f.a.Slug+"/devices", nil)
	req.AddCookie(&http.Cookie{Name: kept.Name, Value: kept.Value})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/dashboard/login") {
		t.Errorf("the copied cookie after signing out: %d %s; want the login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestNotSignedIn(t *testing.T) {
	f := setup(t)
	f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("GET", f.url+"/dashboard/t/"+f.a.Slug+"/devices", nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), "/dashboard/login?return=") {
		t.Errorf("a page without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := f.get("/dashboard/t/"+f.a.Slug+"/devices", "HX-Request", "true"); code != 401 {
		t.Errorf("an htmx request without a session: %d", code)
	}
	if code, _ := f.post("/dashboard/logout", nil); code != 401 {
		t.Errorf("a POST without a session: %d", code)
	}
	// A callback that this browser did not start is refused.
	if code, _ := f.get("/dashboard/callback?code=x&state=y"); code != 400 {
		t.Errorf("a stray callback: %d", code)
	}
	// A wrong password stays at the provider.
	f.client.CheckRedirect = nil
	if code, _ := f.signIn("ana@msp.test", "wrong"); code != 401 {
		t.Errorf("a wrong password: %d", code)
	}
}

// A page's rows change as devices report: the stream names the row and
// carries its new HTML, and another tenant's stream is refused.
func TestLiveRows(t *testing.T) {
	f := setup(t)
	f.signIn("ana@msp.test", "pw")
	_, page := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	m := regexp.MustCompile(`sse-connect="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page does not connect to its stream: %s", page)
	}
	live := html.UnescapeString(m[1])
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url+live, nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, ": connected") {
		t.Fatalf("first line %q", line)
	}
	// The device is renamed and reports a new OS version.
	tctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var id string
	if err := f.db.Tx(tctx, func(tx pgx.Tx) error {
		d, err := f.inv.RecordTx(tctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "DEV-" + f.a.Slug, Name: "Front Desk PC", OSVersion: "10.0.26100"})
		id = d.ID.String()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var msg strings.Builder
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before the row came: %v (%q)", err, msg.String())
		}
		msg.WriteString(line)
		if line == "\n" && strings.Contains(msg.String(), "event: device-"+id) {
			break
		}
		if line == "\n" {
			msg.Reset()
		}
	}
	got := msg.String()
	if !strings.Contains(got, "Front Desk PC") || !strings.Contains(got, "10.0.26100") || !strings.Contains(got, `/devices/`+id+`"`) ||
		!regexp.MustCompile(`(?m)^id: \d+$`).MatchString(got) {
		t.Errorf("the row's event: %q", got)
	}
	// The other tenant's stream is not this person's.
	if code, _ := f.get("/dashboard/t/" + f.b.Slug + "/live?after=0"); code != 404 {
		t.Errorf("tenant b's stream: %d", code)
	}
}

func (f *fixture) postHX(path string, form url.Values, csrf string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	f.lastHeader = resp.Header
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The device page, the composer, and a command's state changing live.
func TestSendACommandAndWatchIt(t *testing.T) {
	f := setup(t)
	_, home := f.signIn("ana@msp.test", "pw")
	csrf := reHidden.FindStringSubmatch(home)[2]
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	m := regexp.MustCompile(`href="(/dashboard/t/[^"]+/devices/[0-9a-f-]{36})"`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("no device link: %s", list)
	}
	code, page := f.get(m[1])
	if code != 200 || !strings.Contains(page, "Reception PC") || !strings.Contains(page, `id="composer"`) || !strings.Contains(page, `value="restart"`) ||
		strings.Contains(page, `value="erase"`) {
		t.Fatalf("device page (an operator: no destructive kinds offered): %d %s", code, page)
	}
	send := m[1] + "/commands"
	if code, _ := f.postHX(send, url.Values{"kind": {"restart"}}, ""); code != 403 {
		t.Errorf("a command without the CSRF token: %d", code)
	}
	if code, body := f.postHX(send, url.Values{"kind": {"erase"}, "confirm": {"yes"}}, csrf); code != 403 || !strings.Contains(body, "admin role") {
		t.Errorf("erase as an operator: %d %s", code, body)
	}
	takeover := `{"settings":[{"loc_uri":"./Vendor/MSFT/DMClient/Provider/MS DM Server/ManagementServiceAddress","value":"https://evil.example","format":"chr"}]}`
	if code, body := f.postHX(send, url.Values{"kind": {"apply_settings"}, "payload": {takeover}}, csrf); code != 403 || !strings.Contains(body, "management server") {
		t.Errorf("an operator moving the device to another server: %d %s", code, body)
	}
	if code, body := f.postHX(send, url.Values{"kind": {"restart"}, "payload": {"{not json"}}, csrf); code != 422 || !strings.Contains(body, "JSON") {
		t.Errorf("a bad payload: %d %s", code, body)
	}
	if code, _ := f.postHX("/dashboard/t/"+f.b.Slug+"/devices/"+uuid.NewString()+"/commands", url.Values{"kind": {"restart"}}, csrf); code != 404 {
		t.Errorf("a command in another tenant: %d", code)
	}

	// Follow the page's stream, then send.
	live := html.UnescapeString(regexp.MustCompile(`sse-connect="([^"]+)"`).FindStringSubmatch(page)[1])
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url+live, nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	rd.ReadString('\n')
	code, row := f.postHX(send, url.Values{"kind": {"restart"}}, csrf)
	cm := regexp.MustCompile(`id="command-([0-9a-f-]{36})"`).FindStringSubmatch(row)
	if code != 201 || cm == nil || !strings.Contains(row, `data-status="queued"`) {
		t.Fatalf("send: %d %s", code, row)
	}
	// The device answers (as a platform protocol records it).
	tctx := tenancy.WithTenant(context.Background(), f.a.ID)
	q := commands.New(f.db, f.inv, events.NewPublisher(nil))
	if err := f.db.Tx(tctx, func(tx pgx.Tx) error {
		c, err := q.NextTx(tctx, tx, uuid.MustParse(m[1][strings.LastIndex(m[1], "/")+1:]))
		if err != nil || c == nil {
			return fmt.Errorf("next: %v %v", c, err)
		}
		_, err = q.CompleteTx(tctx, tx, c.DeviceID, c.ID, commands.Outcome{Status: commands.Acknowledged})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var msg strings.Builder
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended: %v", err)
		}
		msg.WriteString(line)
		if line == "\n" {
			if strings.Contains(msg.String(), "event: command-"+cm[1]) && strings.Contains(msg.String(), `data-status="acknowledged"`) {
				break
			}
			msg.Reset()
		}
	}
	// The audit log has it.
	var n int
	f.db.Tx(tctx, func(tx pgx.Tx) error {
		return tx.QueryRow(tctx, `SELECT count(*) FROM audit_log WHERE action = 'queue-command' AND actor = 'ana'`).Scan(&n)
	})
	if n != 1 {
		t.Errorf("audit entries: %d", n)
	}
}

// The overview counts the fleet and draws the check-in chart; the audit
// log is for admins.
func TestOverviewAndAudit(t *testing.T) {
	f := setup(t)
	f.signIn("bo@msp.test", "pw")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/")
	if code != 200 || !strings.Contains(page, `<div class="big">1</div>`) || !strings.Contains(page, "windows: <strong>1</strong>") ||
		!strings.Contains(page, "Enrolled devices by last check-in: &lt; 1 h 1;") || !strings.Contains(page, "no rules evaluated yet") ||
		!strings.Contains(page, `href="/dashboard/t/`+f.a.Slug+`/audit"`) {
		t.Errorf("overview: %d %s", code, page)
	}
	if code, page := f.get("/dashboard/t/" + f.a.Slug + "/audit"); code != 200 || !strings.Contains(page, "Audit log") {
		t.Errorf("audit as an admin: %d %s", code, page)
	}
	// An operator sees the overview but not the audit log.
	jar, _ := cookiejar.New(nil)
	f.client = &http.Client{Jar: jar}
	f.signIn("ana@msp.test", "pw")
	if code, page := f.get("/dashboard/t/" + f.a.Slug + "/"); code != 200 || strings.Contains(page, "/audit") {
		t.Errorf("overview as an operator: %d", code)
	}
	if code, _ := f.get("/dashboard/t/" + f.a.Slug + "/audit"); code != 404 {
		t.Errorf("audit as an operator: %d", code)
	}
	if code, _ := f.get("/dashboard/t/" + f.b.Slug + "/"); code != 404 {
		t.Errorf("another tenant's overview: %d", code)
	}
}

// Operators make Windows enrollment tokens on the enrollment page.
func TestWindowsEnrollmentPage(t *testing.T) {
	f := setup(t)
	_, home := f.signIn("ana@msp.test", "pw")
	csrf := reHidden.FindStringSubmatch(home)[2]
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/enroll")
	if code != 200 || !strings.Contains(page, "<code>"+f.a.Slug+".trident.test</code>") || !strings.Contains(page, "Make a token") {
		t.Fatalf("enrollment page: %d %s", code, page)
	}
	if code, _ := f.postHX("/dashboard/t/"+f.a.Slug+"/enroll/windows", url.Values{"email": {"pc@a.test"}}, ""); code != 403 {
		t.Errorf("without the CSRF token: %d", code)
	}
	code, out := f.postHX("/dashboard/t/"+f.a.Slug+"/enroll/windows", url.Values{"email": {"pc@a.test"}}, csrf)
	tok := regexp.MustCompile(`<code id="token-value">([^<]+)</code>`).FindStringSubmatch(out)
	if code != 200 || tok == nil || !strings.Contains(out, `href="ms-device-enrollment:?accesstoken=`+tok[1]) || !strings.Contains(out, "username=pc%40a.test") {
		t.Fatalf("token: %d %s", code, out)
	}
	// The token is one the Windows enrollment service takes.
	k, _, _ := seal.NewRandomKey()
	w := enrollment.NewWindows(f.db, pki.New(f.db, events.NewPublisher(nil), seal.NewKeyring(k)), f.inv, events.NewPublisher(nil), seal.NewKeyring(k))
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if err := f.db.Within(ctx, func(ctx context.Context) error { return w.CheckToken(ctx, tok[1]) }); err != nil {
		t.Errorf("the token does not enroll: %v", err)
	}
	if code, _ := f.postHX("/dashboard/t/"+f.b.Slug+"/enroll/windows", nil, csrf); code != 404 {
		t.Errorf("a token for another tenant: %d", code)
	}
}

// A command for a group is queued in the background, as the API's bulk
// command, for operators; destructive kinds need an admin.
func TestGroupCommand(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var group inventory.Group
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if group, err = f.inv.CreateGroup(ctx, "Front office"); err != nil {
			return err
		}
		var dev uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT id FROM devices LIMIT 1`).Scan(&dev); err != nil {
			return err
		}
		_, err = f.inv.SetMembers(ctx, group.ID, []uuid.UUID{dev}, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, home := f.signIn("ana@msp.test", "pw")
	csrf := reHidden.FindStringSubmatch(home)[2]
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); !strings.Contains(page, "Front office") || strings.Contains(page, `value="erase"`) {
		t.Errorf("the group composer (an operator: no destructive kinds): %s", page)
	}
	path := "/dashboard/t/" + f.a.Slug + "/commands/group"
	if code, body := f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"erase"}, "confirm": {"yes"}}, csrf); code != 403 {
		t.Errorf("erase for a group as an operator: %d %s", code, body)
	}
	if code, _ := f.postHX(path, url.Values{"group": {uuid.NewString()}, "kind": {"restart"}}, csrf); code != 404 {
		t.Errorf("an unknown group: %d", code)
	}
	code, body := f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"restart"}}, csrf)
	if code != 202 || !strings.Contains(body, "Front office") {
		t.Fatalf("restart for the group: %d %s", code, body)
	}
	var args []byte
	if err := testenv.Superuser(t).QueryRow(context.Background(), `SELECT args FROM `+migrations.RiverSchema+`.river_job WHERE kind = 'commands.bulk'
AND args->>'tenant_id' = $1 AND args->>'command' = 'restart'`, f.a.ID.String()).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(args), group.ID.String()) || !strings.Contains(string(args), `"command": "restart"`) || !strings.Contains(string(args), `"by": "ana"`) {
		t.Errorf("the bulk job: %s", args)
	}
	// A destructive command for a group needs the group's name typed in,
	// as one device's does its name (a ticked box was enough before).
	csrf = f.as("bo")
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); !strings.Contains(page, `name="confirm_name"`) {
		t.Error("the group composer does not ask for the group's name")
	}
	for _, typed := range []string{"", "front office", "yes"} {
		code, body := f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"erase"}, "confirm": {"yes"}, "confirm_name": {typed}}, csrf)
		want(t, "erase a group with "+typed+" typed", code, body, 422, "type the group's name, Front office, to confirm")
	}
	code, body = f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"erase"}, "confirm_name": {"Front office"}}, csrf)
	want(t, "erase the group", code, body, 202, "Front office")

	// Typed fields, not a JSON payload (issue 24): the chosen kind's
	// fields, each saying which devices it is for, checked as a device's
	// form checks them.
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); strings.Contains(page, `name="payload"`) || !strings.Contains(page, "/commands/group/fields") {
		t.Error("the group composer still asks for a JSON payload, or has no typed fields")
	}
	code, body = f.get("/dashboard/t/"+f.a.Slug+"/commands/group/fields?kind=lock", "HX-Request", "true")
	want(t, "the lock's fields", code, body, 200, `name="pin"`, `pattern="\d{6}"`, "(macOS only)", `name="message"`, "(macOS, iOS and iPadOS only)")
	if code, body := f.get("/dashboard/t/"+f.a.Slug+"/commands/group/fields?kind=nothing", "HX-Request", "true"); code != 200 || strings.Contains(body, "<label") {
		t.Errorf("the fields of no kind: %d %s", code, body)
	}
	code, body = f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"lock"}}, csrf)
	want(t, "lock with no PIN", code, body, 422, "fill it in")
	code, body = f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"lock"}, "pin": {"12345"}}, csrf)
	want(t, "lock with a short PIN", code, body, 422, "six digits")
	code, body = f.postHX(path, url.Values{"group": {group.ID.String()}, "kind": {"lock"}, "pin": {"123456"}, "message": {"Call IT"}}, csrf)
	want(t, "lock the group", code, body, 202, "Front office")
}

// One person holds at most events.DefaultStreams live pages open at once;
// the next stream is 429.
func TestLivePagesPerPerson(t *testing.T) {
	f := setup(t)
	f.signIn("ana@msp.test", "pw")
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	m := regexp.MustCompile(`sse-connect="([^"]+)"`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("no live stream on the page: %s", list)
	}
	live := f.url + html.UnescapeString(m[1])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", live, nil)
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := range events.DefaultStreams {
		if resp := open(); resp.StatusCode != 200 {
			t.Fatalf("live page %d: %d", i+1, resp.StatusCode)
		} else {
			defer resp.Body.Close()
		}
	}
	resp := open()
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("one live page more: %d, want 429", resp.StatusCode)
	}
}

// htmx does not swap error answers unless told to (the layout's
// htmx-config does): a refused htmx action answers a fragment for the
// page's flash region, never a whole error page swapped into a table.
func TestRefusedHTMXActionsGoToTheFlash(t *testing.T) {
	f := setup(t)
	_, home := f.signIn("ana@msp.test", "pw")
	if !strings.Contains(home, `"responseHandling"`) || !strings.Contains(home, `id="flash"`) {
		t.Fatalf("the layout does not have htmx swap error answers into a flash region: %s", home)
	}
	req, _ := http.NewRequest("GET", f.url+"/dashboard/t/"+f.b.Slug+"/devices", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	if resp.StatusCode != 404 || resp.Header.Get("HX-Retarget") != "#flash" || resp.Header.Get("HX-Reswap") != "innerHTML" ||
		strings.Contains(body, "<html") || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "no such tenant") {
		t.Errorf("an htmx request for another tenant: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// The audit log filters by who, what, on what and when, and names the
// devices its targets are (issue 24: UUID paths and no filters).
func TestAuditFiltersAndNames(t *testing.T) {
	f := setup(t)
	f.signIn("bo@msp.test", "pw")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var dev inventory.Device
	if err := f.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		dev, err = f.inv.ByIdentifier(ctx, tx, inventory.Windows, "DEV-"+f.a.Slug)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	st := audit.NewStore(f.db, events.NewPublisher(nil))
	for _, e := range []audit.Entry{
		{Actor: "cy", ActorName: "Cy", Action: "queue-command", Target: "/v1/tenants/" + f.a.Slug + "/devices/" + dev.ID.String() + "/commands", Status: 201},
		{Actor: "bo", ActorName: "Bo", Action: "create-webhook", Target: "/v1/tenants/" + f.a.Slug + "/webhooks", Status: 201},
	} {
		if err := st.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	base := "/dashboard/t/" + f.a.Slug + "/audit"
	_, page := f.get(base)
	if !strings.Contains(page, "Reception PC") || !strings.Contains(page, `name="action"`) || !strings.Contains(page, `name="actor"`) {
		t.Errorf("the audit log names no device or has no filters: %s", page)
	}
	_, page = f.get(base + "?action=queue-command")
	if !strings.Contains(page, "queue-command") || strings.Contains(page, "create-webhook</td>") {
		t.Errorf("filtered by action: %s", page)
	}
	_, page = f.get(base + "?actor=bo")
	if strings.Contains(page, "queue-command</td>") || !strings.Contains(page, "create-webhook</td>") {
		t.Errorf("filtered by actor: %s", page)
	}
	_, page = f.get(base + "?target=webhooks")
	if strings.Contains(page, "queue-command</td>") || !strings.Contains(page, "create-webhook</td>") {
		t.Errorf("filtered by target: %s", page)
	}
	_, page = f.get(base + "?until=2000-01-01")
	if strings.Contains(page, "create-webhook</td>") || !strings.Contains(page, "Nothing recorded") {
		t.Errorf("filtered by time: %s", page)
	}
	if code, page := f.get(base + "?since=yesterday"); code != 422 || !strings.Contains(page, "YYYY-MM-DD") {
		t.Errorf("a malformed date: %d %s", code, page)
	}
}

// New audit entries appear on the log's first page as they are recorded
// (issue 24), with the device they are on named; a filtered page does not
// take them, and the stream's audit part is for admins only.
func TestLiveAuditEntries(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo")
	base := "/dashboard/t/" + f.a.Slug + "/audit"
	_, page := f.get(base)
	if !strings.Contains(page, `sse-swap="audit-new"`) || !strings.Contains(page, "parts=audit") {
		t.Fatalf("the audit log does not take new entries: %s", page)
	}
	if _, filtered := f.get(base + "?actor=bo"); strings.Contains(filtered, `sse-swap="audit-new"`) {
		t.Error("a filtered audit log takes every new entry")
	}
	s := f.stream(page)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	found, _ := f.inv.List(ctx, inventory.Query{Limit: 1})
	dev := found.Devices[0]
	if code, _ := f.postHX("/dashboard/t/"+f.a.Slug+"/devices/"+dev.ID.String()+"/commands", url.Values{"kind": {"restart"}}, csrf); code != http.StatusCreated {
		t.Fatalf("queue a command: %d", code)
	}
	msg := s.next("audit-new")
	if !strings.Contains(msg, `data: <tr id="audit-`) || !strings.Contains(msg, "queue-command") || !strings.Contains(msg, dev.Name) {
		t.Errorf("the new entry's message: %q", msg)
	}

	// A viewer's stream cannot ask for the log.
	f.as("cy")
	code, _ := f.get(regexp.MustCompile(`/dashboard/t/[^"]+/live\?[^"]+`).FindString(html.UnescapeString(page)))
	if code != http.StatusForbidden {
		t.Errorf("a viewer's audit stream: %d, want 403", code)
	}
}

// The device list sorts by its column headers, as the API's list does
// (issue 24: no sort), and keeps the sort across pages and filters.
func TestDeviceListSorts(t *testing.T) {
	f := setup(t)
	f.signIn("ana@msp.test", "pw")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "DEV-2", Name: "Accounts PC", Model: "Surface"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	base := "/dashboard/t/" + f.a.Slug + "/devices"
	order := func(q string) []string {
		_, page := f.get(base + q)
		i, j := strings.Index(page, "Accounts PC"), strings.Index(page, "Reception PC")
		if i < 0 || j < 0 {
			t.Fatalf("devices%s: %s", q, page)
		}
		if i < j {
			return []string{"Accounts", "Reception"}
		}
		return []string{"Reception", "Accounts"}
	}
	if got := order(""); got[0] != "Accounts" {
		t.Errorf("by name: %v", got)
	}
	if got := order("?sort=-name"); got[0] != "Reception" {
		t.Errorf("by name, descending: %v", got)
	}
	_, page := f.get(base + "?sort=-name")
	if !strings.Contains(page, `aria-sort="descending"`) || !strings.Contains(page, `href="`+base+`?sort=name"`) ||
		!strings.Contains(page, `name="sort" value="-name"`) {
		t.Errorf("the headers do not show or switch the sort: %s", page)
	}
	if !strings.Contains(page, "2 devices") {
		t.Errorf("no count: %s", page)
	}
	if got := order("?sort=bogus"); got[0] != "Accounts" {
		t.Errorf("an unknown sort: %v; want the default", got)
	}
}

// An operator cancels a command the device has not taken, in the row
// where it shows; a taken or finished one is refused with the reason, a
// viewer cannot, and the cancel is audited as the API's cancel-command.
func TestCancelACommand(t *testing.T) {
	f := setup(t)
	csrf := f.as("ana")
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	dev := regexp.MustCompile(`href="(/dashboard/t/[^"]+/devices/[0-9a-f-]{36})"`).FindStringSubmatch(list)[1]
	_, row := f.postHX(dev+"/commands", url.Values{"kind": {"restart"}}, csrf)
	id := regexp.MustCompile(`id="command-([0-9a-f-]{36})"`).FindStringSubmatch(row)[1]
	if !strings.Contains(row, `hx-post="/dashboard/t/`+f.a.Slug+`/commands/`+id+`/cancel"`) {
		t.Fatalf("a queued command's row has no cancel: %s", row)
	}
	if _, page := f.get(dev); !strings.Contains(page, `class="can-operate"`) {
		t.Error("an operator's page does not show row actions")
	}
	cancel := "/dashboard/t/" + f.a.Slug + "/commands/" + id + "/cancel"
	if code, _ := f.postHX(cancel, nil, ""); code != 403 {
		t.Errorf("a cancel without the CSRF token: %d", code)
	}
	if code, _ := f.postHX("/dashboard/t/"+f.b.Slug+"/commands/"+id+"/cancel", nil, csrf); code != 404 {
		t.Errorf("the command through another tenant's URL: %d", code)
	}
	code, cells := f.postHX(cancel, nil, csrf)
	want(t, "cancel", code, cells, 200, `data-status="canceled"`)
	if strings.Contains(cells, "cancel-command") {
		t.Errorf("a canceled command still offers to cancel: %s", cells)
	}
	code, again := f.postHX(cancel, nil, csrf)
	want(t, "cancel again", code, again, 409, `role="alert"`)
	if n := f.audited(f.a, "cancel-command"); n != 1 {
		t.Errorf("cancel-command audited %d times", n)
	}

	viewer := f.as("cy")
	if _, page := f.get(dev); strings.Contains(page, `class="can-operate"`) {
		t.Error("a viewer's page shows row actions")
	}
	if code, _ := f.postHX(cancel, nil, viewer); code != 404 {
		t.Errorf("a viewer cancels: %d", code)
	}
}

// The device page lists commands newest first, as a new one appears at
// the top (the page reversed the queue's newest-first list, so a reload
// put the command just sent at the bottom; the browser suite found it).
func TestDeviceCommandsNewestFirst(t *testing.T) {
	f := setup(t)
	csrf := f.as("ana")
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	dev := regexp.MustCompile(`href="(/dashboard/t/[^"]+/devices/[0-9a-f-]{36})"`).FindStringSubmatch(list)[1]
	reID := regexp.MustCompile(`id="command-([0-9a-f-]{36})"`)
	var sent []string
	for range 3 {
		_, row := f.postHX(dev+"/commands", url.Values{"kind": {"restart"}}, csrf)
		sent = append(sent, reID.FindStringSubmatch(row)[1])
	}
	_, page := f.get(dev)
	var shown []string
	for _, m := range reID.FindAllStringSubmatch(page, -1) {
		shown = append(shown, m[1])
	}
	if want := []string{sent[2], sent[1], sent[0]}; !slices.Equal(shown, want) {
		t.Errorf("commands shown %v, want newest first %v", shown, want)
	}
}

// A device's page has one form per command kind with typed fields for
// its family, not a JSON payload (issue 24); a destructive one needs
// the device's name typed in, and a refusal says why in that form.
func TestTypedCommandForms(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var mac inventory.Device
	if err := f.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		mac, err = f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Apple, Identifier: "MAC-1", Name: "Design Mac", Model: "MacBookPro18,3", OSVersion: "15.1"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	csrf := f.as("bo") // an admin
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices?q=Reception")
	pc := regexp.MustCompile(`href="(/dashboard/t/[^"]+/devices/[0-9a-f-]{36})"`).FindStringSubmatch(list)[1]
	macPage := "/dashboard/t/" + f.a.Slug + "/devices/" + mac.ID.String()

	_, page := f.get(macPage)
	want(t, "the Mac's page", 200, page, 200, `id="form-lock"`, `name="pin"`, `pattern="\d{6}"`, `name="message"`, `id="form-erase"`,
		"Type the device's name, <strong>Design Mac</strong>, to confirm")
	if i, j := strings.Index(page, `id="form-restart"`), strings.Index(page, `id="form-erase"`); i < 0 || j < i {
		t.Error("the destructive forms come before the everyday ones")
	}
	if strings.Contains(page, `name="payload"`) {
		t.Error("the device page still asks for a JSON payload")
	}
	_, page = f.get(pc)
	if strings.Contains(page, `id="cmd-lock-pin"`) || strings.Contains(page, `id="cmd-lock-message"`) {
		t.Error("a Windows PC's lock form asks for Apple's fields")
	}

	send := func(dev string, form url.Values) (int, string) { return f.postHX(dev+"/commands", form, csrf) }
	code, body := send(macPage, url.Values{"kind": {"lock"}})
	want(t, "lock a Mac without its PIN", code, body, 422, "Six-digit PIN to unlock it: fill it in")
	code, body = send(macPage, url.Values{"kind": {"lock"}, "pin": {"12ab"}})
	want(t, "a PIN of letters", code, body, 422, "six digits")
	code, body = send(macPage, url.Values{"kind": {"lock"}, "pin": {"123456"}, "message": {"Call IT"}, "phone_number": {"+44 20 7946 0000"}})
	want(t, "lock a Mac", code, body, 201, `data-status="queued"`)
	id := uuid.MustParse(regexp.MustCompile(`id="command-([0-9a-f-]{36})"`).FindStringSubmatch(body)[1])
	q := commands.New(f.db, f.inv, events.NewPublisher(nil))
	c, err := q.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(c.Payload, &p)
	if p["message"] != "Call IT" || p["phone_number"] != "+44 20 7946 0000" || p["pin"] != "[redacted]" {
		t.Errorf("the lock's payload: %s", c.Payload)
	}

	code, body = send(pc, url.Values{"kind": {"query_settings"}, "loc_uris": {"./DevDetail/SwV\r\n\r\n ./DevInfo/Mod \n"}})
	want(t, "read nodes", code, body, 201)
	c, _ = q.Get(ctx, uuid.MustParse(regexp.MustCompile(`id="command-([0-9a-f-]{36})"`).FindStringSubmatch(body)[1]))
	if string(c.Payload) != `{"loc_uris": ["./DevDetail/SwV", "./DevInfo/Mod"]}` && string(c.Payload) != `{"loc_uris":["./DevDetail/SwV","./DevInfo/Mod"]}` {
		t.Errorf("the node list: %s", c.Payload)
	}

	// Erase: the name typed, exactly.
	for _, typed := range []string{"", "reception pc", "Design Mac"} {
		code, body = f.postHX(pc+"/commands", url.Values{"kind": {"erase"}, "confirm_name": {typed}}, csrf)
		want(t, "erase with "+typed+" typed", code, body, 422, "type the device's name, Reception PC, to confirm")
	}
	if hx := f.lastHeader.Get("HX-Retarget"); hx != "#status-erase" {
		t.Errorf("the refusal goes to %q, not the erase form's status", hx)
	}
	code, body = send(pc, url.Values{"kind": {"erase"}, "confirm_name": {"Reception PC"}})
	want(t, "erase", code, body, 201, `data-status="queued"`)
}

// The device list picks devices for a bulk command (operators) or a
// group change (admins), audited as the API's, and exports what it
// shows as CSV, where a device's name cannot become a formula.
func TestBulkSelectAndExport(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var evil inventory.Device
	if err := f.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		evil, err = f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "EVIL", Name: "=HYPERLINK(\"http://x\")", SerialNumber: "S-2"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	group, err := f.inv.CreateGroup(ctx, "Front of house")
	if err != nil {
		t.Fatal(err)
	}
	csrf := f.as("ana") // an operator
	_, page := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	want(t, "the list", 200, page, 200, `id="bulk"`, `form="bulk"`, `value="command:restart"`, "devices.csv?", "not evaluated", `data-column="serial"`, `class="wide col-serial"`)
	if strings.Contains(page, `value="command:erase"`) {
		t.Error("the list offers a destructive bulk command")
	}
	found, _ := f.inv.List(ctx, inventory.Query{Search: "Reception", Limit: 1})
	pc := found.Devices[0].ID.String()
	if !strings.Contains(page, `name="device" value="`+pc+`"`) {
		t.Fatalf("no checkbox for the PC: %s", page)
	}
	bulk := "/dashboard/t/" + f.a.Slug + "/devices/bulk"

	code, body := f.postHX(bulk, url.Values{"action": {"command:restart"}}, csrf)
	want(t, "nothing selected", code, body, 422, "Select at least one device")
	code, body = f.postHX(bulk, url.Values{"action": {"command:restart"}, "device": {pc, "not-a-device"}}, csrf)
	want(t, "a selection of no device", code, body, 422, "The selection names no device")
	many := make([]string, 501) // one past the bound
	for i := range many {
		many[i] = uuid.NewString()
	}
	code, body = f.postHX(bulk, url.Values{"action": {"command:restart"}, "device": many}, csrf)
	want(t, "too many", code, body, 422, "Select at most 500 devices")
	code, body = f.postHX(bulk, url.Values{"action": {"command:erase"}, "device": {pc}}, csrf)
	want(t, "a bulk erase", code, body, 422, "Choose a command")
	code, body = f.postHX(bulk, url.Values{"action": {"add:" + group.ID.String()}, "device": {pc}}, csrf)
	want(t, "an operator changes a group", code, body, 403, "admin role")
	code, body = f.postHX(bulk, url.Values{"action": {"command:restart"}, "device": {pc, evil.ID.String(), pc}}, csrf)
	want(t, "a bulk restart", code, body, 202, "Restart is being queued for the 2 selected devices")
	if n := f.audited(f.a, "queue-bulk-command"); n != 1 {
		t.Errorf("queue-bulk-command audited %d times", n)
	}

	csrf = f.as("bo") // an admin
	code, body = f.postHX(bulk, url.Values{"action": {"add:" + group.ID.String()}, "device": {pc, evil.ID.String()}}, csrf)
	want(t, "add to a group", code, body, 202, "2 devices joined the group")
	if n, _ := f.inv.Count(ctx, inventory.Query{Group: group.ID}); n != 2 {
		t.Errorf("the group has %d members", n)
	}
	other := tenancy.WithTenant(context.Background(), f.b.ID)
	theirs, _ := f.inv.List(other, inventory.Query{Limit: 1})
	code, body = f.postHX(bulk, url.Values{"action": {"remove:" + group.ID.String()}, "device": {pc, theirs.Devices[0].ID.String()}}, csrf)
	want(t, "another tenant's device", code, body, 422, "name no device of this tenant")
	if n := f.audited(f.a, "change-group-members"); n != 1 {
		t.Errorf("change-group-members audited %d times", n)
	}
	// The device's page names its groups.
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/devices/" + pc); !strings.Contains(page, `?group=`+group.ID.String()+`">Front of house</a>`) {
		t.Errorf("the device page does not name its group: %s", page)
	}

	resp, err := f.client.Get(f.url + "/dashboard/t/" + f.a.Slug + "/devices.csv?sort=serial")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	records, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), f.a.Slug+"-devices-") {
		t.Fatalf("export: %v %v", resp.Header, err)
	}
	if len(records) != 3 || records[0][0] != "name" || records[1][0] != "Reception PC" || records[2][0] != `'=HYPERLINK("http://x")` ||
		records[2][3] != "S-2" || records[1][11] != "unevaluated" {
		t.Errorf("exported %q", records)
	}
	if code, _ := f.get("/dashboard/t/" + f.b.Slug + "/devices.csv"); code != 404 {
		t.Errorf("another tenant's export: %d", code)
	}
}

// Filtering the list (htmx swaps only its rows) brings the count and the
// export link along: both stayed as the page first drew them, so the
// export took the old filters (the browser suite found it).
func TestFilteredListCountAndExport(t *testing.T) {
	f := setup(t)
	f.as("ana")
	code, rows := f.get("/dashboard/t/"+f.a.Slug+"/devices?q=nothing", "HX-Request", "true")
	want(t, "filtered rows", code, rows, 200, "No devices match", `id="device-count" hx-swap-oob="true"`, "<span>0 devices</span>",
		`id="export" hx-swap-oob="true"`, "devices.csv?q=nothing")
}

// stream follows a page's live stream; next answers the next message
// named name (or fails after 15 s).
type stream struct {
	t  *testing.T
	rd *bufio.Reader
}

func (f *fixture) stream(page string) *stream {
	f.t.Helper()
	m := regexp.MustCompile(`sse-connect="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("the page does not connect to its stream: %s", page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	f.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url+html.UnescapeString(m[1]), nil)
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return &stream{t: f.t, rd: bufio.NewReader(resp.Body)}
}

func (s *stream) next(name string) string {
	s.t.Helper()
	var msg strings.Builder
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatalf("the stream ended before %s: %v", name, err)
		}
		msg.WriteString(line)
		if line == "\n" {
			if strings.Contains(msg.String(), "event: "+name+"\n") {
				return msg.String()
			}
			msg.Reset()
		}
	}
}

// New rows appear live (issue 24: only existing rows changed): a command
// queued elsewhere arrives on its device's page as a whole row, and a
// newly enrolled device on the device list.
func TestLiveNewRows(t *testing.T) {
	f := setup(t)
	csrf := f.as("ana")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	found, _ := f.inv.List(ctx, inventory.Query{Limit: 1})
	dev := "/dashboard/t/" + f.a.Slug + "/devices/" + found.Devices[0].ID.String()
	_, page := f.get(dev)
	if !strings.Contains(page, `sse-swap="command-new-`+found.Devices[0].ID.String()+`"`) {
		t.Errorf("the device page does not take new commands: %s", page)
	}
	s := f.stream(page)
	_, row := f.postHX(dev+"/commands", url.Values{"kind": {"restart"}}, csrf)
	id := regexp.MustCompile(`id="command-([0-9a-f-]{36})"`).FindStringSubmatch(row)[1]
	msg := s.next("command-new-" + found.Devices[0].ID.String())
	if !strings.Contains(msg, `data: <tr id="command-`+id+`"`) || !strings.Contains(msg, `data-status="queued"`) {
		t.Errorf("the new command's message: %q", msg)
	}

	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	if !strings.Contains(list, `sse-swap="device-new"`) {
		t.Errorf("the device list does not take new devices: %s", list)
	}
	if _, filtered := f.get("/dashboard/t/" + f.a.Slug + "/devices?q=x"); strings.Contains(filtered, `sse-swap="device-new"`) {
		t.Error("a filtered list takes every new device")
	}
	s = f.stream(list)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "NEW-1", Name: "Loading Dock PC", Status: inventory.Enrolled})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	msg = s.next("device-new")
	if !strings.Contains(msg, `data: <tr id="device-`) || !strings.Contains(msg, "Loading Dock PC") {
		t.Errorf("the new device's message: %q", msg)
	}
}

// The overview's counters and check-in chart update live (issue 24):
// its stream, asked for the fleet, sends them again after a device
// changes, rendered once for every open overview of the tenant.
func TestLiveOverview(t *testing.T) {
	f := setup(t)
	f.as("ana")
	_, page := f.get("/dashboard/t/" + f.a.Slug + "/")
	if !strings.Contains(page, `id="fleet" sse-swap="fleet"`) || !strings.Contains(page, "parts=fleet") {
		t.Fatalf("the overview does not follow its fleet: %s", page)
	}
	s := f.stream(page)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Android, Identifier: "NEW-2", Name: "Delivery Van Phone", Status: inventory.Enrolled})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	msg := s.next("fleet")
	if !strings.Contains(msg, `<div class="big">2</div>`) || !strings.Contains(msg, "android: <strong>1</strong>") {
		t.Errorf("the fleet's message: %q", msg)
	}
	// A device page's stream does not carry the fleet.
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	if strings.Contains(list, "parts=fleet") {
		t.Error("the device list asks for the fleet")
	}
}

// The tenant's command history (issue 24: none), every device's, newest
// first, filtered by state and kind, each row naming its device; another
// tenant's commands are not in it.
func TestCommandHistory(t *testing.T) {
	f := setup(t)
	csrf := f.as("ana")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	found, _ := f.inv.List(ctx, inventory.Query{Limit: 1})
	dev := "/dashboard/t/" + f.a.Slug + "/devices/" + found.Devices[0].ID.String()
	reID := regexp.MustCompile(`id="command-([0-9a-f-]{36})"`)
	var ids []string
	for _, kind := range []string{"restart", "device_information"} {
		_, row := f.postHX(dev+"/commands", url.Values{"kind": {kind}}, csrf)
		ids = append(ids, reID.FindStringSubmatch(row)[1])
	}
	f.postHX("/dashboard/t/"+f.a.Slug+"/commands/"+ids[0]+"/cancel", nil, csrf)
	history := "/dashboard/t/" + f.a.Slug + "/commands"
	code, page := f.get(history)
	want(t, "history", code, page, 200, "Reception PC", `sse-connect="`)
	var shown []string
	for _, m := range reID.FindAllStringSubmatch(page, -1) {
		shown = append(shown, m[1])
	}
	if !slices.Equal(shown, []string{ids[1], ids[0]}) {
		t.Errorf("history %v, want newest first %v", shown, []string{ids[1], ids[0]})
	}
	_, page = f.get(history + "?status=canceled")
	if m := reID.FindAllStringSubmatch(page, -1); len(m) != 1 || m[0][1] != ids[0] {
		t.Errorf("canceled: %v", m)
	}
	_, page = f.get(history + "?kind=device_information&status=nonsense")
	if m := reID.FindAllStringSubmatch(page, -1); len(m) != 1 || m[0][1] != ids[1] {
		t.Errorf("device_information: %v", m)
	}
	f.as("bo")
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/commands"); !strings.Contains(page, ids[0]) {
		t.Error("another person of the tenant does not see its history")
	}
}

// Saved views (issue 24: saved filters): a person saves the list's
// filters under a name and finds them above the list; only what the list
// understands is kept, and nobody else sees or deletes them.
func TestSavedViewsOnTheList(t *testing.T) {
	f := setup(t)
	csrf := f.as("ana")
	list := "/dashboard/t/" + f.a.Slug + "/devices"
	_, page := f.get(list + "?platform=windows&q=Recep")
	want(t, "the list", 200, page, 200, `id="view-query" name="query" value="platform=windows&q=Recep"`)
	code, page := f.post(list+"/views", url.Values{"csrf": {csrf}, "name": {"Front desks"}, "query": {"platform=windows&q=Recep&bogus=1"}})
	want(t, "save", code, page, 200, "The view is saved", `aria-label="Saved views"`, `href="/dashboard/t/`+f.a.Slug+`/devices?platform=windows&q=Recep">Front desks</a>`)
	if strings.Contains(page, "bogus") {
		t.Error("the saved view kept what the list does not understand")
	}
	code, page = f.post(list+"/views", url.Values{"csrf": {csrf}, "name": {""}, "query": {"platform=windows"}})
	want(t, "no name", code, page, 422)
	_, page = f.get(list)
	id := regexp.MustCompile(`/devices/views/([0-9a-f-]{36})/delete`).FindStringSubmatch(page)[1]
	csrf = f.as("bo")
	if _, page := f.get(list); strings.Contains(page, "Front desks") {
		t.Error("another person sees ana's saved view")
	}
	if code, _ := f.post(list+"/views/"+id+"/delete", url.Values{"csrf": {csrf}}); code != 404 {
		t.Errorf("bo deletes ana's view: %d", code)
	}
	csrf = f.as("ana")
	code, page = f.post(list+"/views/"+id+"/delete", url.Values{"csrf": {csrf}})
	want(t, "delete", code, page, 200, "The saved view is deleted")
	if strings.Contains(page, "Front desks") {
		t.Error("the deleted view still shows")
	}
}

// The compliance page follows its stream (issue 24: no stream): when a
// device's result for a rule changes, the rule's failing count and the
// tenant's standing come again, rendered once for every open page.
func TestLiveCompliancePage(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	rule, err := f.comp.Create(ctx, compliance.Rule{Name: "24H2", Platform: inventory.Windows, Kind: compliance.OSVersionMin,
		Params: compliance.Params{Version: "10.0.26100"}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	f.as("cy")
	_, page := f.get("/dashboard/t/" + f.a.Slug + "/compliance")
	if !strings.Contains(page, "parts=rules") || !strings.Contains(page, `sse-swap="rule-`+rule.ID.String()+`"`) || !strings.Contains(page, `sse-swap="standing"`) {
		t.Fatalf("the compliance page does not follow its rules: %s", page)
	}
	s := f.stream(page)
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	plain := f.stream(list) // a page that asked for no parts
	var pc inventory.Device
	if err := f.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		pc, err = f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "OLD-1", OSVersion: "10.0.19045", Status: inventory.Enrolled})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.comp.Evaluate(ctx, pc.ID); err != nil {
		t.Fatal(err)
	}
	msg := s.next("rule-" + rule.ID.String())
	if !strings.Contains(msg, "?rule="+rule.ID.String()+`">1 failing</a>`) {
		t.Errorf("the rule's count: %q", msg)
	}
	if msg := s.next("standing"); !strings.Contains(msg, "0 enrolled devices comply with every rule, 1 fail at least one") {
		t.Errorf("the standing: %q", msg)
	}
	// A page that did not ask for the rules still moves its Last-Event-ID
	// past the result's event: an empty message.
	if msg := plain.next("other"); !regexp.MustCompile(`(?m)^id: \d+$`).MatchString(msg) {
		t.Errorf("the plain page's message for a result: %q", msg)
	}
	// The device's row, live, says it fails.
	if msg := s.next("device-" + pc.ID.String()); !strings.Contains(msg, `class="bad" href="/dashboard/t/`+f.a.Slug+`/devices/`+pc.ID.String()+`#compliance">failing</a>`) {
		t.Errorf("the device's live row: %q", msg)
	}
}
