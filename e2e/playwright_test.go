package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/fakeamapi"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// chromium finds Debian's Chromium (installed by scripts/install-deps).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed; scripts/install-deps installs it")
	}
	t.Skip("Chromium is not installed")
	return ""
}

// playwrightWorld is what the browser suite (web/browser) is told about
// the running Trident it tests, as JSON in TRIDENT_E2E_WORLD.
type playwrightWorld struct {
	Platform string            `json:"platform"` // the dashboard's origin
	Google   string            `json:"google"`   // the stand-in for Google's sign-up pages
	Control  string            `json:"control"`  // this test's control server (below)
	Password string            `json:"password"` // every user's
	Users    map[string]string `json:"users"`    // by role: admin (of a), viewer (of b only), msp (admin of a's MSP)
	Tenants  map[string]worldTenant
	Device   worldDevice `json:"device"` // a Windows device of tenant a the suite may command
	Mac      worldDevice `json:"mac"`    // a Mac of tenant a with installed apps (no protocol session: not for commands)
}

type worldTenant struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type worldDevice struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// The dashboard's browser suite, written as the web world writes them
// (Playwright's test runner driving Debian's Chromium, axe-core checking
// every page), against the production binary: serve and worker, the dev
// identity provider, simulated Windows devices that really enrolled, and
// Google's sign-up played by fakeamapi. The suite asks this test, over a
// loopback control server, for what only a device can do (take its
// commands in a session). Screenshots and failure traces go to
// PLAYWRIGHT_OUTPUT, or the test's artifact directory.
func TestPlaywright(t *testing.T) {
	bin := chromium(t)
	runner, err := filepath.Abs("../web/node_modules/.bin/playwright")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(runner); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("Playwright is not installed: scripts/test installs it (npm ci in web)")
		}
		t.Skip("Playwright is not installed: run npm ci --prefix web (scripts/test does)")
	}
	w, devices, enroll := playwrightSetup(t)
	w.Control = controlServer(t, devices, enroll)
	world, _ := json.Marshal(w)
	out := os.Getenv("PLAYWRIGHT_OUTPUT")
	if out == "" {
		out = t.ArtifactDir()
	}
	args := []string{"test", "--config", "playwright.config.ts"}
	if grep := os.Getenv("PLAYWRIGHT_GREP"); grep != "" {
		args = append(args, "--grep", grep)
	}
	cmd := exec.Command(runner, args...)
	cmd.Dir = "../web"
	cmd.Env = append(os.Environ(), "TRIDENT_E2E_WORLD="+string(world), "CHROMIUM="+bin, "PLAYWRIGHT_OUTPUT="+out,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "FORCE_COLOR=0")
	cmd.Stdout, cmd.Stderr = logTo(t, "playwright"), logTo(t, "playwright")
	if err := cmd.Run(); err != nil {
		t.Fatalf("the Playwright suite failed (%v); its report and screenshots are in %s", err, out)
	}
	t.Logf("screenshots: %s", filepath.Join(out, "screenshots"))
}

// playwrightSetup starts the world the suite tests: three tenants of
// which the admin sees two, six enrolled Windows devices in the first,
// a webhook, and Trident configured for Android sign-up.
func playwrightSetup(t *testing.T) (playwrightWorld, map[string]*devicesim.WindowsDevice, func(name string) *devicesim.WindowsDevice) {
	ctx := context.Background()
	d, err := tenancy.NewDirectory(testenv.DB(t), "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	sfx := uuid.NewString()[:6]
	tenant := func(slug, name string) tenancy.Tenant {
		m, err := d.CreateMSP(ctx, "msp-"+slug+"-"+sfx, "Lighthouse IT")
		if err != nil {
			t.Fatal(err)
		}
		tn, err := d.CreateTenant(ctx, m.ID, slug+"-"+sfx, name)
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	a, b, other := tenant("bakery", "Harbour Bakery"), tenant("dental", "Northwind Dental"), tenant("other", "Someone Else Ltd")
	port := freePort(t)
	platform := fmt.Sprintf("http://trident.test:%d", port)
	group := func(tn tenancy.Tenant, role string) string {
		return "/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/" + role
	}
	const password = "correct horse"
	idp := testenv.StartIDPWith(t, devidp.Config{
		Clients: []devidp.Client{
			{ID: "trident-dashboard", Secret: "dash", RedirectURIs: []string{platform + "/dashboard/callback"}},
			{ID: "setup", Secret: "s", Audience: []string{"trident-api"}, Claims: map[string]any{"groups": []string{group(a, "admin")}}},
		},
		Users: []devidp.User{
			{Subject: "ana", Email: "ana@msp.test", Name: "Ana Admin", Password: password,
				Claims: map[string]any{"groups": []string{group(a, "admin"), group(b, "viewer")}}},
			{Subject: "vic", Email: "vic@msp.test", Name: "Vic Viewer", Password: password,
				Claims: map[string]any{"groups": []string{group(b, "viewer")}}},
			{Subject: "mia", Email: "mia@msp.test", Name: "Mia MSP", Password: password,
				Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/admin"}}},
		},
	})
	google := fakeamapi.New()
	t.Cleanup(google.Close)
	base := startOn(t, port, idp.Issuer, "--windows-device-identity", "header", "--windows-poll-interval", "30m", "--console-refresh", "2s",
		"--dashboard-client-id", "trident-dashboard", "--dashboard-client-secret", "dash",
		"--android-project", "trident-test", "--android-api-url", google.URL+"/", "--android-pubsub-topic", "projects/trident-test/topics/amapi",
		"--android-push-audience", "trident-pubsub", "--android-push-service-account", pushAccount, "--android-push-issuer", idp.Issuer).Base
	api := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, "setup", "s")}
	devices := map[string]*devicesim.WindowsDevice{}
	host := fmt.Sprintf("%s.trident.test:%d", a.Slug, port)
	for _, name := range []string{"FRONT-DESK-01", "BACK-OFFICE-02", "KITCHEN-TABLET-03", "MANAGER-LAPTOP-04", "TILL-05", "TILL-06"} {
		devices[name] = enrollWindowsNamed(ctx, t, api, base, a.Slug, host, name)
	}
	// A Mac with its apps, recorded as the Apple edge records what a Mac
	// reports (the Apple flow itself is TestAppleThroughTheServer's),
	// before the webhook: this publisher queues no deliveries.
	inv := inventory.New(testenv.DB(t), events.NewPublisher(nil))
	actx := tenancy.WithTenant(ctx, a.ID)
	var mac inventory.Device
	if err := testenv.DB(t).Tx(actx, func(tx pgx.Tx) (err error) {
		mac, err = inv.RecordTx(actx, tx, inventory.Report{Platform: inventory.Apple, Identifier: "0000FE00-5D3A9C1E2B4F6A70", Name: "DESIGN-MAC-08",
			SerialNumber: "C02XK1ABJGH5", Model: "MacBookPro18,3", OSVersion: "15.1", Status: inventory.Enrolled, Facts: map[string]any{
				"installed_apps": []any{
					map[string]any{"name": "Safari", "identifier": "com.apple.Safari", "version": "18.1"},
					map[string]any{"name": "Slack", "identifier": "com.tinyspeck.slackmacgap", "version": "4.41.97"},
					map[string]any{"name": "Xcode", "identifier": "com.apple.dt.Xcode", "version": "16.1"},
				}}})
		if err != nil {
			return err
		}
		// Its user channel's TokenUpdate names its user.
		return inv.SetUserTx(actx, tx, inventory.Apple, mac.Identifier, "Ana Lima (ana)")
	}); err != nil {
		t.Fatal(err)
	}
	if code, body := api.do("POST", "/v1/tenants/"+a.Slug+"/groups", map[string]any{"name": "Tills"}); code != 201 {
		t.Fatalf("a group: %d %s", code, body)
	}
	if code, body := api.do("POST", "/v1/tenants/"+a.Slug+"/webhooks", map[string]any{
		"url": "https://hooks.example.com/trident", "event_kinds": []string{"device.enrolled"}, "description": "The bakery's ticketing system",
	}); code != 201 {
		t.Fatalf("a webhook: %d %s", code, body)
	}
	slugs := map[string]worldTenant{}
	for k, tn := range map[string]tenancy.Tenant{"a": a, "b": b, "other": other} {
		slugs[k] = worldTenant{Slug: tn.Slug, Name: tn.Name}
	}
	enroll := func(name string) *devicesim.WindowsDevice {
		return enrollWindowsNamed(ctx, t, api, base, a.Slug, host, name)
	}
	return playwrightWorld{Platform: platform, Google: google.URL, Password: password, Tenants: slugs,
		Users:  map[string]string{"admin": "ana@msp.test", "viewer": "vic@msp.test", "msp": "mia@msp.test"},
		Device: worldDevice{ID: deviceNamed(t, api, a.Slug, "FRONT-DESK-01"), Name: "FRONT-DESK-01"},
		Mac:    worldDevice{ID: mac.ID.String(), Name: mac.Name}}, devices, enroll
}

// enrollWindowsNamed enrolls a simulated Windows device of that name in
// the tenant, through its first session.
func enrollWindowsNamed(ctx context.Context, t *testing.T, api apiClient, base, slug, host, name string) *devicesim.WindowsDevice {
	t.Helper()
	code, body := api.do("POST", "/v1/tenants/"+slug+"/enrollments/windows", nil)
	var en windowsEnrollmentOut
	if json.Unmarshal(body, &en); code != 200 {
		t.Fatalf("enrollment token: %d %s", code, body)
	}
	dev := devicesim.NewWindowsDevice(base, host)
	dev.Name = name
	dev.Nodes["./DevDetail/Ext/Microsoft/DeviceName"] = name
	if err := dev.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dev.Enroll(ctx, en.Token, false); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Session(ctx); err != nil {
		t.Fatal(err)
	}
	return dev
}

// deviceNamed is the id of the tenant's device of that name.
func deviceNamed(t *testing.T, c apiClient, tenant, name string) string {
	code, body := c.do("GET", "/v1/tenants/"+tenant+"/devices?limit=100", nil)
	var page struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	json.Unmarshal(body, &page)
	for _, d := range page.Items {
		if d.Name == name {
			return d.ID
		}
	}
	t.Fatalf("no device %s: %d %s", name, code, body)
	return ""
}

// controlServer lets the suite act as a device: POST /session?device=NAME
// runs that device's next OMA-DM session (it takes its queued commands),
// and POST /enroll?device=NAME enrolls a new one in tenant a.
func controlServer(t *testing.T, devices map[string]*devicesim.WindowsDevice, enroll func(string) *devicesim.WindowsDevice) string {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /enroll", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("device")
		mu.Lock()
		defer mu.Unlock()
		if _, ok := devices[name]; ok || name == "" {
			http.Error(w, "name a new device", http.StatusConflict)
			return
		}
		devices[name] = enroll(name)
		fmt.Fprintf(w, "enrolled %s\n", name)
	})
	mux.HandleFunc("POST /session", func(w http.ResponseWriter, r *http.Request) {
		dev, ok := devices[r.URL.Query().Get("device")]
		if !ok {
			http.Error(w, "no such device", http.StatusNotFound)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, err := dev.Session(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "executed %s\n", strings.Join(dev.Executed, ","))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}
