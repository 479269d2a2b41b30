package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
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

// The "done when", in a real browser against the running server:
// a tenant admin signs in through OIDC, sees the tenants and the fleet,
// finds a device, sends it a command and watches it complete live when the
// simulated device answers; editing the URL to another tenant shows
// nothing of it. Screenshots of each page go to the test's artifact
// directory (go test -artifacts -outputdir DIR keeps them).
func TestDashboardInABrowser(t *testing.T) {
	bin := chromium(t)
	ctx := context.Background()
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a, b, other := testenv.Tenant(t, d), testenv.Tenant(t, d), testenv.Tenant(t, d)
	port := freePort(t)
	platform := fmt.Sprintf("http://trident.test:%d", port)
	idp := testenv.StartIDPWith(t, devidp.Config{
		Clients: []devidp.Client{
			{ID: "trident-dashboard", Secret: "dash", RedirectURIs: []string{platform + "/dashboard/callback"}},
			{ID: "setup", Secret: "s", Audience: []string{"trident-api"}, Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/tenant/" + a.Slug + "/admin"}}},
		},
		Users: []devidp.User{{Subject: "ana", Email: "ana@msp.test", Name: "Ana Admin", Password: "correct horse",
			Claims: map[string]any{"groups": []string{"/trident/msp/" + a.MSPSlug + "/tenant/" + a.Slug + "/admin", "/trident/msp/" + b.MSPSlug + "/tenant/" + b.Slug + "/viewer"}}}},
	})
	base := startOn(t, port, idp.Issuer, "--windows-device-identity", "header", "--windows-poll-interval", "30m",
		"--dashboard-client-id", "trident-dashboard", "--dashboard-client-secret", "dash").Base

	// A Windows device enrolls in tenant a.
	api := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, "setup", "s")}
	dev := enrollFrontDesk(ctx, t, api, base, a.Slug, fmt.Sprintf("%s.trident.test:%d", a.Slug, port))

	br := newBrowser(t, bin)
	run, text, shot := br.run, br.text, br.shot

	run("sign in",
		chromedp.Navigate(platform+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "ana@msp.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`ul.cards`)),
		shot("01-tenants"),
	)
	if tenants := text("main"); !strings.Contains(tenants, a.Name) || !strings.Contains(tenants, b.Name) || strings.Contains(tenants, other.Name) {
		t.Errorf("tenants shown: %q", tenants)
	}

	// Switch to tenant b (a viewer there, no devices), then to a.
	run("tenant b", chromedp.Click(chromedp.CSS(`a[href="/dashboard/t/`+b.Slug+`/"]`)), chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
		chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/t/`+b.Slug+`/devices"]`)), chromedp.WaitVisible(chromedp.CSS(`#device-rows`)))
	if rows := text("#device-rows"); !strings.Contains(rows, "No devices match") {
		t.Errorf("tenant b's devices: %q", rows)
	}
	run("tenant a",
		chromedp.Navigate(platform+"/dashboard/"),
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/t/`+a.Slug+`/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
		shot("02-overview"),
		chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/t/`+a.Slug+`/devices"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#device-rows`)),
		// Find the device by typing: htmx swaps the rows.
		chromedp.SendKeys(chromedp.CSS(`#q`), "front"),
		chromedp.WaitVisible(chromedp.Search(`//tbody[@id="device-rows"]//a[contains(., "FRONT-DESK-01")]`)),
		shot("03-devices"),
		chromedp.Click(chromedp.Search(`//tbody[@id="device-rows"]//a[contains(., "FRONT-DESK-01")]`)),
		chromedp.WaitVisible(chromedp.CSS(`#composer`)),
	)
	// A refused command says why where the person acted (a 422 that htmx
	// would not swap by default): an erase without the confirmation.
	run("refused",
		chromedp.SetValue(chromedp.CSS(`#kind`), "erase"),
		chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#composer-status [role="alert"]`)),
		shot("04-refused"),
	)
	if msg := text("#composer-status"); !strings.Contains(msg, "confirm") {
		t.Errorf("the refusal shown: %q", msg)
	}
	// Relative times tick (issue 24: "just now" stayed so): a time the
	// page wrote as just now reads 5 min ago once it is, at the page's
	// next tick (the one after an htmx swap, here).
	aged, err := chromedp.Run(br.ctx, chromedp.Evaluate[string](`(() => {
		const el = document.querySelector("#command-rows time, #device-summary time");
		el.textContent = "just now";
		el.setAttribute("datetime", new Date(Date.now() - 5*60*1000).toISOString());
		document.dispatchEvent(new Event("htmx:afterSettle"));
		return el.textContent;
	})()`))
	if err != nil || aged != "5 min ago" {
		t.Errorf("a time five minutes old reads %q (%v)", aged, err)
	}
	// Send a restart, then watch it complete when the device's next
	// session takes it: the stream swaps the row.
	run("send",
		chromedp.SetValue(chromedp.CSS(`#kind`), "restart"),
		chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#command-rows td[data-status="queued"]`)),
		shot("04-queued"),
	)
	res, err := dev.Session(ctx)
	if err != nil || len(dev.Executed) != 1 {
		t.Fatalf("the device's session: %+v %v (executed %v)", res, err, dev.Executed)
	}
	run("acknowledged live",
		chromedp.WaitVisible(chromedp.CSS(`#command-rows td[data-status="acknowledged"]`)),
		shot("05-acknowledged"),
	)

	// A compliance rule, written in the form; the device page then shows
	// the device's result for it.
	tp := platform + "/dashboard/t/" + a.Slug
	run("compliance rule",
		chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/t/`+a.Slug+`/compliance"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rule-name`)),
		chromedp.SendKeys(chromedp.CSS(`#rule-name`), "Checked in today"),
		chromedp.SetValue(chromedp.CSS(`#rule-kind`), "checked_in_within"),
		chromedp.SendKeys(chromedp.CSS(`#rule-hours`), "24"),
		chromedp.Click(chromedp.Search(`//button[contains(., "Save the rule")]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.panel.ok`)),
		shot("06-compliance"),
	)
	if rules := text("main table"); !strings.Contains(rules, "Checked in today") || !strings.Contains(rules, "Checked in within 24 h") {
		t.Errorf("rules: %q", rules)
	}
	devPath := "/dashboard/t/" + a.Slug + "/devices/" + deviceID(t, api, a.Slug)
	eventually(t, "the device evaluated", func() bool {
		return br.try(chromedp.Navigate(platform+devPath), chromedp.WaitVisible(chromedp.CSS(`#compliance`))) == nil &&
			strings.Contains(text("main"), "compliant")
	})
	run("device compliance", shot("07-device-compliance"))
	// The setup pages, for the record.
	for i, p := range []string{"profiles", "enroll", "abm", "webhooks", "settings", "audit"} {
		run(p, chromedp.Navigate(tp+"/"+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shot(fmt.Sprintf("%02d-%s", 8+i, p)))
	}
	if log := text("main"); !strings.Contains(log, "create-compliance-rule") || !strings.Contains(log, "queue-command") {
		t.Errorf("the audit log lacks the dashboard's actions: %q", log)
	}
	// On a phone: the device list without its wide columns.
	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(tp+"/devices"), chromedp.WaitVisible(chromedp.CSS(`#device-rows`)),
		shot("14-phone-devices"), chromedp.Navigate(tp+"/enroll"), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shot("15-phone-enroll"))
	// ... where no page scrolls sideways and the navigation is one line
	// (issue 24: it wrapped onto three, and wide tables pushed the page).
	for _, p := range []string{"/devices", "/compliance", "/audit", strings.TrimPrefix(devPath, "/dashboard/t/"+a.Slug)} {
		run("phone "+p, chromedp.Navigate(tp+p), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		width, err := chromedp.Run(br.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || width > 390 {
			wide, _ := chromedp.Run(br.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391 && !e.closest("nav, table, pre")).slice(0, 5).map(e => e.tagName + "." + e.className + "#" + e.id).join(" ")`))
			t.Errorf("%s at 390 px is %d px wide (%v): %s", p, width, err, wide)
		}
		navHeight, err := chromedp.Run(br.ctx, chromedp.Evaluate[float64](`document.querySelector(".sidebar nav").getBoundingClientRect().height`))
		if err != nil || navHeight > 48 {
			t.Errorf("%s at 390 px: the navigation is %.0f px high (%v); want one line", p, navHeight, err)
		}
	}
	if n, _ := chromedp.Run(br.ctx, chromedp.Evaluate[int](`document.querySelectorAll('a.skip[href="#main"]').length`)); n != 1 {
		t.Error("no skip link to the content")
	}
	run("desktop", chromedp.EmulateViewport(1280, 800))

	// Editing the URL to someone else's tenant shows nothing of it.
	run("another tenant", chromedp.Navigate(platform+"/dashboard/t/"+other.Slug+"/devices"), chromedp.WaitVisible(chromedp.CSS(`p.error`)),
		shot("20-other-tenant"))
	if msg := text("main"); !strings.Contains(msg, "no such tenant") {
		t.Errorf("another tenant's page: %q", msg)
	}
	run("a device of a under b", chromedp.Navigate(platform+"/dashboard/t/"+b.Slug+"/devices/"+deviceID(t, api, a.Slug)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if msg := text("main"); strings.Contains(msg, "FRONT-DESK-01") {
		t.Errorf("tenant a's device through tenant b's URL: %q", msg)
	}
}

// enrollFrontDesk enrolls a simulated Windows device named FRONT-DESK-01
// in the tenant, through its first session.
func enrollFrontDesk(ctx context.Context, t *testing.T, api apiClient, base, slug, host string) *devicesim.WindowsDevice {
	t.Helper()
	code, body := api.do("POST", "/v1/tenants/"+slug+"/enrollments/windows", nil)
	var en windowsEnrollmentOut
	if json.Unmarshal(body, &en); code != 200 {
		t.Fatalf("enrollment token: %d %s", code, body)
	}
	dev := devicesim.NewWindowsDevice(base, host)
	dev.Name = "FRONT-DESK-01"
	dev.Nodes["./DevDetail/Ext/Microsoft/DeviceName"] = dev.Name
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

// browser is a Chromium the test drives, every *.trident.test name
// resolving to this server; screenshots go to the test's artifact
// directory.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("host-resolver-rules", "MAP *.trident.test 127.0.0.1, MAP trident.test 127.0.0.1"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The first call starts the browser; it must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: bctx, shots: t.ArtifactDir()}
}

// shot saves a screenshot of the page as name.png.
func (b *browser) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644)
	})
}

func (b *browser) page() string {
	h, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	return h
}

// try runs the steps, for up to 30 s.
func (b *browser) try(steps ...chromedp.Action[chromedp.Void]) error {
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Do(sctx, steps...)
}

// run runs the steps, failing the test (with the page) if one fails.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := b.try(steps...); err != nil {
		b.t.Fatalf("%s: %v\npage: %.3000s", what, err, b.page())
	}
}

// text is the text of the element sel finds.
func (b *browser) text(sel string) string {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func deviceID(t *testing.T, c apiClient, tenant string) string {
	code, body := c.do("GET", "/v1/tenants/"+tenant+"/devices", nil)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if json.Unmarshal(body, &page); code != 200 || len(page.Items) == 0 {
		t.Fatalf("devices: %d %s", code, body)
	}
	return page.Items[0].ID
}
