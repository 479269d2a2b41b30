package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
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
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

func applePushCert(t *testing.T, topic string) (string, string) {
	certPEM, keyPEM, err := fakeapns.PushCertificate(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(certPEM), string(keyPEM)
}

// appleIssues plays Apple's Push Certificates Portal: it certifies pub
// for topic.
func appleIssues(t *testing.T, pub any, topic string) string {
	certPEM, _, err := fakeapns.PushCertificate(topic, pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(certPEM)
}

type apiClient struct {
	t      *testing.T
	base   string
	bearer string
}

func (c apiClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Host = "trident.test"
	req.Header.Set("Authorization", c.bearer)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The whole Apple flow against the running server, as an admin and a
// device would do it: upload the push certificate and download the
// enrollment profile through the API; install it (SCEP with its
// challenge, then Authenticate and TokenUpdate at its ServerURL); the API
// shows the device; a command queued through the API wakes it through
// APNs, and its answer shows in the API.
func TestAppleThroughTheServer(t *testing.T) {
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
	base := start(t, idp.Issuer, apnsFlags(t, apns)...).Base
	c := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, "admin", "s")}
	tp := "/v1/tenants/" + tn.Slug
	const topic = "com.apple.mgmt.External.11111111-2222-4333-8444-555555555555"
	uploadPushCertificate(t, c, tp, topic)
	scepP, mdmP := downloadProfile(t, c, tp, topic)
	dev, deviceID := installProfile(t, c, tp, base, tn.Slug, scepP, mdmP)

	// An erase queued and canceled through the API is never delivered.
	code, body := c.do("POST", tp+"/devices/"+deviceID+"/commands", map[string]any{"kind": "erase"})
	var erase struct{ ID string }
	if json.Unmarshal(body, &erase); code != 201 {
		t.Fatalf("queue the erase: %d %s", code, body)
	}
	if code, body = c.do("POST", tp+"/commands/"+erase.ID+"/cancel", nil); code != 200 || !strings.Contains(string(body), `"status":"canceled"`) {
		t.Fatalf("cancel the erase: %d %s", code, body)
	}
	code, body = c.do("POST", tp+"/devices/"+deviceID+"/commands", map[string]any{"kind": "restart"})
	if code != 201 {
		t.Fatalf("queue: %d %s", code, body)
	}
	var queued struct{ ID string }
	json.Unmarshal(body, &queued)
	pushed, ok := apns.Next(10 * time.Second)
	if !ok || pushed.Token != hex.EncodeToString(dev.Token) {
		t.Fatalf("no push for the device: %+v", pushed)
	}
	cmd, err := dev.Idle(context.Background())
	if err != nil || cmd == nil || cmd.CommandUUID != queued.ID {
		t.Fatalf("the command did not arrive (or the canceled erase did): %+v %v", cmd, err)
	}
	if _, body := c.do("GET", tp+"/commands/"+queued.ID, nil); !strings.Contains(string(body), `"status":"sent"`) ||
		!strings.Contains(string(body), `"attempts":1`) || !strings.Contains(string(body), `"sent_at":`) {
		t.Fatalf("the command handed out: %s; want sent, once, with sent_at", body)
	}
	dev.Answer(context.Background(), cmd, "Acknowledged")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := c.do("GET", tp+"/commands/"+queued.ID, nil)
		if strings.Contains(string(body), `"status":"acknowledged"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("command never acknowledged: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The identity is the device's (bound at Authenticate); an admin
	// revokes it, and the device's check-ins are refused from then on.
	code, body = c.do("GET", tp+"/devices/"+deviceID+"/certificates", nil)
	if code != 200 || strings.Count(string(body), `"serial"`) != 1 || strings.Contains(string(body), "revoked_at") {
		t.Fatalf("the device's certificates: %d %s", code, body)
	}
	code, body = c.do("POST", tp+"/devices/"+deviceID+"/certificates/revoke", nil)
	if code != 200 || !strings.Contains(string(body), `"revoked":1`) {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if _, err := dev.Idle(context.Background()); err == nil {
		t.Fatal("a check-in with the revoked identity was served")
	}
	if err := dev.Authenticate(context.Background()); err == nil {
		t.Fatal("an Authenticate with the revoked identity was accepted")
	}
}

// uploadPushCertificate: a profile needs a push certificate; garbage, a
// certificate of another topic and a mismatched key are refused; the
// request flow (Trident makes the key and CSR, "Apple" certifies it) and
// an upload with its key both work.
func uploadPushCertificate(t *testing.T, c apiClient, tp, topic string) {
	t.Helper()
	if code, body := c.do("POST", tp+"/enrollments/apple", nil); code != 409 {
		t.Fatalf("profile before a push certificate: %d %s", code, body)
	}
	if code, body := c.do("PUT", tp+"/apple/push-certificate", map[string]any{"certificate": "garbage"}); code != 422 {
		t.Fatalf("garbage certificate: %d %s", code, body)
	}
	// The request flow: Trident makes the key and CSR; "Apple" certifies
	// the CSR's key; the certificate alone is uploaded.
	code, body := c.do("POST", tp+"/apple/push-certificate/request", nil)
	var req struct{ CSR, RequestFile string }
	if json.Unmarshal(body, &req); code != 200 || !strings.Contains(req.CSR, "CERTIFICATE REQUEST") || req.RequestFile != "" {
		t.Fatalf("push request: %d %s", code, body)
	}
	block, _ := pem.Decode([]byte(req.CSR))
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	issued := appleIssues(t, csr.PublicKey, "com.apple.mgmt.External.99999999-2222-4333-8444-555555555555")
	if code, body := c.do("PUT", tp+"/apple/push-certificate", map[string]any{"certificate": issued}); code != 200 {
		t.Fatalf("upload of the requested certificate: %d %s", code, body)
	}
	certPEM, keyPEM := applePushCert(t, topic)
	if code, body := c.do("PUT", tp+"/apple/push-certificate", map[string]any{"certificate": certPEM, "private_key": keyPEM}); code != 409 {
		t.Fatalf("a certificate with another topic: %d %s", code, body)
	}
	if code, body := c.do("PUT", tp+"/apple/push-certificate", map[string]any{"certificate": certPEM, "replace_topic": true, "private_key": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"}); code != 422 {
		t.Fatalf("mismatched key: %d %s", code, body)
	}
	if code, body := c.do("PUT", tp+"/apple/push-certificate", map[string]any{"certificate": certPEM, "private_key": keyPEM, "replace_topic": true}); code != 200 || !strings.Contains(string(body), topic) {
		t.Fatalf("upload: %d %s", code, body)
	}
}

// applePayload is a payload of Trident's enrollment profile.
type applePayload struct {
	PayloadType    string
	PayloadUUID    string
	PayloadContent struct {
		URL, Challenge string
	}
	ServerURL, Topic, IdentityCertificateUUID string
	SignMessage                               bool
	AccessRights                              int
}

// downloadProfile: the enrollment profile is signed by the tenant's CA,
// carries a SCEP and an MDM payload, and keeps its identifiers when
// downloaded again.
func downloadProfile(t *testing.T, c apiClient, tp, topic string) (scep, mdm applePayload) {
	t.Helper()
	code, signed := c.do("POST", tp+"/enrollments/apple", nil)
	if code != 200 {
		t.Fatalf("profile: %d %s", code, signed)
	}

	// The profile is signed by the tenant's CA...
	p7, err := pkcs7.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.Verify(); err != nil {
		t.Fatalf("profile signature: %v", err)
	}
	var profile struct {
		PayloadIdentifier string
		PayloadContent    []applePayload
	}
	if err := plist.Unmarshal(p7.Content, &profile); err != nil {
		t.Fatal(err)
	}
	scepP, mdmP := profile.PayloadContent[0], profile.PayloadContent[1]
	if scepP.PayloadType != "com.apple.security.scep" || mdmP.PayloadType != "com.apple.mdm" || mdmP.Topic != topic ||
		mdmP.IdentityCertificateUUID != scepP.PayloadUUID || !mdmP.SignMessage || mdmP.AccessRights != 8191 {
		t.Fatalf("profile payloads: %+v", profile)
	}
	// ...and re-downloading gives the same identifiers (re-install replaces).
	_, again := c.do("POST", tp+"/enrollments/apple", nil)
	p7b, _ := pkcs7.Parse(again)
	if !bytes.Contains(p7b.Content, []byte(scepP.PayloadUUID)) {
		t.Fatal("a second profile has other identifiers")
	}
	return scepP, mdmP
}

// installProfile: a simulated device gets its identity over SCEP at the
// tenant's hostname and checks in; it shows enrolled in the API. It
// returns the device and its id.
func installProfile(t *testing.T, c apiClient, tp, base, slug string, scepP, mdmP applePayload) (*devicesim.AppleDevice, string) {
	t.Helper()
	// Install it: the URLs name the tenant's hostname; connect to the test server.
	serverOf := func(raw string) (string, string) {
		u, _ := url.Parse(raw)
		return base + u.Path, u.Host
	}
	scepURL, host := serverOf(scepP.PayloadContent.URL)
	if !strings.HasPrefix(host, slug+".trident.test:") {
		t.Fatalf("profile host %q", host)
	}
	sc := &devicesim.SCEPClient{URL: scepURL, Host: host}
	key, cert, err := sc.Enroll(context.Background(), scepP.PayloadContent.Challenge, "device")
	if err != nil {
		t.Fatal(err)
	}
	mdmURL, _ := serverOf(mdmP.ServerURL)
	dev := devicesim.NewAppleDevice(mdmURL, host, mdmP.Topic, key, cert)
	if err := dev.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := dev.TokenUpdate(context.Background()); err != nil {
		t.Fatal(err)
	}

	var deviceID string
	deadline := time.Now().Add(10 * time.Second)
	for deviceID == "" {
		_, body := c.do("GET", tp+"/devices?platform=apple", nil)
		var page struct {
			Items []struct {
				ID, Status   string
				SerialNumber string `json:"serial_number"`
				LastIP       string `json:"last_ip"`
			}
		}
		json.Unmarshal(body, &page)
		if len(page.Items) == 1 && page.Items[0].Status == "enrolled" && page.Items[0].SerialNumber == dev.SerialNumber {
			deviceID = page.Items[0].ID
			if page.Items[0].LastIP != "127.0.0.1" { // where its check-ins came from
				t.Errorf("the device's last address: %q, want 127.0.0.1", page.Items[0].LastIP)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("the device never showed enrolled: %s", body)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return dev, deviceID
}

// An audit entry commits with its change, and a change commits only with
// its entry: the push certificate is stored by the Apple edge's own store
// in the same transaction as the API's audit entry (API.audited). Before,
// the certificate was stored first and the entry written after, so a
// failed entry left an unaudited change.
func TestAuditCommitsWithItsChange(t *testing.T) {
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, d)
	grant := map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}
	// This caller's audit entries cannot be written (refuseAudit).
	long := "unaudited-admin"
	refuseAudit(t, long)
	idp := testenv.StartIDP(t, devidp.Client{ID: "admin", Secret: "s", Audience: []string{"trident-api"}, Claims: grant},
		devidp.Client{ID: long, Secret: "s", Audience: []string{"trident-api"}, Claims: grant})
	base := start(t, idp.Issuer).Base
	admin := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, "admin", "s")}
	unaudited := apiClient{t: t, base: base, bearer: "Bearer " + idp.Token(t, long, "s")}
	tp := "/v1/tenants/" + tn.Slug
	certPEM, keyPEM := applePushCert(t, "com.apple.mgmt.External.audit")
	body := map[string]any{"certificate": string(certPEM), "private_key": string(keyPEM)}
	entries := func() string {
		_, b := admin.do("GET", tp+"/audit?action=put-apple-push-certificate", nil)
		return string(b)
	}

	// The entry fails: the certificate is not kept either.
	if code, b := unaudited.do("PUT", tp+"/apple/push-certificate", body); code != 500 {
		t.Fatalf("an upload whose audit entry fails: %d %s", code, b)
	}
	if code, b := admin.do("GET", tp+"/apple/push-certificate", nil); code != 404 {
		t.Fatalf("the certificate after its audit entry failed: %d %s; want none stored", code, b)
	}
	// The change fails: no entry.
	if code, b := admin.do("PUT", tp+"/apple/push-certificate", map[string]any{"certificate": "not a certificate", "private_key": string(keyPEM)}); code != 422 {
		t.Fatalf("a bad certificate: %d %s", code, b)
	}
	if strings.Contains(entries(), `"action":"put-apple-push-certificate"`) {
		t.Fatalf("an audit entry for changes that did not happen: %s", entries())
	}
	// Both work: both are there.
	if code, b := admin.do("PUT", tp+"/apple/push-certificate", body); code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
	if strings.Count(entries(), `"action":"put-apple-push-certificate"`) != 1 {
		t.Fatalf("entries after one upload: %s", entries())
	}
}
