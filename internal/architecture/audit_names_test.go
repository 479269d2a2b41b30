package architecture

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The dashboard records what a person does under the API operation that
// does the same (issue 23: its entries were hand-typed copies that could
// drift). Every action the dashboard audits must be an operationId of the
// checked-in OpenAPI document, so a renamed operation fails here.
func TestDashboardAuditsAsTheAPI(t *testing.T) {
	doc, err := os.ReadFile("../../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+operationId: ([a-z0-9-]+)$`).FindAllStringSubmatch(string(doc), -1) {
		ops[m[1]] = true
	}
	if len(ops) < 50 {
		t.Fatalf("found %d operationIds in openapi.yaml; the pattern no longer matches", len(ops))
	}
	files, err := filepath.Glob("../../dashboard/*.go")
	if err != nil {
		t.Fatal(err)
	}
	audited := regexp.MustCompile(`d\.(?:record|audited|auditedAs|changeGrant|changeBranding)\([^"\n]*"([a-z0-9-]+)"`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range audited.FindAllStringSubmatch(string(src), -1) {
			found++
			if !ops[m[1]] {
				t.Errorf("%s audits %q, which is not an API operation", filepath.Base(f), m[1])
			}
		}
	}
	if found < 20 {
		t.Errorf("found %d audited dashboard actions; the pattern no longer matches", found)
	}
}
