package main

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
	base, _ := startAppWith(t, idp.Issuer, func(c *serverConfig) {
		c.android = androidConfig{project: "trident-test", apiURL: google.URL + "/", topic: "projects/trident-test/topics/amapi",
			pushAudience: "trident-pubsub", pushAccount: pushAccount, pushIssuer: idp.Issuer}
	})
	ps := &pubsub{t: t, base: base, hosts: map[string]string{}, token: func() string { return idp.Token(t, "pubsub", "s") }}
	google.Notify = ps.notify
	port := strings.Split(base, ":")[2]

	type bound struct {
		host, enterprise, device, deviceID string
		c                                  apiClient
	}
	var all []bound
	for i, tn := range tenants {
		c := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, fmt.Sprint("admin", i), "s")}
		tp := "/v1/tenants/" + tn.Slug + "/android"
		host := tn.Slug + ".trident.test:" + port

		// Bind: Google's signup, then its redirect to the tenant's callback.
		code, body := c.do("POST", tp+"/enterprise/signup", map[string]any{"admin_email": "it@example.com"})
		var su struct {
			SignupURL string `json:"signup_url"`
		}
		if json.Unmarshal(body, &su); code != 200 || su.SignupURL == "" {
			t.Fatalf("signup: %d %s", code, body)
		}
		callback, err := google.CompleteSignup(su.SignupURL)
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := url.Parse(callback)
		if cb.Host != host || cb.Path != "/android/callback" {
			t.Fatalf("callback URL %s", callback)
		}
		if code, page := get(t, base+cb.Path+"?"+cb.RawQuery, host); code != 200 || !strings.Contains(page, "connected") {
			t.Fatalf("callback: %d %s", code, page)
		}
		if code, _ := get(t, base+cb.Path+"?"+cb.RawQuery, host); code != 400 {
			t.Fatalf("a used callback: %d", code)
		}
		_, body = c.do("GET", tp+"/enterprise", nil)
		var ent struct{ Status, Name string }
		if json.Unmarshal(body, &ent); ent.Status != "bound" || !strings.HasPrefix(ent.Name, "enterprises/") {
			t.Fatalf("enterprise: %s", body)
		}
		ps.mu.Lock()
		ps.hosts[ent.Name] = host
		ps.mu.Unlock()

		// A policy, published to Google by a job.
		code, body = c.do("POST", tp+"/policies", map[string]any{"name": "Corporate", "settings": map[string]any{
			"password_min_length": 8, "password_quality": "ALPHANUMERIC", "require_encryption": true, "camera_disabled": true,
			"apps": []map[string]string{{"package_name": "com.example.crm", "install_type": "FORCE_INSTALLED"}}, "block_after_days": 3}})
		var pol struct{ ID string }
		if json.Unmarshal(body, &pol); code != 201 {
			t.Fatalf("policy: %d %s", code, body)
		}
		policyName := ent.Name + "/policies/" + pol.ID
		eventually(t, "policy published", func() bool {
			_, body := c.do("GET", tp+"/policies/"+pol.ID, nil)
			return strings.Contains(string(body), `"version":1`)
		})
		if p := google.Policy(policyName); p == nil || p.PasswordRequirements.PasswordMinimumLength != 8 || p.CameraAccess != "CAMERA_ACCESS_DISABLED" ||
			p.EncryptionPolicy == "" || len(p.Applications) != 1 || p.PolicyEnforcementRules[0].BlockAction.BlockAfterDays != 3 {
			t.Fatalf("policy at Google: %+v", p)
		}

		// An enrollment token and its QR code.
		code, body = c.do("POST", tp+"/enrollment-tokens", map[string]any{"policy_id": pol.ID, "lifetime": "2h"})
		var tok struct {
			ID, Value, Link string
			QRCode          string `json:"qr_code"`
		}
		if json.Unmarshal(body, &tok); code != 201 || tok.Value == "" || !strings.Contains(tok.QRCode, tok.Value) || !strings.Contains(tok.Link, tok.Value) {
			t.Fatalf("enrollment token: %d %s", code, body)
		}
		// A token whose audit entry cannot be written is not kept either:
		// the entry commits with the change, or neither does.
		if i == 0 {
			u := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, unaudited, "s")}
			if code, body := u.do("POST", tp+"/enrollment-tokens", map[string]any{"policy_id": pol.ID, "lifetime": "2h"}); code != 500 {
				t.Fatalf("a token whose audit entry fails: %d %s", code, body)
			}
			if _, body := c.do("GET", tp+"/enrollment-tokens", nil); strings.Count(string(body), `"policy_id"`) != 1 {
				t.Fatalf("tokens after an unaudited one: %s", body)
			}
		}
		req, _ := http.NewRequest("GET", base+tp+"/enrollment-tokens/"+tok.ID+"/qr.png?size=256", nil)
		req.Host, req.Header["Authorization"] = "trident.test", []string{c.bearer}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Header.Get("Content-Type") != "image/png" || img.Bounds().Dx() != 256 {
			t.Fatalf("QR code: %v %s", err, resp.Header.Get("Content-Type"))
		}

		// A device enrolls with the token: the ENROLLMENT notification
		// puts it in the inventory.
		dev, err := google.Enroll(tok.Value, fmt.Sprintf("SERIAL-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		var deviceID string
		eventually(t, "device enrolled", func() bool {
			_, body := c.do("GET", "/v1/tenants/"+tn.Slug+"/devices?platform=android", nil)
			var page struct {
				Items []struct {
					ID, Status, Model string
					Serial            string `json:"serial_number"`
				}
			}
			json.Unmarshal(body, &page)
			if len(page.Items) == 1 && page.Items[0].Status == "enrolled" && page.Items[0].Serial == fmt.Sprintf("SERIAL-%d", i) {
				deviceID = page.Items[0].ID
			}
			return deviceID != ""
		})
		all = append(all, bound{host: host, enterprise: ent.Name, device: dev.Name, deviceID: deviceID, c: c})
	}

	for i, b := range all {
		tn := tenants[i]
		c := b.c
		// A status report updates the inventory and compliance facts.
		if err := google.Report(b.device, func(d *am.Device) {
			d.PolicyCompliant = false
			d.DeviceSettings.IsEncrypted = false
			d.NonComplianceDetails = []*am.NonComplianceDetail{{SettingName: "passwordRequirements", NonComplianceReason: "USER_ACTION"}}
			d.SoftwareInfo.AndroidVersion = "16"
		}); err != nil {
			t.Fatal(err)
		}
		facts := func() map[string]any {
			_, body := c.do("GET", "/v1/tenants/"+tn.Slug+"/devices/"+b.deviceID, nil)
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
			t.Fatalf("after the status report: %v", f)
		}

		// Out of order and redelivered: an older report changes nothing,
		// a message id seen before is acknowledged and ignored.
		old := *google.Device(b.device)
		old.LastStatusReportTime = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		old.SoftwareInfo = &am.SoftwareInfo{AndroidVersion: "14"}
		oldJSON, _ := json.Marshal(old)
		n := fakeamapi.Notification{Enterprise: b.enterprise, Type: "STATUS_REPORT", Data: oldJSON}
		if code := ps.post(b.host, ps.token(), ps.body(n, "old-"+fmt.Sprint(i))); code != 204 {
			t.Fatalf("old report: %d", code)
		}
		if code := ps.post(b.host, ps.token(), ps.body(n, "old-"+fmt.Sprint(i))); code != 204 {
			t.Fatalf("redelivery: %d", code)
		}
		if f := facts(); f["os_version"] != "16" {
			t.Fatalf("an older report was applied: %v", f)
		}

		// Refused, changing nothing: no token, another account's token,
		// garbage, and a notification about the other tenant's device.
		newer := old
		newer.LastStatusReportTime = time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
		newer.SoftwareInfo = &am.SoftwareInfo{AndroidVersion: "99"}
		newerJSON, _ := json.Marshal(newer)
		good := ps.body(fakeamapi.Notification{Type: "STATUS_REPORT", Data: newerJSON}, "x-"+fmt.Sprint(i))
		other := all[1-i]
		for what, code := range map[string]int{
			"no token":      ps.post(b.host, "", good),
			"intruder":      ps.post(b.host, idp.Token(t, "intruder", "s"), good),
			"garbage":       ps.post(b.host, ps.token(), []byte(`{"message":{"data":"!!"}}`)),
			"cross-tenant":  ps.post(other.host, ps.token(), good),
			"another's api": ps.post(b.host, ps.token(), ps.body(fakeamapi.Notification{Type: "STATUS_REPORT", Data: mustJSON(google.Device(other.device))}, "y-"+fmt.Sprint(i))),
		} {
			want := map[string]int{"no token": 401, "intruder": 401, "garbage": 400, "cross-tenant": 403, "another's api": 403}[what]
			if code != want {
				t.Errorf("%s push: %d, want %d", what, code, want)
			}
		}
		if f := facts(); f["os_version"] != "16" {
			t.Fatalf("a refused push changed the device: %v", f)
		}

		// A command: sent through issueCommand, completed by its COMMAND notification.
		code, body := c.do("POST", "/v1/tenants/"+tn.Slug+"/devices/"+b.deviceID+"/commands", map[string]any{"kind": "lock"})
		var cmd struct{ ID string }
		if json.Unmarshal(body, &cmd); code != 201 {
			t.Fatalf("queue: %d %s", code, body)
		}
		var ops []string
		eventually(t, "command issued", func() bool { ops = google.Operations(b.device); return len(ops) == 1 })
		eventually(t, "command sent", func() bool {
			_, body := c.do("GET", "/v1/tenants/"+tn.Slug+"/commands/"+cmd.ID, nil)
			return strings.Contains(string(body), `"status":"sent"`)
		})
		if err := google.Finish(ops[0], ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "command acknowledged", func() bool {
			_, body := c.do("GET", "/v1/tenants/"+tn.Slug+"/commands/"+cmd.ID, nil)
			return strings.Contains(string(body), `"status":"acknowledged"`)
		})
		// A failing one ends in error with Google's message.
		_, body = c.do("POST", "/v1/tenants/"+tn.Slug+"/devices/"+b.deviceID+"/commands", map[string]any{"kind": "restart"})
		json.Unmarshal(body, &cmd)
		eventually(t, "second command issued", func() bool { ops = google.Operations(b.device); return len(ops) == 2 })
		google.Finish(ops[1], "device is offline")
		eventually(t, "command failed", func() bool {
			_, body := c.do("GET", "/v1/tenants/"+tn.Slug+"/commands/"+cmd.ID, nil)
			return strings.Contains(string(body), `"status":"error"`) && strings.Contains(string(body), "device is offline")
		})
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

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
