package dashboard_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// A technician's dashboard follows their grants, page by page: no grant,
// a page that says to ask for one; a grant, the tenant on the home page
// and its pages at the grant's role; revoked, refused on the next page.
func TestTechnicianFollowsGrants(t *testing.T) {
	f := setup(t)
	if code, home := f.signIn("tess@msp.test", "pw"); code != 200 || strings.Contains(home, f.a.Name) {
		t.Fatalf("home without a grant: %d %s", code, home)
	}
	devices := "/dashboard/t/" + f.a.Slug + "/devices"
	if code, page := f.get(devices); code != 403 || !strings.Contains(page, "hold no grant") {
		t.Fatalf("a tenant without a grant: %d %s", code, page)
	}
	del := identity.NewDelegations(f.db, events.NewPublisher(nil), f.inv)
	tess := &identity.Principal{Subject: "tess", Name: "Tess", MSPTechnician: []string{f.a.MSPSlug}}
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	g, err := del.Request(ctx, tess, f.a, identity.GrantRequest{Role: identity.Viewer, Reason: "ticket 3", Hours: 1})
	if err != nil || g.Status != identity.Active { // tenant a allows standing access: active on request
		t.Fatalf("the grant: %+v, %v", g, err)
	}
	if code, home := f.get("/dashboard/"); code != 200 || !strings.Contains(home, f.a.Name) || strings.Contains(home, f.b.Name) {
		t.Fatalf("home with a grant: %d %s", code, home)
	}
	if code, page := f.get(devices); code != 200 || !strings.Contains(page, "Reception PC") {
		t.Fatalf("the devices with a viewer grant: %d %s", code, page)
	}
	if code, _ := f.get("/dashboard/t/" + f.a.Slug + "/audit"); code != 404 {
		t.Errorf("an admin page with a viewer grant: %d", code)
	}
	if _, err := del.Revoke(ctx, tess, f.a, g.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.get(devices); code != 403 {
		t.Errorf("the devices once the grant is revoked: %d", code)
	}
}

// An MSP that requires a second factor gets no dashboard session for its
// people who signed in without one (they are told why), and one for those
// with it; the tenant's own people are not its MSP's to refuse.
func TestSignInNeedsTheMSPsSecondFactor(t *testing.T) {
	f := setup(t)
	dir, err := tenancy.NewDirectory(f.db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.SetRequireMFA(context.Background(), f.a.MSPID, true); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"tess", "mo"} {
		f.client.Jar, _ = cookiejar.New(nil)
		if code, page := f.signIn(who+"@msp.test", "pw"); code != 403 || !strings.Contains(page, "second factor") {
			t.Errorf("%s without a second factor: %d %s", who, code, page)
		}
	}
	f.client.Jar, _ = cookiejar.New(nil)
	if code, page := f.signIn("mia@msp.test", "pw"); code != 200 || !strings.Contains(page, f.a.Name) {
		t.Errorf("an MSP admin with a second factor: %d %s", code, page)
	}
	f.client.Jar, _ = cookiejar.New(nil)
	if code, page := f.signIn("ana@msp.test", "pw"); code != 200 || !strings.Contains(page, f.a.Name) {
		t.Errorf("the tenant's own operator: %d %s", code, page)
	}
}

// The tenant's pages wear its branding for its people: its name, logo
// and support contact, and its colours in a style sheet of their own
// (the page's CSP allows no inline style).
func TestTenantPagesShowTheBranding(t *testing.T) {
	f := setup(t)
	dir, _ := tenancy.NewDirectory(f.db, "trident.test")
	brand := tenants.New(f.db, dir, events.NewPublisher(nil))
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if _, err := brand.SetBranding(ctx, tenants.Branding{DisplayName: "Corner Bakery", PrimaryColor: "#aa3300", SupportPhone: "+1 555 0100"}); err != nil {
		t.Fatal(err)
	}
	var logo bytes.Buffer
	_ = png.Encode(&logo, image.NewGray(image.Rect(0, 0, 40, 40)))
	if _, err := brand.SetLogo(ctx, logo.Bytes()); err != nil {
		t.Fatal(err)
	}
	f.signIn("bo@msp.test", "pw")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/")
	css := regexp.MustCompile(`href="(/dashboard/t/[^"]+/brand\.css\?v=[^"]+)"`).FindStringSubmatch(page)
	img := regexp.MustCompile(`src="(/dashboard/t/[^"]+/branding/logo\?v=[^"]+)"`).FindStringSubmatch(page)
	if code != 200 || css == nil || img == nil || !strings.Contains(page, `<span class="tenant-name">Corner Bakery</span>`) || !strings.Contains(page, "Help: &#43;1 555 0100") {
		t.Fatalf("the overview: %d %s", code, page)
	}
	if code, sheet := f.get(css[1]); code != 200 || !strings.Contains(sheet, "border-color: #aa3300") {
		t.Errorf("the colours: %d %s", code, sheet)
	}
	if code, body := f.get(strings.ReplaceAll(img[1], "&amp;", "&")); code != 200 || body != logo.String() {
		t.Errorf("the logo: %d, %d bytes", code, len(body))
	}
	if code, page := f.get("/dashboard/t/" + f.b.Slug + "/branding/logo"); code != 404 || strings.Contains(page, "PNG") {
		t.Errorf("another tenant's logo: %d", code)
	}
}

// The tenant's own admin decides on the MSP's access in the dashboard: a
// tenant that asks for approval shows the MSP's people a form to ask;
// the admin approves on the access page (the MSP's admin may not), and
// revokes; the page lists what the MSP did.
func TestAccessPage(t *testing.T) {
	f := setup(t)
	access := "/dashboard/t/" + f.a.Slug + "/access"
	csrf := f.as("bo")
	if code, page := f.post(access+"/setting", url.Values{"csrf": {csrf}, "msp_access": {"sometimes"}}); code != 422 || !strings.Contains(page, "msp_access") {
		t.Fatalf("an unknown setting: %d %s", code, page)
	}
	if code, page := f.post(access+"/setting", url.Values{"csrf": {csrf}, "msp_access": {"approval"}}); code != 200 || !strings.Contains(page, `value="approval" checked`) {
		t.Fatalf("the setting: %d %s", code, page)
	}
	// The MSP's admin has no standing access now: it is asked to ask.
	f.as("mo")
	if code, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); code != 403 || !strings.Contains(page, "Ask for access") {
		t.Fatalf("the MSP's admin without a grant: %d %s", code, page)
	}
	tcsrf := f.as("tess")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/")
	if code != 403 || !strings.Contains(page, `action="/dashboard/t/`+f.a.Slug+`/access/request"`) {
		t.Fatalf("a technician without a grant: %d %s", code, page)
	}
	if code, page := f.post(access+"/request", url.Values{"csrf": {tcsrf}, "role": {"operator"}, "hours": {"0"}, "reason": {"x"}}); code != 422 || !strings.Contains(page, "hours") {
		t.Errorf("a request of no hours: %d %s", code, page)
	}
	if code, page := f.post(access+"/request", url.Values{"csrf": {tcsrf}, "role": {"operator"}, "hours": {"8"}, "reason": {"ticket 7: the till"}}); code != 202 || !strings.Contains(page, "Asked") {
		t.Fatalf("the request: %d %s", code, page)
	}
	csrf = f.as("bo")
	code, page = f.get(access)
	id := regexp.MustCompile(`id="grant-([0-9a-f-]{36})"`).FindStringSubmatch(page)
	if code != 200 || id == nil || !strings.Contains(page, "ticket 7: the till") || !strings.Contains(page, "request-access-grant") {
		t.Fatalf("the access page: %d %s", code, page)
	}
	if code, _ := f.post(access+"/grants/"+id[1]+"/approve", url.Values{"csrf": {csrf}}); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	f.as("tess")
	if code, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); code != 200 || !strings.Contains(page, "Reception PC") {
		t.Fatalf("the technician with the grant: %d", code)
	}
	csrf = f.as("bo")
	if code, _ := f.post(access+"/grants/"+id[1]+"/revoke", url.Values{"csrf": {csrf}}); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := f.post(access+"/grants/not-a-grant/revoke", url.Values{"csrf": {csrf}}); code != 404 {
		t.Errorf("no such grant: %d", code)
	}
	f.as("tess")
	if code, _ := f.get("/dashboard/t/" + f.a.Slug + "/devices"); code != 403 {
		t.Errorf("the technician once revoked: %d", code)
	}
}

// The MSP's command to many tenants from the dashboard follows each
// tenant's setting as the API's does: the part in a tenant that asks for
// grants does not start, with the reason, and queues nothing.
func TestDashboardOperationFollowsTheSetting(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo")
	if code, _ := f.post("/dashboard/t/"+f.a.Slug+"/access/setting", url.Values{"csrf": {csrf}, "msp_access": {"approval"}}); code != 200 {
		t.Fatalf("the setting: %d", code)
	}
	csrf = f.as("mo")
	code, page := f.post("/dashboard/msps/"+f.a.MSPSlug+"/operations", url.Values{"csrf": {csrf}, "kind": {"restart"}, "platform": {"windows"}})
	if code != 200 || !strings.Contains(page, "asks its MSP for a grant") {
		t.Fatalf("the operation: %d %s", code, page)
	}
	var queued int
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM commands`).Scan(&queued)
	}); err != nil || queued != 0 {
		t.Errorf("the refused part queued %d commands (%v)", queued, err)
	}
}

// The tenant's admins set its branding on the settings page: a refused
// field says why and keeps what was typed; a logo that is not an image is
// refused; each change is audited as its API operation.
func TestBrandingForm(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo")
	settings := "/dashboard/t/" + f.a.Slug + "/settings"
	code, page := f.post(settings+"/branding", url.Values{"csrf": {csrf}, "display_name": {"Corner Bakery"}, "primary_color": {"orange"}})
	if code != 422 || !strings.Contains(page, "primary_color") || !strings.Contains(page, `value="Corner Bakery"`) {
		t.Fatalf("a bad colour: %d %s", code, page)
	}
	if code, page := f.post(settings+"/branding", url.Values{"csrf": {csrf}, "display_name": {"Corner Bakery"}, "primary_color": {"#aa3300"},
		"support_email": {"it@corner.example"}}); code != 200 || !strings.Contains(page, `<span class="tenant-name">Corner Bakery</span>`) {
		t.Fatalf("the branding: %d %s", code, page)
	}
	if code, page := f.upload(settings+"/branding/logo", map[string]string{"csrf": csrf}, map[string][]byte{"logo": []byte("<svg/>")}); code != 422 || !strings.Contains(page, "not a PNG or JPEG") {
		t.Errorf("an SVG logo: %d %s", code, page)
	}
	var logo bytes.Buffer
	_ = png.Encode(&logo, image.NewGray(image.Rect(0, 0, 32, 32)))
	if code, page := f.upload(settings+"/branding/logo", map[string]string{"csrf": csrf}, map[string][]byte{"logo": logo.Bytes()}); code != 200 || !strings.Contains(page, "tenant-logo") {
		t.Fatalf("the logo: %d %s", code, page)
	}
	if code, page := f.post(settings+"/branding/logo/remove", url.Values{"csrf": {csrf}}); code != 200 || strings.Contains(page, "tenant-logo") {
		t.Errorf("remove the logo: %d", code)
	}
	for _, action := range []string{"set-branding", "set-branding-logo", "delete-branding-logo"} {
		if n := f.audited(f.a, action); n != 1 {
			t.Errorf("%s audited %d times", action, n)
		}
	}
}

// A grant scoped to device groups shows the technician the pages of one
// device of them, and nothing else of the tenant.
func TestGroupScopedGrantInTheDashboard(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	g, err := f.inv.CreateGroup(ctx, "Tills")
	if err != nil {
		t.Fatal(err)
	}
	var dev uuid.UUID
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error { return tx.QueryRow(ctx, `SELECT id FROM devices`).Scan(&dev) }); err != nil {
		t.Fatal(err)
	}
	del := identity.NewDelegations(f.db, events.NewPublisher(nil), f.inv)
	tess := &identity.Principal{Subject: "tess", Name: "Tess", MSPTechnician: []string{f.a.MSPSlug}}
	if _, err := del.Request(ctx, tess, f.a, identity.GrantRequest{Role: identity.Viewer, Groups: []string{"Tills"}, Reason: "the tills", Hours: 1}); err != nil {
		t.Fatal(err)
	}
	f.as("tess")
	device := "/dashboard/t/" + f.a.Slug + "/devices/" + dev.String()
	if code, page := f.get(device); code != 403 || !strings.Contains(page, "in none of them") {
		t.Errorf("a device outside the grant's groups: %d", code)
	}
	if _, err := f.inv.SetMembers(ctx, g.ID, []uuid.UUID{dev}, true); err != nil {
		t.Fatal(err)
	}
	if code, page := f.get(device); code != 200 || !strings.Contains(page, "Reception PC") {
		t.Errorf("a device of the grant's groups: %d", code)
	}
	if code, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); code != 403 || !strings.Contains(page, "whole tenant") {
		t.Errorf("the tenant's device list: %d", code)
	}
}
