package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/fakeamapi"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// browserish is a client that keeps cookies and reaches every
// *.trident.test name at the server on loopback, as a browser would
// through DNS.
func browserish() *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{}
	return &http.Client{Jar: jar, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, _ := net.SplitHostPort(addr); strings.HasSuffix(host, "trident.test") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}}}
}

var reCSRF = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// postFiles posts a multipart form.
func postFiles(t *testing.T, c *http.Client, u string, fields map[string]string, files map[string]string) (*http.Response, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, v := range files {
		w, _ := mw.CreateFormFile(k, k+".pem")
		io.WriteString(w, v)
	}
	mw.Close()
	resp, err := c.Post(u, mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, html.UnescapeString(string(body))
}

// The dashboard's enrollment page against the real Apple edge and the
// Android service (with Google's API played by fakeamapi): an admin
// downloads a push certificate request, uploads what "Apple" issues, and
// downloads a signed enrollment profile; binds an Android enterprise and
// makes an enrollment token whose QR code renders.
func TestDashboardEnrollmentSetup(t *testing.T) {
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, d)
	port := freePort(t)
	platform := fmt.Sprintf("http://trident.test:%d", port)
	idp := testenv.StartIDPWith(t, devidp.Config{
		Clients: []devidp.Client{
			{ID: "trident-dashboard", Secret: "dash", RedirectURIs: []string{platform + "/dashboard/callback"}},
			{ID: "setup", Secret: "s", Audience: []string{"trident-api"}, Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}},
		},
		Users: []devidp.User{{Subject: "ana", Email: "ana@msp.test", Name: "Ana Admin", Password: "pw",
			Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/tenant/" + tn.Slug + "/admin"}}}},
	})
	google := fakeamapi.New()
	defer google.Close()
	srv := startOn(t, port, idp.Issuer, "--dashboard-client-id", "trident-dashboard", "--dashboard-client-secret", "dash",
		"--android-project", "trident-test", "--android-api-url", google.URL+"/", "--android-pubsub-topic", "projects/trident-test/topics/amapi",
		"--android-push-audience", "trident-pubsub", "--android-push-service-account", pushAccount, "--android-push-issuer", idp.Issuer)
	c := browserish()
	if code, _ := idp.SignIn(t, c, platform+"/dashboard/", "ana@msp.test", "pw"); code != 200 {
		t.Fatalf("sign in: %d", code)
	}
	enroll := platform + "/dashboard/t/" + tn.Slug + "/enroll"
	resp, err := c.Get(enroll)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := html.UnescapeString(string(b))
	m := reCSRF.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(page, "No push certificate yet") {
		t.Fatalf("enrollment page: %d %s", resp.StatusCode, page)
	}
	csrf := m[1]

	dashboardApplePush(t, c, enroll, csrf, tn.Slug)
	api := apiClient{t: t, base: srv.Base, bearer: "Bearer " + idp.Token(t, "setup", "s")}
	dashboardAndroid(t, c, api, google, platform, enroll, csrf, tn.Slug)
}

// dashboardApplePush: without a push certificate there is no profile;
// the push certificate request (a CSR, as this server has no vendor
// certificate), the issued certificate uploaded (garbage and another
// topic refused), then the signed enrollment profile.
func dashboardApplePush(t *testing.T, c *http.Client, enroll, csrf, slug string) {
	t.Helper()
	// Without a push certificate there is no profile to download.
	resp, err := c.PostForm(enroll+"/apple/profile", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 409 || !strings.Contains(string(b), "push certificate") {
		t.Fatalf("a profile without a push certificate: %d %s", resp.StatusCode, b)
	}

	// The request: this server has no vendor certificate, so it is a CSR.
	resp, err = c.PostForm(enroll+"/apple/push/request", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	block, _ := pem.Decode(csrPEM)
	if resp.StatusCode != 200 || block == nil || !strings.Contains(resp.Header.Get("Content-Disposition"), slug+"-push-request.csr") {
		t.Fatalf("push request: %d %s %s", resp.StatusCode, resp.Header, csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	const topic = "com.apple.mgmt.External.12121212-2222-4333-8444-555555555555"
	if resp, page := postFiles(t, c, enroll+"/apple/push", map[string]string{"csrf": csrf}, map[string]string{"certificate": "not a certificate"}); resp.StatusCode != 422 {
		t.Fatalf("a garbage certificate: %d %s", resp.StatusCode, page)
	}
	resp, page := postFiles(t, c, enroll+"/apple/push", map[string]string{"csrf": csrf}, map[string]string{"certificate": appleIssues(t, csr.PublicKey, topic)})
	if resp.StatusCode != 200 || !strings.Contains(page, "The push certificate is saved") || !strings.Contains(page, topic) {
		t.Fatalf("upload the issued certificate: %d %s", resp.StatusCode, page)
	}
	// Another topic needs the box ticked.
	other, otherKey := applePushCert(t, "com.apple.mgmt.External.34343434-2222-4333-8444-555555555555")
	if resp, page := postFiles(t, c, enroll+"/apple/push", map[string]string{"csrf": csrf},
		map[string]string{"certificate": other, "private_key": otherKey}); resp.StatusCode != 409 || !strings.Contains(page, "tick the box") {
		t.Fatalf("another topic: %d %s", resp.StatusCode, page)
	}
	resp, err = c.PostForm(enroll+"/apple/profile", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	profile, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" || len(profile) < 500 || profile[0] != 0x30 {
		t.Fatalf("enrollment profile: %d %s (%d bytes, a signed profile starts with a DER SEQUENCE)", resp.StatusCode, resp.Header, len(profile))
	}

}

// dashboardAndroid: sign-up goes to Google, which brings the admin back;
// with a published policy, an enrollment token's lifetime is checked and
// its QR code renders.
func dashboardAndroid(t *testing.T, c *http.Client, api apiClient, google *fakeamapi.Server, platform, enroll, csrf, slug string) {
	t.Helper()
	// Android: sign-up goes to Google, which brings the admin back.
	// Without script the answer is a link to Google's sign-up (a redirect
	// would break the page's form-action 'self' in a browser).
	resp, err := c.PostForm(enroll+"/android/signup", url.Values{"csrf": {csrf}, "admin_email": {"it@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	link := regexp.MustCompile(`<a href="([^"]+)">Sign up`).FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || link == nil {
		t.Fatalf("sign-up: %d %s", resp.StatusCode, b)
	}
	signup := html.UnescapeString(link[1])
	if !strings.HasPrefix(signup, google.URL) {
		t.Fatalf("sign-up goes to %s", signup)
	}
	callback, err := google.CompleteSignup(signup)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = c.Get(callback); err != nil || resp.StatusCode != 200 {
		t.Fatalf("callback: %v %v", err, resp)
	}
	resp.Body.Close()
	code, body := api.do("POST", "/v1/tenants/"+slug+"/android/policies", map[string]any{"name": "Kiosk", "settings": map[string]any{"camera_disabled": true}})
	var pol struct{ ID string }
	if json.Unmarshal(body, &pol); code != 201 {
		t.Fatalf("policy: %d %s", code, body)
	}
	eventually(t, "policy published", func() bool {
		_, body := api.do("GET", "/v1/tenants/"+slug+"/android/policies/"+pol.ID, nil)
		return strings.Contains(string(body), `"version":1`)
	})
	resp, err = c.PostForm(enroll+"/android/tokens", url.Values{"csrf": {csrf}, "policy": {pol.ID}, "days": {"500"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 422 || !strings.Contains(string(b), "1 to 90 days") {
		t.Fatalf("a token for 500 days: %d", resp.StatusCode)
	}
	resp, err = c.PostForm(enroll+"/android/tokens", url.Values{"csrf": {csrf}, "policy": {pol.ID}, "days": {"7"}, "one_time": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	page := html.UnescapeString(string(b))
	qr := regexp.MustCompile(`src="(/dashboard/t/[^"]+/qr\.png)"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || qr == nil || !strings.Contains(page, "Bound to the Android enterprise") || !strings.Contains(page, "(one device)") {
		t.Fatalf("token: %d %s", resp.StatusCode, page)
	}
	resp, err = c.Get(platform + qr[1])
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil || img.Bounds().Dx() != 384 {
		t.Fatalf("QR code: %v", err)
	}

}
