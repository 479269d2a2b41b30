package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// An MSP admin's home is the MSP's console (issue 25; issue 24's live MSP
// home): its tenants' totals, what needs attention linking to the fix,
// each tenant's figures; a tenant not counted yet is named; and a new
// count arrives on the open page by its stream, which only the MSP's
// admins may follow.
func TestConsolePage(t *testing.T) {
	f := setup(t)
	f.as("mo")
	_, home := f.get("/dashboard/")
	want(t, "before any count", 200, home, 200, "Not counted yet", f.a.Name, "No tenant is counted yet")
	if strings.Contains(home, f.b.Name) {
		t.Error("another MSP's tenant is on the console")
	}
	ctx := context.Background()
	tctx := tenancy.WithTenant(ctx, f.a.ID)
	if err := f.db.Tx(tctx, func(tx pgx.Tx) error {
		if _, err := f.inv.RecordTx(tctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: "SILENT-1", Name: "Back Office PC"}); err != nil {
			return err
		}
		_, err := tx.Exec(tctx, `UPDATE devices SET last_seen_at = now() - interval '12 days' WHERE identifier = 'SILENT-1'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.msp.Refresh(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	_, home = f.get("/dashboard/")
	want(t, "the console", 200, home, 200, "Needs attention", "1 enrolled device has not checked in for 7 days or more",
		`href="/dashboard/t/`+f.a.Slug+`/devices?sort=last_seen_at"`, `<span class="tag warn">warning</span>`, "Enrolled devices by last check-in")
	if strings.Contains(home, "Not counted yet") {
		t.Error("a counted tenant is still pending")
	}

	s := f.stream(home)
	if err := f.db.Tx(tctx, func(tx pgx.Tx) error {
		_, err := f.inv.RecordTx(tctx, tx, inventory.Report{Platform: inventory.Android, Identifier: "NEW-PHONE"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.msp.Refresh(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	msg := s.next("console")
	if !strings.Contains(msg, "Android: <strong>1</strong>") || !strings.Contains(msg, "Needs attention") || strings.HasPrefix(msg, "id:") {
		t.Errorf("the console's live message: %q", msg)
	}

	// Only the MSP's admins follow it.
	live := regexp.MustCompile(`/dashboard/msps/[^"]+/live`).FindString(home)
	f.as("bo")
	if code, _ := f.get(live); code != http.StatusNotFound {
		t.Errorf("a tenant admin's console stream: %d, want 404", code)
	}
}

// An MSP admin finds a device in any of the MSP's tenants from the home
// page (issue 25: cross-tenant search); a tenant admin cannot.
func TestConsoleSearch(t *testing.T) {
	f := setup(t)
	f.as("mo")
	_, home := f.get("/dashboard/")
	if !strings.Contains(home, `action="/dashboard/msps/`+f.a.MSPSlug+`/devices"`) {
		t.Fatalf("no search on the console: %s", home)
	}
	base := "/dashboard/msps/" + f.a.MSPSlug + "/devices"
	code, page := f.get(base + "?q=recep")
	want(t, "search", code, page, 200, "Reception PC", "/dashboard/t/"+f.a.Slug+"/devices/")
	if strings.Contains(page, "Secret Lab Mac") {
		t.Error("found another MSP's device")
	}
	code, page = f.get(base + "?q=r")
	want(t, "one letter", code, page, 200, "at least two characters")
	f.as("bo")
	if code, _ := f.get(base + "?q=recep"); code != http.StatusNotFound {
		t.Errorf("a tenant admin's search: %d", code)
	}
}

// The MSP's admins tag a tenant on its settings page and narrow the
// console to a tag (issue 25: tenant tags); a bad tag is refused with
// what was typed kept; a tenant admin is not offered tags and may not set
// them.
func TestConsoleTags(t *testing.T) {
	f := setup(t)
	csrf := f.as("mo")
	settings := "/dashboard/t/" + f.a.Slug + "/settings"
	_, page := f.get(settings)
	want(t, "settings", 200, page, 200, `action="`+settings+`/tags"`)
	code, page := f.post(settings+"/tags", url.Values{"csrf": {csrf}, "tags": {"Region EU"}})
	want(t, "a bad tag", code, page, 422, "is not a tag", `value="Region EU"`)
	code, page = f.post(settings+"/tags", url.Values{"csrf": {csrf}, "tags": {"region:eu, plan:gold"}})
	want(t, "tags", code, page, 200, "The tenant's tags are saved", `value="plan:gold, region:eu"`)
	if err := f.msp.Refresh(context.Background(), f.a); err != nil {
		t.Fatal(err)
	}
	_, home := f.get("/dashboard/?tag=region:eu")
	want(t, "the console narrowed", 200, home, 200, `href="/dashboard/?tag=plan%3agold"`, `<span class="tag muted">region:eu</span>`, f.a.Name)
	_, home = f.get("/dashboard/?tag=nothing")
	if strings.Contains(home, `<a href="/dashboard/t/`+f.a.Slug+`/">`+f.a.Name) {
		t.Error("a tenant without the tag is on the narrowed console")
	}
	csrf = f.as("bo")
	if _, page := f.get(settings); strings.Contains(page, "/settings/tags") {
		t.Error("a tenant admin is offered the MSP's tags")
	}
	if code, _ := f.post(settings+"/tags", url.Values{"csrf": {csrf}, "tags": {"x"}}); code != http.StatusForbidden {
		t.Errorf("a tenant admin sets tags: %d", code)
	}
}

// An MSP admin counts, then sends, a command to many tenants from the
// dashboard (issue 25: cross-tenant bulk operations), and follows each
// tenant's part; a destructive one needs the MSP's short name typed; a
// tenant admin has no such page.
func TestOperationsPage(t *testing.T) {
	f := setup(t)
	csrf := f.as("mo")
	base := "/dashboard/msps/" + f.a.MSPSlug + "/operations"
	code, page := f.get(base)
	want(t, "the page", code, page, 200, "Count the devices", `name="tenant" value="`+f.a.Slug+`"`)
	code, page = f.post(base, url.Values{"csrf": {csrf}, "kind": {"restart"}, "platform": {"windows"}, "action": {"count"}})
	want(t, "the dry run", code, page, 200, "It reaches 1 devices", f.a.Name)
	code, page = f.post(base, url.Values{"csrf": {csrf}, "kind": {"erase"}, "action": {"send"}, "confirm_name": {"yes"}})
	want(t, "erase unconfirmed", code, page, 422, "type the MSP's short name")
	code, page = f.post(base, url.Values{"csrf": {csrf}, "kind": {"restart"}, "platform": {"windows"}, "action": {"send"}, "tenant": {f.a.Slug}})
	want(t, "the run", code, page, 200, "The operation started", "restart to 1 tenants", f.a.Name)
	if n := f.audited(f.a, "run-msp-operation"); n != 1 {
		t.Errorf("run-msp-operation audited %d times in the tenant", n)
	}
	f.as("bo")
	if code, _ := f.get(base); code != http.StatusNotFound {
		t.Errorf("a tenant admin's operations page: %d", code)
	}
}

// An MSP admin exports a tenant from its settings page (issue 25:
// offboarding); a tenant admin may not.
func TestExportFromSettings(t *testing.T) {
	f := setup(t)
	f.as("mo")
	_, page := f.get("/dashboard/t/" + f.a.Slug + "/settings")
	want(t, "settings", 200, page, 200, `href="/dashboard/t/`+f.a.Slug+`/export"`)
	code, body := f.get("/dashboard/t/" + f.a.Slug + "/export")
	if code != 200 || !strings.HasPrefix(body, "PK") || !strings.Contains(body, "devices.jsonl") {
		t.Fatalf("the export: %d %.40q", code, body)
	}
	if n := f.audited(f.a, "export-tenant"); n != 1 {
		t.Errorf("export-tenant audited %d times", n)
	}
	f.as("bo")
	if code, _ := f.get("/dashboard/t/" + f.a.Slug + "/export"); code != http.StatusForbidden {
		t.Errorf("a tenant admin's export: %d", code)
	}
}

// An MSP admin makes a baseline in the dashboard, adds an item (a new
// version), assigns it, sets a ring and promotes it, and reads each
// tenant's drift (issue 25: the baseline pages); a bad item is refused
// with what was typed kept; a tenant admin has no such page.
func TestBaselinePages(t *testing.T) {
	f := setup(t)
	csrf := f.as("mo")
	base := "/dashboard/msps/" + f.a.MSPSlug + "/baselines"
	code, page := f.post(base, url.Values{"csrf": {csrf}, "name": {"Standard"}})
	want(t, "make", code, page, 200, "The baseline is made", "<h1>Standard</h1>")
	path := regexp.MustCompile(`action="(/dashboard/msps/[^"]+/baselines/[0-9a-f-]{36})"`).FindStringSubmatch(page)[1]
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"add"}, "key": {"Bad Key"}, "name": {"Disk"}, "kind": {"disk_encrypted"}})
	want(t, "a bad key", code, page, 422, `value="Bad Key"`)
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"preview"}, "key": {"disk"}, "name": {"Disk encrypted"}, "kind": {"disk_encrypted"}})
	want(t, "a dry run for nobody", code, page, 200, "It would reach no tenant yet", "Version 1")
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"add"}, "key": {"disk"}, "name": {"Disk encrypted"}, "kind": {"disk_encrypted"}})
	want(t, "an item", code, page, 200, "Version 2", "<code>disk</code>")
	profile := `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadContent</key><array/>
<key>PayloadDisplayName</key><string>Wi-Fi</string><key>PayloadIdentifier</key><string>com.msp.wifi</string>
<key>PayloadType</key><string>Configuration</string><key>PayloadUUID</key><string>5B7E3F34-7B1E-4C55-9A43-7D4C2C7E0001</string></dict></plist>`
	code, page = f.upload(path, map[string]string{"csrf": csrf, "action": "add", "item_kind": "apple_profile", "key": "wifi"}, map[string][]byte{"profile": []byte("junk")})
	want(t, "a profile that is not one", code, page, 422, "not a property list")
	code, page = f.upload(path, map[string]string{"csrf": csrf, "action": "add", "item_kind": "apple_profile", "key": "wifi"}, map[string][]byte{"profile": []byte(profile)})
	want(t, "a profile", code, page, 200, "Version 3", "Profile: Wi-Fi", "<code>com.msp.wifi</code>", "Apple devices")
	settings := url.Values{"csrf": {csrf}, "action": {"add"}, "item_kind": {"windows_settings"}, "key": {"lock"}, "name": {"Lock screen"}}
	settings.Set("settings", "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock")
	code, page = f.post(path, settings)
	want(t, "a setting without a value", code, page, 422, "is not a setting")
	settings.Set("settings", "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock = 5\n./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana = false")
	code, page = f.post(path, settings)
	want(t, "settings", code, page, 200, "Version 4", "Settings: Lock screen", "MaxInactivityTimeDeviceLock</code> = 5", "Windows devices")
	fragment := url.Values{"csrf": {csrf}, "action": {"add"}, "item_kind": {"android_policy"}, "key": {"passcode"}, "name": {"Passcode"},
		"password_min_length": {"eight"}}
	code, page = f.post(path, fragment)
	want(t, "a length that is not a number", code, page, 422, "a number of characters")
	fragment.Set("password_min_length", "8")
	fragment.Set("require_encryption", "yes")
	code, page = f.post(path, fragment)
	want(t, "Android settings", code, page, 200, "Version 5", "Android policies: Passcode", "a password of 8 or more", "encryption required", "Android devices")
	if strings.Contains(page, "· camera") {
		t.Error("a setting left empty is shown")
	}
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"assign"}, "assigned_to": {"all"}})
	want(t, "assign", code, page, 200, "its tenants get it applied")
	preview := url.Values{"csrf": {csrf}, "action": {"preview"}, "key": {"os"}, "name": {"Windows 11"}, "kind": {"os_version_min"}, "platform": {"windows"}, "version": {"10.0.26100"}}
	code, page = f.post(path, preview)
	want(t, "a dry run", code, page, 200, "What adding it would touch", f.a.Name, "<code>os</code> added", "Nothing is changed yet", "Version 5")
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"rings"}, "rings": {"pilot: tenant:" + f.a.Slug + ", soak:often"}})
	want(t, "a soak that is not hours", code, page, 422, `soak time "often" is not hours`)
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"rings"}, "rings": {"pilot: tenant:" + f.a.Slug + ", soak:48h"}})
	want(t, "rings", code, page, 200, "<td>pilot</td>", "after 48 h with no failure", ", soak:48h")
	code, page = f.post(path, url.Values{"csrf": {csrf}, "action": {"promote"}, "ring": {"everyone"}})
	want(t, "promote", code, page, 200, "The ring is promoted")
	ctx := context.Background()
	if _, err := f.msp.Apply(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	_, page = f.get(path)
	want(t, "drift", 200, page, 200, f.a.Name, "<code>disk</code> applied")
	f.as("bo")
	if code, _ := f.get(base); code != http.StatusNotFound {
		t.Errorf("a tenant admin's baselines page: %d", code)
	}
}

// An MSP admin suspends a tenant from its settings (typing its short
// name) and resumes it; while it is suspended every page says so and
// every change is refused, to its own admin and to the MSP's, except the
// MSP's tags and resuming (issue 25: suspend/resume).
func TestSuspendAndResume(t *testing.T) {
	f := setup(t)
	settings := "/dashboard/t/" + f.a.Slug + "/settings"
	groups := "/dashboard/t/" + f.a.Slug + "/groups"
	csrf := f.as("mo")
	_, page := f.get(settings)
	want(t, "settings", 200, page, 200, `action="`+settings+`/status"`, "Suspend the tenant")
	code, page := f.post(settings+"/status", url.Values{"csrf": {csrf}, "status": {"suspended"}})
	want(t, "suspend, unconfirmed", code, page, 422, "type the tenant's short name")
	code, page = f.post(settings+"/status", url.Values{"csrf": {csrf}, "status": {"suspended"}, "confirm": {f.a.Slug}})
	want(t, "suspend", code, page, 200, "The tenant is suspended", "Resume the tenant")
	_, page = f.get("/dashboard/t/" + f.a.Slug + "/")
	want(t, "a suspended tenant's page", 200, page, 200, "This tenant is suspended")
	code, page = f.post(settings+"/name", url.Values{"csrf": {csrf}, "name": {"Renamed"}})
	want(t, "the MSP renames a suspended tenant", code, page, 409, "is suspended: it is read-only")
	code, page = f.post(settings+"/tags", url.Values{"csrf": {csrf}, "tags": {"plan:paused"}})
	want(t, "the MSP tags a suspended tenant", code, page, 200, "The tenant's tags are saved")

	csrf = f.as("bo")
	code, page = f.post(groups, url.Values{"csrf": {csrf}, "name": {"Kiosks"}})
	want(t, "a change to a suspended tenant", code, page, 409, "is suspended: it is read-only")
	if code, _ := f.post(settings+"/status", url.Values{"csrf": {csrf}, "status": {"active"}}); code != http.StatusForbidden {
		t.Errorf("a tenant admin resumes the tenant: %d", code)
	}
	_, page = f.get(groups)
	want(t, "groups of a suspended tenant", 200, page, 200, "No groups yet")

	csrf = f.as("mo")
	code, page = f.post(settings+"/status", url.Values{"csrf": {csrf}, "status": {"active"}})
	want(t, "resume", code, page, 200, "The tenant is active again", "Suspend the tenant")
	if strings.Contains(page, "This tenant is suspended") {
		t.Error("a resumed tenant's page says it is suspended")
	}
	csrf = f.as("bo")
	code, page = f.post(groups, url.Values{"csrf": {csrf}, "name": {"Kiosks"}})
	want(t, "a change after resuming", code, page, 200, "The group is made")
	if n := f.audited(f.a, "update-tenant"); n != 2 {
		t.Errorf("suspending and resuming audited %d times, want 2", n)
	}
}
