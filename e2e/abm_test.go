package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/fakedep"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

func (c apiClient) raw(method, path, contentType string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	req.Host = "trident.test"
	req.Header.Set("Authorization", c.bearer)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// eventually polls f every 50 ms until it is true, for up to 15 s.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	eventuallyWithin(t, what, 15*time.Second, f)
}

// eventuallyWithin is eventually with a deadline of its own.
func eventuallyWithin(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The "done when", against the running server with its workers:
// a tenant uploads an ABM token; its devices appear; new ones get the ADE
// profile automatically; a simulated ADE device enrolls through the ADE
// endpoint and is released from Setup Assistant after its setup commands.
func TestABMThroughTheServer(t *testing.T) {
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, d)
	idp := testenv.StartIDP(t, devidp.Client{ID: "admin", Secret: "s", Audience: []string{"trident-api"},
		Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}})
	apns := fakeapns.New()
	defer apns.Close()
	apple := fakedep.New()
	defer apple.Close()
	base := start(t, idp.Issuer, append(apnsFlags(t, apns), "--apple-dep-url", apple.URL)...).Base
	c := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, "admin", "s")}
	tp := "/v1/tenants/" + tn.Slug + "/abm"

	tk, account := abmConnect(t, c, tp, apple)
	enrollURL := abmSynced(t, c, tp, tk, apple, account, "http://"+tn.Slug+".trident.test:"+strings.Split(base, ":")[2]+"/ade/enroll")
	adeEnrolls(t, c, tp, base, enrollURL)
}

// abmConnect: an ADE profile, then a token's key pair; "ABM" (the admin
// uploads the certificate there and downloads the server token encrypted
// to it); junk is refused and the token becomes active. It returns the
// token's API path and its account at "Apple".
func abmConnect(t *testing.T, c apiClient, tp string, apple *fakedep.Server) (string, *fakedep.Account) {
	t.Helper()
	// An ADE profile, then a token's key pair.
	code, hdr, body := c.raw("POST", tp+"/profiles", "application/json", []byte(`{"name": "Corporate",
		"settings": {"skip_setup_items": ["Siri", "Privacy"], "support_phone_number": "+1 555 0100"}}`))
	var profile struct{ ID string }
	if json.Unmarshal(body, &profile); code != 201 || profile.ID == "" || hdr.Get("Location") != tp+"/profiles/"+profile.ID {
		t.Fatalf("profile: %d %v %s", code, hdr, body)
	}
	code, body = c.do("POST", tp+"/tokens", map[string]any{"label": "Acme ABM"})
	var created struct {
		Token       struct{ ID, Status string }
		Certificate string
	}
	if json.Unmarshal(body, &created); code != 201 || created.Token.Status != "awaiting_token" {
		t.Fatalf("token: %d %s", code, body)
	}
	tk := tp + "/tokens/" + created.Token.ID
	if code, body := c.do("PATCH", tk, map[string]any{"profile_id": profile.ID}); code != 200 {
		t.Fatalf("set profile: %d %s", code, body)
	}

	// "ABM": the admin uploads the certificate there and downloads the
	// server token encrypted to it.
	block, _ := pem.Decode([]byte(created.Certificate))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	account := apple.NewAccount("Acme")
	apple.Add(account, "ACME0001", "ACME0002", "ACME0003")
	p7m, err := apple.Token(account, cert)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, body := c.raw("PUT", tk+"/server-token", "application/pkcs7-mime", []byte("junk")); code != 422 {
		t.Fatalf("junk token: %d %s", code, body)
	}
	code, _, body = c.raw("PUT", tk+"/server-token", "application/pkcs7-mime", p7m)
	if code != 200 || !strings.Contains(string(body), `"status":"active"`) || !strings.Contains(string(body), `"org_name":"Acme"`) {
		t.Fatalf("upload: %d %s", code, body)
	}
	return tk, account
}

// abmSynced: the worker syncs, and assigns the profile to the new
// devices, at Apple with the tenant's ADE URL (want); a device added later
// is synced and assigned too; the proxy reaches Apple's API as the token.
// It returns the enrollment URL Apple was given.
func abmSynced(t *testing.T, c apiClient, tp, tk string, apple *fakedep.Server, account *fakedep.Account, want string) string {
	t.Helper()
	// The worker syncs, and assigns the profile to the new devices.
	type abmDevice struct {
		SerialNumber     string `json:"serial_number"`
		AssignStatus     string `json:"assign_status"`
		AppleProfileUUID string `json:"apple_profile_uuid"`
	}
	devices := func() map[string]abmDevice {
		_, body := c.do("GET", tp+"/devices", nil)
		var page struct{ Items []abmDevice }
		json.Unmarshal(body, &page)
		out := map[string]abmDevice{}
		for _, d := range page.Items {
			out[d.SerialNumber] = d
		}
		return out
	}
	eventually(t, "devices synced and assigned", func() bool {
		ds := devices()
		for _, d := range ds {
			if d.AssignStatus != "assigned" {
				return false
			}
		}
		return len(ds) == 3
	})
	uuid1, defined := apple.Assigned(account, "ACME0002")
	enrollURL, _ := defined["url"].(string)
	if uuid1 == "" || enrollURL != want {
		t.Fatalf("profile at Apple: %s %v", uuid1, defined)
	}
	// A device added later in ABM is synced (on request here, on the
	// schedule otherwise) and assigned too.
	apple.Add(account, "ACME0004")
	if code, body := c.do("POST", tk+"/sync", nil); code != 202 {
		t.Fatalf("sync now: %d %s", code, body)
	}
	eventually(t, "the new device assigned", func() bool { return devices()["ACME0004"].AssignStatus == "assigned" })

	// The proxy reaches Apple's API as the token, without leaking the session.
	code, hdr, body := c.raw("GET", tk+"/proxy/account", "application/json", nil)
	if code != 200 || !strings.Contains(string(body), `"org_name":"Acme"`) || hdr.Get("X-ADM-Auth-Session") != "" {
		t.Fatalf("proxy: %d %v %s", code, hdr, body)
	}
	if code, _, body := c.raw("GET", tk+"/proxy/session", "application/json", nil); code != 400 {
		t.Fatalf("proxy to /session: %d %s", code, body)
	}
	if _, body := c.do("GET", strings.TrimSuffix(tp, "/abm")+"/audit", nil); !strings.Contains(string(body), "abm-proxy-get") {
		t.Fatalf("proxy call not audited: %s", body)
	}
	return enrollURL
}

// adeEnrolls: a device not in ABM and garbage machine info are refused;
// an ABM device gets a signed profile, enrolls, and in Setup Assistant
// gets the setup queries, then DeviceConfigured, once.
func adeEnrolls(t *testing.T, c apiClient, tp, base, enrollURL string) {
	t.Helper()
	// The ADE device. Enrollment needs the push certificate's topic.
	const topic = "com.apple.mgmt.External.11111111-2222-4333-8444-555555555555"
	certPEM, keyPEM := applePushCert(t, topic)
	if code, body := c.do("PUT", strings.TrimSuffix(tp, "/abm")+"/apple/push-certificate", map[string]any{"certificate": certPEM, "private_key": keyPEM}); code != 200 {
		t.Fatalf("push certificate: %d %s", code, body)
	}
	u, _ := url.Parse(enrollURL)
	ctx := context.Background()
	stranger, _ := devicesim.MachineInfo("NOTINABM1", "00008110-000A11E01E68801E")
	if _, err := devicesim.ADEEnroll(ctx, base+u.Path, u.Host, stranger); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a device not in ABM: %v", err)
	}
	if _, err := devicesim.ADEEnroll(ctx, base+u.Path, u.Host, []byte("garbage")); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("garbage machine info: %v", err)
	}
	info, _ := devicesim.MachineInfo("ACME0002", "00008110-000A11E01E68802E")
	signed, err := devicesim.ADEEnroll(ctx, base+u.Path, u.Host, info)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(signed)
	if err != nil || p7.Verify() != nil {
		t.Fatalf("enrollment profile signature: %v", err)
	}
	var mc struct {
		PayloadContent []struct {
			PayloadType    string
			PayloadContent struct{ URL, Challenge string }
			ServerURL      string
		}
	}
	if err := plist.Unmarshal(p7.Content, &mc); err != nil || len(mc.PayloadContent) != 2 {
		t.Fatalf("profile: %v", err)
	}
	scepP, mdmP := mc.PayloadContent[0], mc.PayloadContent[1]
	serverOf := func(raw string) (string, string) {
		u, _ := url.Parse(raw)
		return base + u.Path, u.Host
	}
	scepURL, host := serverOf(scepP.PayloadContent.URL)
	key, idCert, err := (&devicesim.SCEPClient{URL: scepURL, Host: host}).Enroll(ctx, scepP.PayloadContent.Challenge, "device")
	if err != nil {
		t.Fatal(err)
	}
	mdmURL, _ := serverOf(mdmP.ServerURL)
	dev := devicesim.NewAppleDevice(mdmURL, host, topic, key, idCert)
	dev.SerialNumber, dev.AwaitingConfiguration = "ACME0002", true
	if err := dev.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := dev.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	// A repeated TokenUpdate (devices send them again) queues nothing more.
	if err := dev.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	// In Setup Assistant the device asks for commands: the setup queries
	// come first, then DeviceConfigured releases it, once.
	var got []string
	cmd, err := dev.Idle(ctx)
	for err == nil && cmd != nil {
		got = append(got, cmd.Command.RequestType)
		cmd, err = dev.Answer(ctx, cmd, "Acknowledged")
	}
	if err != nil || strings.Join(got, ",") != "DeviceInformation,SecurityInfo,InstalledApplicationList,DeviceConfigured" {
		t.Fatalf("setup commands %v, %v", got, err)
	}
	_, body := c.do("GET", tp+"/devices", nil)
	if !strings.Contains(string(body), `"enrolled_at"`) {
		t.Fatalf("the ADE device is not marked enrolling: %s", body)
	}
	_, body = c.do("GET", strings.TrimSuffix(tp, "/abm")+"/devices?platform=apple", nil)
	if !strings.Contains(string(body), `"serial_number":"ACME0002"`) || !strings.Contains(string(body), `"status":"enrolled"`) {
		t.Fatalf("the ADE device is not in the inventory: %s", body)
	}
}
