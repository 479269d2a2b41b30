package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/api"
)

// The outside security test's low findings, replayed: a NUL or bytes that
// are not UTF-8 in a path, a query or a JSON string answer 400 (they gave
// 500 and ERROR logs: PostgreSQL refuses the byte), and a raw body over
// the bound answers 413 before it is read into memory (six 50 MB ABM
// uploads took the heap from 109 to 580 MB).
func TestInputHygiene(t *testing.T) {
	w := newWorld(t, api.Limits{})
	raw := func(method, path, contentType string, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, w.url+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Bearer "+w.tokens["admin-a"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	tp := "/v1/tenants/" + w.a.Slug
	for _, c := range []struct {
		method, path, contentType string
		body                      []byte
		want                      int
	}{
		{"GET", tp + "%00", "", nil, 400},
		{"GET", tp + "/devices?q=%00", "", nil, 400},
		{"GET", tp + "/devices?q=%ff%fe", "", nil, 400},
		{"GET", tp + "/events?kind=%00", "", nil, 400},
		{"POST", tp + "/webhooks", "application/json", []byte(`{"url":"https://hooks.example.com/\u0000","event_kinds":["command.sent"]}`), 400},
		{"POST", tp + "/webhooks", "application/json", []byte("{\"url\":\"https://hooks.example.com/\xff\",\"event_kinds\":[\"command.sent\"]}"), 400},
		{"PUT", tp + "/abm/tokens/" + uuid.NewString() + "/server-token", "application/pkcs7-mime", bytes.Repeat([]byte{'x'}, 2<<20), 413},
		{"POST", tp + "/webhooks", "application/json", []byte(`{"url":"` + strings.Repeat("a", 2<<20) + `"}`), 413},
	} {
		if code, body := raw(c.method, c.path, c.contentType, c.body); code != c.want {
			t.Errorf("%s %.60s: %d %.200s; want %d", c.method, c.path, code, body, c.want)
		}
	}
	// A caller's X-Forwarded-Host or Forwarded never names the host in
	// Trident's answers.
	for _, h := range [][2]string{{"X-Forwarded-Host", "evil.example"}, {"Forwarded", "host=evil.example;proto=https"}} {
		r := w.do(t, "admin-a", "GET", tp, nil, h[0], h[1])
		if r.status != 200 || strings.Contains(r.raw, "evil.example") {
			t.Errorf("with %s: %d %s", h[0], r.status, r.raw)
		}
	}
	// The docs page may not be framed and loads only Trident's own files
	// (a real Chromium rendered it under this policy with no violation);
	// every platform answer asks for https.
	resp, err := http.Get(w.url + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
		resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("/docs headers: %v", resp.Header)
	}
	// An escaped backslash before "u0000" is text, not a NUL.
	if code, body := raw("GET", tp+"/devices?q="+`%5Cu0000`, "", nil); code != 200 {
		t.Errorf("a query naming \\u0000 as text: %d %s", code, body)
	}
}
