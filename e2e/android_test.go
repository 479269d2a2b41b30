package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	am "google.golang.org/api/androidmanagement/v1"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/fakeamapi"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

const pushAccount = "amapi-push@trident-test.iam.gserviceaccount.com"

// pubsub plays Google Pub/Sub's push subscription: it posts each
// notification to the tenant hostname its enterprise belongs to, with a
// token the local OIDC provider signed for the subscription's account.
type pubsub struct {
	t       *testing.T
	base    string
	token   func() string
	seq     atomic.Int64
	mu      sync.Mutex
	hosts   map[string]string // enterprise -> tenant host
	results []int
}

func (p *pubsub) body(n fakeamapi.Notification, id string) []byte {
	b, _ := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(n.Data),
		"attributes": map[string]string{"notificationType": n.Type}, "messageId": id, "publishTime": time.Now().UTC().Format(time.RFC3339Nano)},
		"subscription": "projects/trident-test/subscriptions/amapi-push"})
	return b
}

// post sends a push body to host with bearer, and returns the status.
func (p *pubsub) post(host, bearer string, body []byte) int {
	req, _ := http.NewRequest("POST", p.base+"/android/pubsub", bytes.NewReader(body))
	req.Host = host
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *pubsub) notify(n fakeamapi.Notification) {
	p.mu.Lock()
	host := p.hosts[n.Enterprise]
	p.mu.Unlock()
	code := p.post(host, p.token(), p.body(n, fmt.Sprint(p.seq.Add(1))))
	p.mu.Lock()
	p.results = append(p.results, code)
	p.mu.Unlock()
}

// The "done when": two tenants each bind an enterprise, publish a
// policy, create an enrollment token with a QR code, and see devices
// enroll, report and take commands through notifications.
func TestAndroidThroughTheServer(t *testing.T) {
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tenants := []tenancy.Tenant{testenv.Tenant(t, d), testenv.Tenant(t, d)}
	clients := []devidp.Client{
		{ID: "pubsub", Secret: "s", Audience: []string{"trident-pubsub"}, Claims: map[string]any{"email": pushAccount, "email_verified": true}},
		{ID: "intruder", Secret: "s", Audience: []string{"trident-pubsub"}, Claims: map[string]any{"email": "someone@example.com", "email_verified": true}},
	}
	for i, tn := range tenants {
		clients = append(clients, devidp.Client{ID: fmt.Sprint("admin", i), Secret: "s", Audience: []string{"trident-api"},
			Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}})
	}
	// This admin's audit entries cannot be written (refuseAudit), so
	// neither can its changes.
	unaudited := "unaudited-admin"
	refuseAudit(t, unaudited)
	clients = append(clients, devidp.Client{ID: unaudited, Secret: "s", Audience: []string{"trident-api"},
		Claims: map[string]any{"groups": []string{"/trident/msp/" + tenants[0].MSPSlug + "/tenant/" + tenants[0].Slug + "/admin"}}})
	idp := testenv.StartIDP(t, clients...)
	google := fakeamapi.New()
	defer google.Close()
	base := start(t, idp.Issuer, "--android-project", "trident-test", "--android-api-url", google.URL+"/", "--android-pubsub-topic", "projects/trident-test/topics/amapi",
		"--android-push-audience", "trident-pubsub", "--android-push-service-account", pushAccount, "--android-push-issuer", idp.Issuer).Base
	ps := &pubsub{t: t, base: base, hosts: map[string]string{}, token: func() string { return idp.Token(t, "pubsub", "s") }}
	google.Notify = ps.notify
	w := androidWorld{t: t, base: base, google: google, ps: ps, idp: idp, unaudited: unaudited}
	port := strings.Split(base, ":")[2]

	var all []androidBound
	for i, tn := range tenants {
		b := androidBound{slug: tn.Slug, host: tn.Slug + ".trident.test:" + port,
			c: apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, fmt.Sprint("admin", i), "s")}}
		b.enterprise = w.bind(b)
		policy := w.policy(b)
		token := w.token(b, policy, i == 0)
		b.device, b.deviceID = w.enroll(b, token, fmt.Sprintf("SERIAL-%d", i))
		all = append(all, b)
	}
	for i, b := range all {
		w.reports(b, all[1-i], fmt.Sprint(i))
		w.commands(b)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, code := range ps.results {
		if code != 204 {
			t.Errorf("a notification answered %d: %v", code, ps.results)
		}
	}
	// Every notification became an event.
	_, body := all[0].c.do("GET", "/v1/tenants/"+tenants[0].Slug+"/events?kind=android.", nil)
	for _, k := range []string{"android.enrollment", "android.status_report", "android.command"} {
		if !strings.Contains(string(body), k) {
			t.Errorf("no %s event: %s", k, body)
		}
	}
}

// androidWorld is the Android test's server, Google and Pub/Sub.
type androidWorld struct {
	t         *testing.T
	base      string
	google    *fakeamapi.Server
	ps        *pubsub
	idp       *testenv.IDP
	unaudited string // an admin whose audit entries are refused
}

// androidBound is a tenant bound to an Android enterprise, with one
// enrolled device.
type androidBound struct {
	slug, host, enterprise, device, deviceID string
	c                                        apiClient
}

// bind: Google's signup, then its redirect to the tenant's callback;
// it returns the enterprise's name.
func (w androidWorld) bind(b androidBound) string {
	w.t.Helper()
	c, tp, host := b.c, "/v1/tenants/"+b.slug+"/android", b.host
	code, body := c.do("POST", tp+"/enterprise/signup", map[string]any{"admin_email": "it@example.com"})
	var su struct {
		SignupURL string `json:"signup_url"`
	}
	if json.Unmarshal(body, &su); code != 200 || su.SignupURL == "" {
		w.t.Fatalf("signup: %d %s", code, body)
	}
	callback, err := w.google.CompleteSignup(su.SignupURL)
	if err != nil {
		w.t.Fatal(err)
	}
	cb, _ := url.Parse(callback)
	if cb.Host != host || cb.Path != "/android/callback" {
		w.t.Fatalf("callback URL %s", callback)
	}
	if code, page := get(w.t, w.base+cb.Path+"?"+cb.RawQuery, host); code != 200 || !strings.Contains(page, "connected") {
		w.t.Fatalf("callback: %d %s", code, page)
	}
	if code, _ := get(w.t, w.base+cb.Path+"?"+cb.RawQuery, host); code != 400 {
		w.t.Fatalf("a used callback: %d", code)
	}
	_, body = c.do("GET", tp+"/enterprise", nil)
	var ent struct{ Status, Name string }
	if json.Unmarshal(body, &ent); ent.Status != "bound" || !strings.HasPrefix(ent.Name, "enterprises/") {
		w.t.Fatalf("enterprise: %s", body)
	}
	w.ps.mu.Lock()
	w.ps.hosts[ent.Name] = host
	w.ps.mu.Unlock()
	return ent.Name
}

// policy makes a policy, published to Google by a job, and returns its
// id.
func (w androidWorld) policy(b androidBound) string {
	w.t.Helper()
	c, tp := b.c, "/v1/tenants/"+b.slug+"/android"
	code, body := c.do("POST", tp+"/policies", map[string]any{"name": "Corporate", "settings": map[string]any{
		"password_min_length": 8, "password_quality": "ALPHANUMERIC", "require_encryption": true, "camera_disabled": true,
		"apps": []map[string]string{{"package_name": "com.example.crm", "install_type": "FORCE_INSTALLED"}}, "block_after_days": 3}})
	var pol struct{ ID string }
	if json.Unmarshal(body, &pol); code != 201 {
		w.t.Fatalf("policy: %d %s", code, body)
	}
	policyName := b.enterprise + "/policies/" + pol.ID
	eventually(w.t, "policy published", func() bool {
		_, body := c.do("GET", tp+"/policies/"+pol.ID, nil)
		return strings.Contains(string(body), `"version":1`)
	})
	if p := w.google.Policy(policyName); p == nil || p.PasswordRequirements.PasswordMinimumLength != 8 || p.CameraAccess != "CAMERA_ACCESS_DISABLED" ||
		p.EncryptionPolicy == "" || len(p.Applications) != 1 || p.PolicyEnforcementRules[0].BlockAction.BlockAfterDays != 3 {
		w.t.Fatalf("policy at Google: %+v", p)
	}
	return pol.ID
}

// token makes an enrollment token and reads its QR code; with
// unaudited, one whose audit entry cannot be written is not kept either.
func (w androidWorld) token(b androidBound, policy string, unaudited bool) string {
	w.t.Helper()
	c, tp := b.c, "/v1/tenants/"+b.slug+"/android"
	code, body := c.do("POST", tp+"/enrollment-tokens", map[string]any{"policy_id": policy, "lifetime": "2h"})
	var tok struct {
		ID, Value, Link string
		QRCode          string `json:"qr_code"`
	}
	if json.Unmarshal(body, &tok); code != 201 || tok.Value == "" || !strings.Contains(tok.QRCode, tok.Value) || !strings.Contains(tok.Link, tok.Value) {
		w.t.Fatalf("enrollment token: %d %s", code, body)
	}
	// A token whose audit entry cannot be written is not kept either:
	// the entry commits with the change, or neither does.
	if unaudited {
		u := apiClient{t: w.t, base: w.base, bearer: "Bearer " + w.idp.Token(w.t, w.unaudited, "s")}
		if code, body := u.do("POST", tp+"/enrollment-tokens", map[string]any{"policy_id": policy, "lifetime": "2h"}); code != 500 {
			w.t.Fatalf("a token whose audit entry fails: %d %s", code, body)
		}
		if _, body := c.do("GET", tp+"/enrollment-tokens", nil); strings.Count(string(body), `"policy_id"`) != 1 {
			w.t.Fatalf("tokens after an unaudited one: %s", body)
		}
	}
	req, _ := http.NewRequest("GET", w.base+tp+"/enrollment-tokens/"+tok.ID+"/qr.png?size=256", nil)
	req.Host, req.Header["Authorization"] = "trident.test", []string{c.bearer}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Header.Get("Content-Type") != "image/png" || img.Bounds().Dx() != 256 {
		w.t.Fatalf("QR code: %v %s", err, resp.Header.Get("Content-Type"))
	}
	return tok.Value
}

// enroll: a device enrolls with the token; the ENROLLMENT notification
// puts it in the inventory. It returns Google's name and Trident's id of
// the device.
func (w androidWorld) enroll(b androidBound, token, serial string) (device, id string) {
	w.t.Helper()
	dev, err := w.google.Enroll(token, serial)
	if err != nil {
		w.t.Fatal(err)
	}
	var deviceID string
	eventually(w.t, "device enrolled", func() bool {
		_, body := b.c.do("GET", "/v1/tenants/"+b.slug+"/devices?platform=android", nil)
		var page struct {
			Items []struct {
				ID, Status, Model string
				Serial            string `json:"serial_number"`
			}
		}
		json.Unmarshal(body, &page)
		if len(page.Items) == 1 && page.Items[0].Status == "enrolled" && page.Items[0].Serial == serial {
			deviceID = page.Items[0].ID
		}
		return deviceID != ""
	})
	return dev.Name, deviceID
}

// reports: a status report updates the inventory and compliance facts;
// old, redelivered and refused notifications change nothing.
func (w androidWorld) reports(b, other androidBound, i string) { // i tells the message ids apart
	w.t.Helper()
	c := b.c
	if err := w.google.Report(b.device, func(d *am.Device) {
		d.PolicyCompliant = false
		d.DeviceSettings.IsEncrypted = false
		d.NonComplianceDetails = []*am.NonComplianceDetail{{SettingName: "passwordRequirements", NonComplianceReason: "USER_ACTION"}}
		d.SoftwareInfo.AndroidVersion = "16"
	}); err != nil {
		w.t.Fatal(err)
	}
	facts := func() map[string]any {
		_, body := c.do("GET", "/v1/tenants/"+b.slug+"/devices/"+b.deviceID, nil)
		var dv struct {
			OSVersion string         `json:"os_version"`
			Facts     map[string]any `json:"facts"`
		}
		json.Unmarshal(body, &dv)
		dv.Facts["os_version"] = dv.OSVersion
		return dv.Facts
	}
	f := facts()
	if f["policy_compliant"] != false || f["disk_encrypted"] != false || f["os_version"] != "16" ||
		!strings.Contains(fmt.Sprint(f["non_compliance"]), "passwordRequirements") {
		w.t.Fatalf("after the status report: %v", f)
	}

	// Out of order and redelivered: an older report changes nothing,
	// a message id seen before is acknowledged and ignored.
	old := *w.google.Device(b.device)
	old.LastStatusReportTime = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	old.SoftwareInfo = &am.SoftwareInfo{AndroidVersion: "14"}
	oldJSON, _ := json.Marshal(old)
	n := fakeamapi.Notification{Enterprise: b.enterprise, Type: "STATUS_REPORT", Data: oldJSON}
	if code := w.ps.post(b.host, w.ps.token(), w.ps.body(n, "old-"+i)); code != 204 {
		w.t.Fatalf("old report: %d", code)
	}
	if code := w.ps.post(b.host, w.ps.token(), w.ps.body(n, "old-"+i)); code != 204 {
		w.t.Fatalf("redelivery: %d", code)
	}
	if f := facts(); f["os_version"] != "16" {
		w.t.Fatalf("an older report was applied: %v", f)
	}

	// Refused, changing nothing: no token, another account's token,
	// garbage, and a notification about the other tenant's device.
	newer := old
	newer.LastStatusReportTime = time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	newer.SoftwareInfo = &am.SoftwareInfo{AndroidVersion: "99"}
	newerJSON, _ := json.Marshal(newer)
	good := w.ps.body(fakeamapi.Notification{Type: "STATUS_REPORT", Data: newerJSON}, "x-"+i)
	for what, code := range map[string]int{
		"no token":      w.ps.post(b.host, "", good),
		"intruder":      w.ps.post(b.host, w.idp.Token(w.t, "intruder", "s"), good),
		"garbage":       w.ps.post(b.host, w.ps.token(), []byte(`{"message":{"data":"!!"}}`)),
		"cross-tenant":  w.ps.post(other.host, w.ps.token(), good),
		"another's api": w.ps.post(b.host, w.ps.token(), w.ps.body(fakeamapi.Notification{Type: "STATUS_REPORT", Data: mustJSON(w.google.Device(other.device))}, "y-"+i)),
	} {
		want := map[string]int{"no token": 401, "intruder": 401, "garbage": 400, "cross-tenant": 403, "another's api": 403}[what]
		if code != want {
			w.t.Errorf("%s push: %d, want %d", what, code, want)
		}
	}
	if f := facts(); f["os_version"] != "16" {
		w.t.Fatalf("a refused push changed the device: %v", f)
	}
}

// commands: one sent through issueCommand and completed by its COMMAND
// notification, and one that fails with Google's message.
func (w androidWorld) commands(b androidBound) {
	w.t.Helper()
	code, body := b.c.do("POST", "/v1/tenants/"+b.slug+"/devices/"+b.deviceID+"/commands", map[string]any{"kind": "lock"})
	var cmd struct{ ID string }
	if json.Unmarshal(body, &cmd); code != 201 {
		w.t.Fatalf("queue: %d %s", code, body)
	}
	var ops []string
	eventually(w.t, "command issued", func() bool { ops = w.google.Operations(b.device); return len(ops) == 1 })
	eventually(w.t, "command sent", func() bool {
		_, body := b.c.do("GET", "/v1/tenants/"+b.slug+"/commands/"+cmd.ID, nil)
		return strings.Contains(string(body), `"status":"sent"`)
	})
	if err := w.google.Finish(ops[0], ""); err != nil {
		w.t.Fatal(err)
	}
	eventually(w.t, "command acknowledged", func() bool {
		_, body := b.c.do("GET", "/v1/tenants/"+b.slug+"/commands/"+cmd.ID, nil)
		return strings.Contains(string(body), `"status":"acknowledged"`)
	})
	// A failing one ends in error with Google's message.
	_, body = b.c.do("POST", "/v1/tenants/"+b.slug+"/devices/"+b.deviceID+"/commands", map[string]any{"kind": "restart"})
	json.Unmarshal(body, &cmd)
	eventually(w.t, "second command issued", func() bool { ops = w.google.Operations(b.device); return len(ops) == 2 })
	w.google.Finish(ops[1], "device is offline")
	eventually(w.t, "command failed", func() bool {
		_, body := b.c.do("GET", "/v1/tenants/"+b.slug+"/commands/"+cmd.ID, nil)
		return strings.Contains(string(body), `"status":"error"`) && strings.Contains(string(body), "device is offline")
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
