package api_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
)

// BenchmarkReads is the API's most called reads through the whole handler
// (authentication, authorization, the tenant's read transaction, the
// answer's JSON), one caller, one at a time, over HTTP on loopback: what
// a request costs, apart from the load test's concurrency. Compare trees
// by allocs/op first; ns/op is mostly PostgreSQL's round trips.
func BenchmarkReads(b *testing.B) {
	w := newWorld(b, api.Limits{CallerRate: 1e9, CallerBurst: 1e9, TenantRate: 1e9, TenantBurst: 1e9})
	var reports []inventory.Report
	for i := range 50 {
		reports = append(reports, inventory.Report{Platform: inventory.Apple, Identifier: fmt.Sprintf("UDID-%03d", i),
			SerialNumber: fmt.Sprintf("SN%03d", i), Name: fmt.Sprintf("iPhone %d", i), Model: "iPhone15,2", OSVersion: "17.4",
			Status: inventory.Enrolled, Facts: map[string]any{"build_version": "21E219", "storage_capacity_gb": 128.0, "supervised": true}})
	}
	ds := w.enroll(b, w.a, reports...)
	tp := "/v1/tenants/" + w.a.Slug
	for _, c := range []struct{ name, path string }{
		{"get-device", tp + "/devices/" + ds[0].ID.String()},
		{"list-devices", tp + "/devices?limit=50"},
		{"list-commands", tp + "/devices/" + ds[0].ID.String() + "/commands"},
		{"list-events", tp + "/events?limit=50"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, w.url+c.path, nil)
			req.Header.Set("Authorization", "Bearer "+w.tokens["admin-a"])
			b.ReportAllocs()
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", c.path, resp.StatusCode)
				}
			}
		})
	}
}
