package architecture

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// owners says which package owns each table the migrations create: only
// it writes the table, and only it reads it, except for the reads listed
// in crossReads. A new table needs an owner here.
var owners = map[string]string{
	"msps": "tenancy", "tenants": "tenancy", "tenant_hostnames": "tenancy",
	"events": "services/events", "webhook_endpoints": "services/events", "webhook_deliveries": "services/events",
	"audit_log": "services/audit",
	"devices":   "services/inventory", "device_groups": "services/inventory", "device_group_members": "services/inventory", "saved_views": "services/inventory",
	"commands":            "services/commands",
	"issued_certificates": "services/pki", "scep_challenges": "services/pki", "tenant_cas": "services/pki",
	"compliance_rules": "services/compliance", "compliance_results": "services/compliance",
	"compliance_history": "services/compliance", "fleet_history": "services/compliance",
	"dep_tokens": "services/dep", "dep_devices": "services/dep", "dep_profiles": "services/dep", "dep_profile_definitions": "services/dep",
	"android_enterprises": "services/android", "android_enrollment_tokens": "services/android",
	"android_notifications": "services/android", "android_operations": "services/android", "android_policies": "services/android",
	"windows_enrollments": "services/enrollment", "windows_chunks": "services/enrollment", "windows_federation": "services/enrollment",
	"idempotency_keys": "services/idempotency",
	"tenant_rollups":   "services/msp", "tenant_tags": "services/msp", "msp_operations": "services/msp", "msp_operation_tenants": "services/msp",
	"baselines": "services/msp", "baseline_versions": "services/msp", "baseline_overrides": "services/msp",
	"dashboard_sessions": "services/identity", "access_settings": "services/identity", "access_grants": "services/identity",
	"device_enrollments": "services/inventory", "device_limits": "services/inventory", "tenant_branding": "services/tenants", "usage_days": "services/msp",
	"apple_devices": "protocols/apple/mdmstore", "apple_users": "protocols/apple/mdmstore",
	"apple_enrollments": "protocols/apple/mdmstore", "apple_enrollment_queue": "protocols/apple/mdmstore",
	"apple_commands": "protocols/apple/mdmstore", "apple_command_results": "protocols/apple/mdmstore",
	"apple_cert_auth": "protocols/apple/mdmstore", "apple_push_certs": "protocols/apple/mdmstore",
	"apple_push_requests": "protocols/apple/mdmstore",
}

// crossReads are the reads of another package's table that stay, each
// with its reason: read models whose filter or count needs the owner's
// rows in the same statement (asking the owner would be a query per
// device, or a snapshot the counts do not share). Each is read-only;
// a write to another package's table is never allowed.
var crossReads = map[string]string{
	"services/inventory reads compliance_results": "the device list filters by compliance state in its one paged query",
	"services/compliance reads devices":           "the fleet's standing counts enrolled devices with their results in one statement",
}

// sqlTable finds the table a statement reads or writes.
var sqlTable = regexp.MustCompile(`(?i)\b(FROM|JOIN|INTO|UPDATE)\s+([a-z_][a-z0-9_]*)`)

// tableUses lists "pkg reads|writes table" for every table of owners
// that the non-test Go files of the module's packages name in SQL.
func tableUses(t *testing.T) map[string]bool {
	t.Helper()
	root := moduleRoot(t)
	uses := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if under(pkg, "internal", "migrations") {
			return nil // test tooling and the migrations themselves
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
				table := strings.ToLower(m[2])
				if _, known := owners[table]; !known {
					continue
				}
				verb := "reads"
				if kw := strings.ToUpper(m[1]); kw == "INTO" || kw == "UPDATE" {
					verb = "writes"
				}
				uses[pkg+" "+verb+" "+table] = true
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

// ownershipViolations lists the uses of a table by a package that does
// not own it and is not listed in crossReads.
func ownershipViolations(uses map[string]bool) []string {
	var out []string
	for u := range uses {
		f := strings.Fields(u)
		pkg, verb, table := f[0], f[1], f[2]
		if owners[table] == pkg {
			continue
		}
		if _, ok := crossReads[u]; ok && verb == "reads" {
			continue
		}
		out = append(out, u+" (owned by "+owners[table]+")")
	}
	sort.Strings(out)
	return out
}

// Each package reads and writes only its own tables and asks the owner
// for the rest (issue 23: commands and compliance read devices, pki read
// tenants).
func TestServicesKeepToTheirTables(t *testing.T) {
	uses := tableUses(t)
	for _, v := range ownershipViolations(uses) {
		t.Errorf("%s: ask the owner through a method of its service", v)
	}
	for r := range crossReads {
		if !uses[r] {
			t.Errorf("crossReads lists %q, which no longer happens: take it off", r)
		}
	}
}

// Every table the migrations create has an owner.
func TestEveryTableHasAnOwner(t *testing.T) {
	create := regexp.MustCompile(`(?i)CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)`)
	files, err := filepath.Glob(filepath.Join(moduleRoot(t), "migrations", "sql", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v (%d files)", err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			if _, ok := owners[strings.ToLower(m[1])]; !ok {
				t.Errorf("%s creates %s, which has no owner in owners", filepath.Base(f), m[1])
			}
		}
	}
}

// The ownership check catches each kind of leak the review found: a
// service reading another's table, one writing it, and a listed read that
// becomes a write.
func TestOwnershipCatchesLeaks(t *testing.T) {
	got := ownershipViolations(map[string]bool{
		"services/commands reads devices":              true,
		"services/pki reads tenants":                   true,
		"services/android writes commands":             true,
		"services/compliance writes devices":           true,
		"services/inventory reads compliance_results":  true, // listed
		"services/inventory writes devices":            true, // its own
		"protocols/apple/mdmstore reads apple_devices": true, // its own
	})
	want := []string{
		"services/android writes commands (owned by services/commands)",
		"services/commands reads devices (owned by services/inventory)",
		"services/compliance writes devices (owned by services/inventory)",
		"services/pki reads tenants (owned by tenancy)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// moduleRoot is the repository's root, two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}
