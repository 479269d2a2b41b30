// Package architecture holds the test that keeps the layers apart
// (ARCHITECTURE.md, "The house"): dependencies point one way, cmd ->
// api, dashboard, protocols, workers -> services -> tenancy -> pgx, and
// test tooling stays out of production packages. It reads the import
// graph with `go list`, so a leak fails CI instead of a review.
//
// Rules that do not hold yet (issue 23) are ratchets: the packages that
// still break them are listed, a new one fails, and a listed one that no
// longer does fails too, until it is taken off the list.
package architecture

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/tridentmdm/trident/"

// graph maps each package of the module (its path without the module
// prefix) to what it imports, module packages without the prefix.
func graph(t *testing.T, flags ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`}, flags...)
	args = append(args, module+"...")
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string][]string{}
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 0 {
			continue
		}
		var imps []string
		for _, imp := range f[1:] {
			imps = append(imps, strings.TrimPrefix(imp, module))
		}
		g[strings.TrimPrefix(f[0], module)] = imps
	}
	return g
}

// under reports whether pkg is root or inside it.
func under(pkg string, roots ...string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

// testTooling are packages for tests and the load generator only.
var testTooling = []string{"internal/testenv", "internal/devicesim", "internal/fakeapns", "internal/fakedep", "internal/fakeamapi", "internal/loadgen"}

// rule forbids packages under from importing packages under forbidden.
type rule struct {
	why       string
	from      []string
	forbidden []string
}

var rules = []rule{
	{"a service never imports an edge", []string{"services"}, []string{"api", "dashboard", "protocols", "workers", "cmd"}},
	{"tenancy is below the services", []string{"tenancy"}, []string{"services", "api", "dashboard", "protocols", "workers", "cmd"}},
	{"protocols talk to services, not to other edges", []string{"protocols"}, []string{"api", "dashboard", "workers", "cmd"}},
	{"the API and the dashboard talk to services, not to other edges", []string{"api", "dashboard"}, []string{"protocols", "workers", "cmd"}},
	{"workers call services back", []string{"workers"}, []string{"api", "dashboard", "protocols", "cmd"}},
	{"production packages do not link test tooling", []string{"tenancy", "services", "api", "dashboard", "protocols", "workers", "migrations"}, testTooling},
}

// violations lists "pkg imports dep (why)" for g under rs.
func violations(g map[string][]string, rs []rule) []string {
	var out []string
	for pkg, imps := range g {
		for _, r := range rs {
			if !under(pkg, r.from...) {
				continue
			}
			for _, imp := range imps {
				if under(imp, r.forbidden...) {
					out = append(out, pkg+" imports "+imp+" ("+r.why+")")
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestLayers(t *testing.T) {
	for _, v := range violations(graph(t), rules) {
		t.Error(v)
	}
}

// The rules catch what they are for: a synthetic graph with one leak of
// each kind the review of issue 23 found.
func TestRulesCatchLeaks(t *testing.T) {
	g := map[string][]string{
		"services/dep":      {"api"},
		"tenancy":           {"services/pki"},
		"protocols/apple":   {"workers"},
		"dashboard":         {"protocols/apple"},
		"workers":           {"dashboard"},
		"services/commands": {"internal/devicesim"},
		"api":               {"services/commands", "tenancy"}, // allowed
	}
	if got := violations(g, rules); len(got) != 6 {
		t.Errorf("violations: %d, want 6:\n%s", len(got), strings.Join(got, "\n"))
	}
}

// SQL belongs in services, tenancy, migrations and nanomdm's storage
// adapter (protocols/apple/mdmstore, the one storage-shaped exception):
// no edge imports pgx or River's pgx driver. An edge that must act in its
// use case's transaction joins it through the context (tenancy.DB.Within),
// and a job worker enqueues and completes jobs in it through
// tenancy/jobs (issue 23).
func TestNoSQLAtTheEdges(t *testing.T) {
	ratchet(t, "imports pgx", nil, func(pkg string, imps []string) bool {
		if !under(pkg, "api", "dashboard", "protocols", "workers", "cmd") || pkg == "protocols/apple/mdmstore" {
			return false
		}
		return slices.ContainsFunc(imps, func(i string) bool {
			return strings.HasPrefix(i, "github.com/jackc/pgx") || strings.HasPrefix(i, "github.com/riverqueue/river/riverdriver")
		})
	})
}

// Edges and services leave migrations to cmd (issue 23: workers
// imported it for River's schema name, which is now their Config).
func TestOnlyCmdImportsMigrations(t *testing.T) {
	ratchet(t, "imports migrations", nil, func(pkg string, imps []string) bool {
		return under(pkg, "workers", "api", "dashboard", "protocols", "services", "tenancy") && slices.Contains(imps, "migrations")
	})
}

// The production binary links no load tooling: `trident dev` needs the
// dev identity provider, and the load test's simulators, local APNs and
// generator come in only with -tags loadtest (cmd/trident/loadtest.go).
var linkedTooling []string

func TestProductionBinaryTooling(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"cmd/trident").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var got []string
	for _, p := range strings.Fields(string(out)) {
		if p = strings.TrimPrefix(p, module); under(p, testTooling...) {
			got = append(got, p)
		}
	}
	check(t, "is linked into cmd/trident", linkedTooling, got)
}

func ratchet(t *testing.T, what string, allowed []string, breaks func(pkg string, imps []string) bool) {
	t.Helper()
	var got []string
	for pkg, imps := range graph(t) {
		if breaks(pkg, imps) {
			got = append(got, pkg)
		}
	}
	check(t, what, allowed, got)
}

func check(t *testing.T, what string, allowed, got []string) {
	t.Helper()
	for _, p := range got {
		if !slices.Contains(allowed, p) {
			t.Errorf("%s %s: a new leak (issue 23); keep it out", p, what)
		}
	}
	for _, p := range allowed {
		if !slices.Contains(got, p) {
			t.Errorf("%s no longer %s: take it off the list in architecture_test.go", p, what)
		}
	}
}

// The API's documentation and constraints live on the API's own types
// (api/types.go), not on the services' records, so a service refactor is
// not an API change, and a constraint the API checks is one the service
// checks too (the dashboard calls it as well). Event payloads (events.go,
// the catalog) are the webhooks' contract and keep theirs.
var taggedServices []string

var humaTag = regexp.MustCompile(`\b(doc|enum|format|minLength|maxLength|pattern|minimum|maximum|minItems|maxItems|nullable):"`)

func TestServicesCarryNoAPITags(t *testing.T) {
	var got []string
	dirs, err := filepath.Glob("../../services/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			base := filepath.Base(f)
			if strings.HasSuffix(base, "_test.go") || base == "events.go" || base == "catalog.go" {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if humaTag.Match(src) {
				got = append(got, "services/"+filepath.Base(dir))
				break
			}
		}
	}
	check(t, "carries huma tags outside its event payloads", taggedServices, got)
}
