package dashboard_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// as signs in afresh as user and answers the session's CSRF token.
func (f *fixture) as(user string) string {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	f.client = &http.Client{Jar: jar}
	_, home := f.signIn(user+"@msp.test", "pw")
	m := reHidden.FindStringSubmatch(home)
	if m == nil {
		f.t.Fatalf("no CSRF token on the home page of %s: %s", user, home)
	}
	return m[2]
}

// upload posts a multipart form with files (name → content).
func (f *fixture) upload(path string, fields map[string]string, files map[string][]byte) (int, string) {
	f.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, v := range files {
		w, _ := mw.CreateFormFile(k, k+".bin")
		w.Write(v)
	}
	mw.Close()
	resp, err := f.client.Post(f.url+path, mw.FormDataContentType(), &b)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// audited counts the tenant's audit entries of action made in the
// dashboard.
func (f *fixture) audited(tenant tenancy.Tenant, action string) (n int) {
	f.t.Helper()
	ctx := tenancy.WithTenant(context.Background(), tenant.ID)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND details->>'via' = 'dashboard'`, action).Scan(&n)
	}); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// want fails unless the answer has code and every one of texts.
func want(t *testing.T, what string, code int, page string, wantCode int, texts ...string) {
	t.Helper()
	page = html.UnescapeString(page)
	if code != wantCode {
		t.Errorf("%s: status %d, want %d\n%s", what, code, wantCode, page)
		return
	}
	for _, s := range texts {
		if !strings.Contains(page, s) {
			t.Errorf("%s: the page lacks %q\n%s", what, s, page)
		}
	}
}

// Every tenant page, per role: who sees it, and that another tenant's is
// a 404 whatever the role.
func TestPagesPerRole(t *testing.T) {
	f := setup(t)
	pages := map[string][3]int{ // viewer, operator, admin
		"/":           {200, 200, 200},
		"/devices":    {200, 200, 200},
		"/groups":     {200, 200, 200},
		"/commands":   {200, 200, 200},
		"/compliance": {200, 200, 200},
		"/profiles":   {200, 200, 200},
		"/enroll":     {200, 200, 200},
		"/abm":        {200, 200, 200},
		"/webhooks":   {404, 404, 200},
		"/audit":      {404, 404, 200},
		"/settings":   {404, 404, 200},
		"/people":     {404, 404, 200},
	}
	for i, user := range []string{"cy", "ana", "bo"} {
		f.as(user)
		for path, codes := range pages {
			if code, page := f.get("/dashboard/t/" + f.a.Slug + path); code != codes[i] {
				t.Errorf("%s: %s is %d, want %d\n%s", user, path, code, codes[i], page)
			}
			if code, _ := f.get("/dashboard/t/" + f.b.Slug + path); code != 404 {
				t.Errorf("%s: another tenant's %s is %d, want 404", user, path, code)
			}
		}
	}
}

// Admins write compliance rules; bad input is refused with the reason and
// changes nothing; viewers and operators cannot.
func TestComplianceRulesPage(t *testing.T) {
	f := setup(t)
	path := "/dashboard/t/" + f.a.Slug + "/compliance"
	csrf := f.as("ana")
	if code, page := f.get(path); code != 200 || strings.Contains(page, "New rule") {
		t.Errorf("operator: %d, the form is shown: %v", code, strings.Contains(page, "New rule"))
	}
	if code, _ := f.post(path+"/rules", url.Values{"csrf": {csrf}, "name": {"OS"}, "kind": {"os_version_min"}, "version": {"17"}}); code != 404 {
		t.Errorf("an operator made a rule: %d", code)
	}
	csrf = f.as("bo")
	code, page := f.post(path+"/rules", url.Values{"csrf": {csrf}, "name": {"OS"}, "kind": {"os_version_min"}, "version": {"seventeen"}})
	want(t, "bad version", code, page, 422, "must be a version such as 17.4", `value="seventeen"`)
	code, page = f.post(path+"/rules", url.Values{"csrf": {csrf}, "name": {"Wipe"}, "kind": {"disk_encrypted"}, "remediation": {"erase"}})
	want(t, "unconfirmed destructive remediation", code, page, 422, "tick the box")
	code, page = f.post(path+"/rules", url.Values{"csrf": {csrf}, "name": {"Modern OS"}, "kind": {"os_version_min"}, "version": {"10.0"},
		"hours": {"99"}, "platform": {"windows"}})
	want(t, "a rule", code, page, 200, "The rule is saved", "Modern OS", "OS version at least 10.0", "windows")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var rules []compliance.Rule
	f.db.Within(ctx, func(ctx context.Context) (err error) { rules, err = f.comp.Rules(ctx); return err })
	if len(rules) != 1 || rules[0].Params.Hours != 0 || !rules[0].Enabled {
		t.Fatalf("rules = %+v; want the one, without the other kinds' hours", rules)
	}
	rule := path + "/rules/" + rules[0].ID.String()
	code, page = f.post(rule, url.Values{"csrf": {csrf}, "action": {"off"}})
	want(t, "off", code, page, 200, "The rule is off", `value="on">Turn on`)
	code, page = f.post(rule, url.Values{"csrf": {csrf}, "action": {"explode"}})
	want(t, "an unknown action", code, page, 422, "Choose to turn the rule on or off")
	// A delete asks first (issue 24: one click deleted), and changes
	// nothing until confirmed.
	code, page = f.post(rule, url.Values{"csrf": {csrf}, "action": {"delete"}})
	want(t, "delete, unconfirmed", code, page, 200, "Delete the rule Modern OS?", "cannot be undone", `name="confirm" value="yes"`)
	if _, page := f.get(path); !strings.Contains(page, "Modern OS") {
		t.Fatal("an unconfirmed delete deleted the rule")
	}
	code, page = f.post(rule, url.Values{"csrf": {csrf}, "action": {"delete"}, "confirm": {"yes"}})
	want(t, "delete", code, page, 200, "The rule is deleted", "No rules yet")
	code, page = f.post(rule, url.Values{"csrf": {csrf}, "action": {"delete"}, "confirm": {"yes"}})
	want(t, "delete again", code, page, 404, "not there any more")
	if n := f.audited(f.a, "create-compliance-rule") + f.audited(f.a, "update-compliance-rule") + f.audited(f.a, "delete-compliance-rule"); n != 3 {
		t.Errorf("%d rule changes audited; want 3", n)
	}
}

// The overview draws compliance over time and check-ins by hour from the
// fleet's history; the device page shows its result per rule.
func TestChartsAndDeviceCompliance(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := f.comp.Create(ctx, compliance.Rule{Name: "Encrypted", Kind: compliance.DiskEncrypted, Enabled: true}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fleet_history (hour, enrolled, compliant, non_compliant, checked_in) VALUES
 (date_trunc('hour', now() - interval '2 days'), 4, 1, 3, 2),
 (date_trunc('hour', now() - interval '1 hour'), 4, 3, 1, 4)`); err != nil {
			return err
		}
		d, err := f.inv.ByIdentifier(ctx, tx, "windows", "DEV-"+f.a.Slug)
		if err != nil {
			return err
		}
		_, err = f.comp.Evaluate(ctx, d.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.as("cy")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/")
	want(t, "overview", code, page, 200, `class="trend-dot"`, " 25%;", " 75%;", `aria-labelledby="checkins-hourly"`, " 4;")
	_, list := f.get("/dashboard/t/" + f.a.Slug + "/devices")
	m := regexp.MustCompile(`href="(/dashboard/t/[^"]+/devices/[0-9a-f-]+)"`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("no device link: %s", list)
	}
	code, page = f.get(m[1])
	want(t, "device", code, page, 200, "Encrypted", "not compliant")
}

// Admins add and remove webhooks, see the secret once, ping and pause.
func TestWebhooksPage(t *testing.T) {
	f := setup(t)
	path := "/dashboard/t/" + f.a.Slug + "/webhooks"
	csrf := f.as("bo")
	code, page := f.post(path, url.Values{"csrf": {csrf}, "url": {"http://example.com/hook"}, "kinds": {"device."}})
	want(t, "plain http", code, page, 422, "https", `value="http://example.com/hook"`)
	// An event kind no service publishes (a typo) is refused, not kept to
	// wait for events that never come (issue 24).
	code, page = f.post(path, url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/t"}, "kinds": {"device.enroled"}})
	want(t, "a kind that does not exist", code, page, 422, "device.enroled")
	code, page = f.post(path, url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/t"}, "kinds": {"device., command.acknowledged"},
		"description": {"SIEM"}})
	want(t, "create", code, page, 201, `id="webhook-secret"`, "<code>device.</code>, <code>command.acknowledged</code>", "SIEM")
	m := regexp.MustCompile(`href="(` + regexp.QuoteMeta(path) + `/[0-9a-f-]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no link to the webhook")
	}
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"ping"}})
	want(t, "ping", code, page, 200, "webhook.ping event is on its way")
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"pause"}})
	want(t, "pause", code, page, 200, "paused", `value="resume"`)
	code, page = f.get(m[1])
	if strings.Contains(page, "webhook-secret") {
		t.Error("the secret is shown again")
	}
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"delete"}})
	want(t, "delete, unconfirmed", code, page, 200, "Delete the webhook", "cannot be undone")
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"delete"}, "confirm": {"yes"}})
	want(t, "delete", code, page, 200, "The webhook is deleted", "No webhooks yet")
	if n := f.audited(f.a, "create-webhook"); n != 1 {
		t.Errorf("%d webhook creations audited", n)
	}
	f.as("ana")
	if code, _ := f.post(path, url.Values{"csrf": {csrf}, "url": {"https://x.example.com"}, "kinds": {"*"}}); code != 403 && code != 404 {
		t.Errorf("an operator made a webhook: %d", code)
	}
}

// Admins rename the tenant and manage its custom hostnames.
func TestSettingsPage(t *testing.T) {
	f := setup(t)
	path := "/dashboard/t/" + f.a.Slug + "/settings"
	csrf := f.as("bo")
	code, page := f.post(path+"/name", url.Values{"csrf": {csrf}, "name": {""}})
	want(t, "empty name", code, page, 422, "name")
	code, page = f.post(path+"/name", url.Values{"csrf": {csrf}, "name": {"Acme Dental"}})
	want(t, "rename", code, page, 200, "The tenant's name is saved", `value="Acme Dental"`)
	code, page = f.post(path+"/hostnames", url.Values{"csrf": {csrf}, "hostname": {"not a host"}})
	want(t, "bad hostname", code, page, 422)
	code, page = f.post(path+"/hostnames", url.Values{"csrf": {csrf}, "hostname": {"mdm.acme.example"}})
	want(t, "add hostname", code, page, 200, "<code>mdm.acme.example</code>", "pending", "<code>_trident-challenge.mdm.acme.example</code> TXT <code>trident-verification=")
	code, page = f.post(path+"/hostnames", url.Values{"csrf": {csrf}, "hostname": {"169.254.169.254"}})
	want(t, "an IP literal", code, page, 422, "is an IP address")
	// Checking before the record is published says so, beside the name.
	code, page = f.post(path+"/hostnames/verify", url.Values{"csrf": {csrf}, "hostname": {"mdm.acme.example"}})
	want(t, "verify without the record", code, page, 409, "not verified yet", "DNS has no TXT record at _trident-challenge.mdm.acme.example yet")
	value := page[strings.Index(page, "trident-verification="):]
	value = value[:strings.Index(value, "</code>")]
	f.dns.SetTXT("_trident-challenge.mdm.acme.example", value)
	code, page = f.post(path+"/hostnames/verify", url.Values{"csrf": {csrf}, "hostname": {"mdm.acme.example"}})
	want(t, "verify with the record", code, page, 200, "The hostname is verified", `<span class="ok">verified</span>`)
	code, page = f.post(path+"/hostnames/verify", url.Values{"csrf": {csrf}, "hostname": {"elsewhere.example"}})
	want(t, "verify a name not the tenant's", code, page, 404, "not one of this tenant's custom hostnames")
	code, page = f.post(path+"/hostnames/remove", url.Values{"csrf": {csrf}, "hostname": {f.a.Slug + ".trident.test"}})
	want(t, "remove the platform's hostname", code, page, 404, "not one of this tenant's custom hostnames")
	code, page = f.post(path+"/hostnames/remove", url.Values{"csrf": {csrf}, "hostname": {"mdm.acme.example"}})
	want(t, "remove hostname", code, page, 200, "The hostname is removed")
	if strings.Contains(page, "<code>mdm.acme.example</code>") {
		t.Error("the removed hostname is still listed")
	}
}

// Admins connect ABM tokens: the key to upload to Apple, a server token
// that is not one is refused; operators may only sync.
func TestABMPage(t *testing.T) {
	f := setup(t)
	path := "/dashboard/t/" + f.a.Slug + "/abm"
	csrf := f.as("bo")
	code, page := f.post(path+"/tokens", url.Values{"csrf": {csrf}, "label": {""}})
	want(t, "no label", code, page, 422, "label")
	code, page = f.post(path+"/tokens", url.Values{"csrf": {csrf}, "label": {"Main account"}})
	want(t, "create", code, page, 200, "The ABM token is made", "Main account", "awaiting_token")
	m := regexp.MustCompile(`href="(` + regexp.QuoteMeta(path) + `/tokens/([0-9a-f-]+))/certificate"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no certificate link")
	}
	code, cert := f.get(m[1] + "/certificate")
	want(t, "certificate", code, cert, 200, "-----BEGIN CERTIFICATE-----")
	code, page = f.upload(m[1]+"/server-token", map[string]string{"csrf": csrf}, map[string][]byte{"server_token": []byte("not a p7m")})
	want(t, "garbage server token", code, page, 422, "not a server token from Apple Business Manager")
	code, page = f.upload(m[1]+"/server-token", map[string]string{"csrf": csrf}, map[string][]byte{"server_token": bytes.Repeat([]byte("x"), 70<<10)})
	want(t, "huge server token", code, page, 413, "larger than 64 KiB")
	csrf = f.as("ana")
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"sync"}})
	want(t, "operator sync", code, page, 200, "A sync from Apple Business Manager is queued")
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"delete"}})
	want(t, "operator delete", code, page, 403, "admin role")
	if _, page := f.get(path); strings.Contains(page, "/certificate") {
		t.Error("an operator is offered the key")
	}
	csrf = f.as("bo")
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"delete"}})
	want(t, "delete, unconfirmed", code, page, 200, "Delete the ABM token", "cannot be undone")
	code, page = f.post(m[1], url.Values{"csrf": {csrf}, "action": {"delete"}, "confirm": {"yes"}})
	want(t, "delete", code, page, 200, "The ABM token is deleted", "No ABM tokens yet")
}

// Operators install a configuration profile on a group's Apple devices in
// the background; a file that is not a profile is refused.
func TestInstallProfileOnGroup(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var groupID string
	if err := f.db.Within(ctx, func(ctx context.Context) error {
		g, err := f.inv.CreateGroup(ctx, "Macs")
		groupID = g.ID.String()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	path := "/dashboard/t/" + f.a.Slug + "/profiles"
	csrf := f.as("cy")
	if code, page := f.get(path); code != 200 || strings.Contains(page, "Install on the group") {
		t.Errorf("viewer: %d, offered the install form", code)
	}
	csrf = f.as("ana")
	code, page := f.upload(path+"/install", map[string]string{"csrf": csrf, "group": groupID}, map[string][]byte{"profile": []byte("hello")})
	want(t, "not a profile", code, page, 422, "Choose a configuration profile")
	profile := []byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadIdentifier</key><string>com.example.wifi</string></dict></plist>`)
	code, page = f.upload(path+"/install", map[string]string{"csrf": csrf, "group": "00000000-0000-0000-0000-000000000001"}, map[string][]byte{"profile": profile})
	want(t, "no such group", code, page, 404, "no such group")
	// The commands policy: a profile that moves the device to another MDM
	// server is an admin's to install, not an operator's.
	takeover := []byte(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadContent</key><array>` +
		`<dict><key>PayloadType</key><string>com.apple.mdm</string></dict></array></dict></plist>`)
	code, page = f.upload(path+"/install", map[string]string{"csrf": csrf, "group": groupID}, map[string][]byte{"profile": takeover})
	want(t, "an operator's MDM profile", code, page, 403, "MDM payload")
	code, page = f.upload(path+"/install", map[string]string{"csrf": csrf, "group": groupID}, map[string][]byte{"profile": profile})
	want(t, "install", code, page, 202, "being queued for every enrolled Apple device of Macs")
	var jobs int
	f.db.Writer().QueryRow(context.Background(), `SELECT count(*) FROM river.river_job WHERE kind = 'commands.bulk'
AND args->>'command' = 'install_profile' AND args->>'tenant_id' = $1`, f.a.ID.String()).Scan(&jobs)
	if jobs != 1 {
		t.Errorf("%d bulk install_profile jobs; want 1", jobs)
	}
}

// Without Apple or Android configured, the enrollment page says so, and
// their actions are 404s.
func TestEnrollPageWithoutAppleAndAndroid(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/enroll")
	want(t, "enroll", code, page, 200, "Apple management is not configured", "Android management is not configured", "Make a token")
	if code, _ := f.post("/dashboard/t/"+f.a.Slug+"/enroll/apple/profile", url.Values{"csrf": {csrf}}); code != 404 {
		t.Errorf("an Apple profile without Apple: %d", code)
	}
}

// The device list filters by compliance and group, and the next page's
// link keeps the filters.
func TestDeviceFilters(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var groupID string
	err := f.db.Within(ctx, func(ctx context.Context) error {
		enc, err := f.inv.Record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: "ENC-1", Name: "Encrypted PC",
			Facts: map[string]any{"disk_encrypted": true}})
		if err != nil {
			return err
		}
		if _, err := f.inv.Record(ctx, inventory.Report{Platform: inventory.Windows, Identifier: "NEW-1", Name: "New PC"}); err != nil {
			return err
		}
		g, err := f.inv.CreateGroup(ctx, "Vault")
		if err != nil {
			return err
		}
		groupID = g.ID.String()
		if _, err := f.inv.SetMembers(ctx, g.ID, []uuid.UUID{enc.ID}, true); err != nil {
			return err
		}
		if _, err := f.comp.Create(ctx, compliance.Rule{Name: "Encrypted", Kind: compliance.DiskEncrypted, Enabled: true}); err != nil {
			return err
		}
		var reception inventory.Device
		if err := f.db.ReadTx(ctx, func(tx pgx.Tx) (err error) {
			reception, err = f.inv.ByIdentifier(ctx, tx, inventory.Windows, "DEV-"+f.a.Slug)
			return err
		}); err != nil {
			return err
		}
		for _, id := range []uuid.UUID{enc.ID, reception.ID} {
			if _, err := f.comp.Evaluate(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.as("cy")
	rows := func(query string) string {
		t.Helper()
		code, body := f.get("/dashboard/t/"+f.a.Slug+"/devices?"+query, "HX-Request", "true")
		if code != 200 {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		return body
	}
	for query, wantNames := range map[string][]string{
		"compliance=compliant":                          {"Encrypted PC"},
		"compliance=noncompliant":                       {"Reception PC"},
		"compliance=unevaluated":                        {"New PC"},
		"group=" + groupID:                              {"Encrypted PC"},
		"group=" + groupID + "&compliance=noncompliant": nil,
		"": {"Encrypted PC", "New PC", "Reception PC"},
	} {
		body := rows(query)
		for _, n := range []string{"Encrypted PC", "New PC", "Reception PC"} {
			if strings.Contains(body, n) != slices.Contains(wantNames, n) {
				t.Errorf("%q: %s shown %v, want %v", query, n, strings.Contains(body, n), slices.Contains(wantNames, n))
			}
		}
	}
	if _, page := f.get("/dashboard/t/" + f.a.Slug + "/devices"); !strings.Contains(page, `id="group-filter"`) || strings.Contains(page, "Send a command to a group") {
		t.Error("a viewer lacks the group filter or is offered the group composer")
	}
}

// The device page shows the device's identity certificates: when each
// expires, and which was revoked.
func TestDeviceIdentities(t *testing.T) {
	f := setup(t)
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	var dev inventory.Device
	var serial string
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if dev, err = f.inv.ByIdentifier(ctx, tx, inventory.Windows, "DEV-"+f.a.Slug); err != nil {
			return err
		}
		secret, _, err := f.pki.NewChallengeTx(ctx, tx, "test", time.Hour)
		if err != nil {
			return err
		}
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		csr, _ := x509.ParseCertificateRequest(der)
		cert, b, err := f.pki.IssueTx(ctx, tx, pki.IssueRequest{CSR: csr, Challenge: secret})
		if err != nil {
			return err
		}
		serial = b.Serial
		return f.pki.BindTx(ctx, tx, cert, dev.ID)
	}); err != nil {
		t.Fatal(err)
	}
	f.as("cy")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/devices/" + dev.ID.String())
	want(t, "device page", code, page, 200, "Identity certificate", "<code>"+serial+"</code>", time.Now().Add(pki.DeviceLifetime).Format("2006-01-02"), ">current<")
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error { _, err := f.pki.RevokeDeviceTx(ctx, tx, dev.ID); return err }); err != nil {
		t.Fatal(err)
	}
	code, page = f.get("/dashboard/t/" + f.a.Slug + "/devices/" + dev.ID.String())
	want(t, "device page after revocation", code, page, 200, `<span class="bad">revoked</span>`)
}

// A webhook whose deliveries fail is not shown as a green "active"
// (issue 24): the list says it is failing, with the receiver's answer.
func TestFailingWebhookShowsFailing(t *testing.T) {
	f := setup(t)
	path := "/dashboard/t/" + f.a.Slug + "/webhooks"
	csrf := f.as("bo")
	code, page := f.post(path, url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/broken"}, "kinds": {"device."}})
	want(t, "create", code, page, 201, `id="webhook-secret"`)
	m := regexp.MustCompile(regexp.QuoteMeta(path) + `/([0-9a-f-]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no link to the webhook")
	}
	if _, page := f.get(path); !strings.Contains(page, `<span class="ok">active</span>`) {
		t.Fatalf("a new webhook: %s", page)
	}
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		var ev int64
		if err := tx.QueryRow(ctx, `INSERT INTO events (kind, subject, payload) VALUES ('device.enrolled', 'x', '{}') RETURNING id`).Scan(&ev); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, last_status_code, last_error, last_attempt_at)
VALUES (gen_random_uuid(), $1, $2, 'pending', 3, 500, 'the receiver answered 500 Internal Server Error', now())`, m[1], ev)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, page = f.get(path)
	if strings.Contains(page, `<span class="ok">active</span>`) || !strings.Contains(page, "failing") || !strings.Contains(page, "answered 500") {
		t.Errorf("a failing webhook's row: %s", page)
	}
}

// Compliance is actionable (issue 24): each rule says how many devices
// fail it, linking to the device list of just those.
func TestRuleFailingDevices(t *testing.T) {
	f := setup(t)
	f.as("bo")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	rule, err := f.comp.Create(ctx, compliance.Rule{Name: "Encrypted", Kind: compliance.DiskEncrypted, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		for _, r := range []inventory.Report{
			{Platform: inventory.Windows, Identifier: "ENC", Name: "Locked Laptop", Status: inventory.Enrolled, Facts: map[string]any{"disk_encrypted": true}},
			{Platform: inventory.Windows, Identifier: "OPEN", Name: "Open Laptop", Status: inventory.Enrolled, Facts: map[string]any{"disk_encrypted": false}},
		} {
			d, err := f.inv.RecordTx(ctx, tx, r)
			if err != nil {
				return err
			}
			ids = append(ids, d.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := f.comp.Evaluate(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	devices := "/dashboard/t/" + f.a.Slug + "/devices?rule=" + rule.ID.String()
	_, page := f.get("/dashboard/t/" + f.a.Slug + "/compliance")
	if !strings.Contains(page, `href="`+devices+`"`) || !strings.Contains(page, ">1 failing<") {
		t.Fatalf("the rule's failing devices are not linked: %s", page)
	}
	_, page = f.get(devices)
	if !strings.Contains(page, "Open Laptop") || strings.Contains(page, "Locked Laptop") || !strings.Contains(page, "failing Encrypted") {
		t.Errorf("the devices failing the rule: %s", page)
	}
}

// The groups page (issue 24: no page for groups): everyone sees the
// groups and their sizes; admins make and delete them, audited as the
// API's create-group and delete-group, a delete asked first.
func TestGroupsPage(t *testing.T) {
	f := setup(t)
	groups := "/dashboard/t/" + f.a.Slug + "/groups"
	f.as("cy") // a viewer
	code, page := f.get(groups)
	want(t, "a viewer's groups page", code, page, 200, "No groups yet")
	if strings.Contains(page, `id="group-name"`) {
		t.Error("a viewer is offered to make a group")
	}
	csrf := f.as("ana") // an operator
	if code, _ := f.post(groups, url.Values{"csrf": {csrf}, "name": {"Kiosks"}}); code != 404 {
		t.Errorf("an operator makes a group: %d", code)
	}
	csrf = f.as("bo") // an admin
	code, page = f.post(groups, url.Values{"csrf": {csrf}, "name": {"Kiosks"}})
	want(t, "make a group", code, page, 200, "The group is made", "Kiosks", "0 devices")
	code, page = f.post(groups, url.Values{"csrf": {csrf}, "name": {"Kiosks"}})
	want(t, "the same name again", code, page, 409, "There is a group named Kiosks already", `value="Kiosks"`)
	code, page = f.post(groups, url.Values{"csrf": {csrf}, "name": {"  "}})
	want(t, "no name", code, page, 422)
	if n := f.audited(f.a, "create-group"); n != 1 {
		t.Errorf("create-group audited %d times", n)
	}
	id := regexp.MustCompile(`/groups/([0-9a-f-]{36})/delete`).FindStringSubmatch(page)[1]
	del := groups + "/" + id + "/delete"
	code, page = f.post(del, url.Values{"csrf": {csrf}})
	want(t, "delete, unconfirmed", code, page, 200, "Delete the group Kiosks?")
	if code, _ := f.post("/dashboard/t/"+f.b.Slug+"/groups/"+id+"/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}}); code != 404 {
		t.Errorf("the group through another tenant's URL: %d", code)
	}
	code, page = f.post(del, url.Values{"csrf": {csrf}, "confirm": {"yes"}})
	want(t, "delete, confirmed", code, page, 200, "The group is deleted", "No groups yet")
	if n := f.audited(f.a, "delete-group"); n != 1 {
		t.Errorf("delete-group audited %d times", n)
	}
}

// A webhook's page shows each delivery's body and sends one again
// (issue 24: no redelivery, no payload view), audited as the API's
// redeliver-webhook-delivery.
func TestWebhookRedeliveryAndBody(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo")
	hooks := "/dashboard/t/" + f.a.Slug + "/webhooks"
	code, page := f.post(hooks, url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/trident"}, "kinds": {"tenant."}})
	want(t, "create", code, page, 201)
	hook := regexp.MustCompile(`/webhooks/([0-9a-f-]{36})"`).FindStringSubmatch(page)[1]
	if code, page := f.post("/dashboard/t/"+f.a.Slug+"/settings/name", url.Values{"csrf": {csrf}, "name": {"Renamed Bakery"}}); code != 200 {
		t.Fatalf("rename: %d %s", code, page)
	}
	_, page = f.get(hooks + "/" + hook)
	m := regexp.MustCompile(`/deliveries/([0-9a-f-]{36})/redeliver`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no delivery to send again: %s", page)
	}
	code, body := f.get(hooks+"/"+hook+"/deliveries/"+m[1], "HX-Request", "true")
	want(t, "the body", code, body, 200, `"kind": "tenant.updated"`, "Renamed Bakery", `"delivery_id": "`+m[1]+`"`)
	if code, _ := f.get("/dashboard/t/"+f.b.Slug+"/webhooks/"+hook+"/deliveries/"+m[1], "HX-Request", "true"); code != 404 {
		t.Errorf("the body through another tenant's URL: %d", code)
	}
	code, page = f.post(hooks+"/"+hook+"/deliveries/"+m[1]+"/redeliver", url.Values{"csrf": {csrf}})
	want(t, "deliver again", code, page, 200, "The event is being delivered again")
	if n := strings.Count(page, "/redeliver"); n != 2 {
		t.Errorf("%d deliveries after sending one again; want 2", n)
	}
	if n := f.audited(f.a, "redeliver-webhook-delivery"); n != 1 {
		t.Errorf("redeliver-webhook-delivery audited %d times", n)
	}
}

// A webhook's page shows its new deliveries as the events happen (issue
// 24: the webhook pages had no stream); a pending delivery's row asks
// for itself again; the button sends one again as a row on top; the
// stream of deliveries is for admins only.
func TestLiveWebhookDeliveries(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo")
	hooks := "/dashboard/t/" + f.a.Slug + "/webhooks"
	code, page := f.post(hooks, url.Values{"csrf": {csrf}, "url": {"https://hooks.example.com/trident"}, "kinds": {"tenant."}})
	want(t, "create", code, page, 201)
	hook := regexp.MustCompile(`/webhooks/([0-9a-f-]{36})"`).FindStringSubmatch(page)[1]
	_, page = f.get(hooks + "/" + hook)
	if !strings.Contains(page, `sse-swap="delivery-new"`) || !strings.Contains(page, "parts=deliveries") {
		t.Fatalf("the webhook's page takes no new deliveries: %s", page)
	}
	s := f.stream(page)
	if code, page := f.post("/dashboard/t/"+f.a.Slug+"/settings/name", url.Values{"csrf": {csrf}, "name": {"Live Bakery"}}); code != 200 {
		t.Fatalf("rename: %d %s", code, page)
	}
	msg := s.next("delivery-new")
	m := regexp.MustCompile(`<tr id="delivery-([0-9a-f-]{36})" hx-get="([^"]+/row)"`).FindStringSubmatch(msg)
	if m == nil || !strings.Contains(msg, "tenant.updated") || !strings.Contains(msg, `data-status="pending"`) {
		t.Fatalf("the new delivery's message: %q", msg)
	}
	code, row := f.get(m[2], "HX-Request", "true")
	want(t, "the pending row", code, row, 200, `id="delivery-`+m[1]+`"`, "every 5s")

	code, row = f.postHX(hooks+"/"+hook+"/deliveries/"+m[1]+"/redeliver", url.Values{}, csrf)
	want(t, "deliver again", code, row, 200, "tenant.updated", `data-status="pending"`)
	if strings.Contains(row, `id="delivery-`+m[1]+`"`) || strings.Contains(row, "<html") {
		t.Errorf("sending again answered something other than the new row: %s", row)
	}

	f.as("cy")
	if code, _ := f.get(regexp.MustCompile(`/dashboard/t/[^"]+/live\?[^"]+`).FindString(html.UnescapeString(page))); code != http.StatusForbidden {
		t.Errorf("a viewer's stream of a webhook's deliveries: %d, want 403", code)
	}
}

// An MSP admin makes a tenant from the home page (issue 24: no tenant
// creation in the dashboard), audited in the new tenant's log as the
// API's create-tenant; nobody else is offered it or may.
func TestCreateTenant(t *testing.T) {
	f := setup(t)
	csrf := f.as("bo") // a tenant admin, not an MSP admin
	_, home := f.get("/dashboard/")
	if strings.Contains(home, `action="/dashboard/tenants"`) {
		t.Error("a tenant admin is offered to make tenants")
	}
	if code, _ := f.post("/dashboard/tenants", url.Values{"csrf": {csrf}, "msp": {f.a.MSPSlug}, "name": {"X"}, "slug": {"x-" + f.a.Slug}}); code != 404 {
		t.Errorf("a tenant admin makes a tenant: %d", code)
	}
	csrf = f.as("mo")
	_, home = f.get("/dashboard/")
	want(t, "an MSP admin's home", 200, home, 200, `action="/dashboard/tenants"`, `name="msp" value="`+f.a.MSPSlug+`"`)
	if code, _ := f.post("/dashboard/tenants", url.Values{"csrf": {csrf}, "msp": {f.b.MSPSlug}, "name": {"X"}, "slug": {"x-" + f.b.Slug}}); code != 404 {
		t.Errorf("a tenant in another MSP: %d", code)
	}
	code, page := f.post("/dashboard/tenants", url.Values{"csrf": {csrf}, "msp": {f.a.MSPSlug}, "name": {"Harbour Bakery"}, "slug": {"Not A Slug"}})
	want(t, "a bad short name", code, page, 422, `value="Harbour Bakery"`)
	slug := "bakery-" + f.a.Slug
	code, page = f.post("/dashboard/tenants", url.Values{"csrf": {csrf}, "msp": {f.a.MSPSlug}, "name": {"Harbour Bakery"}, "slug": {slug}})
	want(t, "make a tenant", code, page, 200, "The tenant is made", "<h1>Harbour Bakery</h1>")
	code, page = f.post("/dashboard/tenants", url.Values{"csrf": {csrf}, "msp": {f.a.MSPSlug}, "name": {"Again"}, "slug": {slug}})
	want(t, "the same short name", code, page, 409, "is taken")
	dir, err := tenancy.NewDirectory(f.db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn, err := dir.TenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.audited(tn, "create-tenant"); n != 1 {
		t.Errorf("create-tenant audited %d times in the new tenant", n)
	}
}

// The people page (issue 24: no users and roles page): what each role
// may do and the identity provider's group that grants it in this
// tenant, and who acted here lately, each linking to their audit entries.
func TestPeoplePage(t *testing.T) {
	f := setup(t)
	csrf := f.as("ana")
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	found, _ := f.inv.List(ctx, inventory.Query{Limit: 1})
	f.postHX("/dashboard/t/"+f.a.Slug+"/devices/"+found.Devices[0].ID.String()+"/commands", url.Values{"kind": {"restart"}}, csrf)
	f.as("bo")
	code, page := f.get("/dashboard/t/" + f.a.Slug + "/people")
	want(t, "people", code, page, 200, "/trident/msp/"+f.a.MSPSlug+"/tenant/"+f.a.Slug+"/operator", "/trident/msp/"+f.a.MSPSlug+"/admin",
		"<code>groups</code>", "<code>ana</code>", `/audit?actor=ana">1</a>`)
	_, other := f.get("/dashboard/t/" + f.b.Slug + "/people")
	if strings.Contains(other, "<code>ana</code>") {
		t.Error("another tenant's people page shows this tenant's actors")
	}
}
