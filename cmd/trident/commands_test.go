package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/tenancy"
)

func TestTenantCommands(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	u := uuid.NewString()[:8]
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		args = append(args[:1:1], append([]string{"--database-url", e.AppURL, "--base-domain", "trident.test"}, args[1:]...)...)
		err := runTenant(ctx, args, &out)
		return out.String(), err
	}
	if _, err := run("create", "--msp", "m-"+u, "--slug", "t-"+u, "--name", "T"); err == nil || !strings.Contains(err.Error(), "--msp-name") {
		t.Fatalf("create for a missing MSP: %v; want a hint to give --msp-name", err)
	}
	out, err := run("create", "--msp", "m-"+u, "--msp-name", "M", "--slug", "t-"+u, "--name", "Tenant "+u)
	if err != nil || !strings.Contains(out, "https://t-"+u+".trident.test/") {
		t.Fatalf("create: %q, %v", out, err)
	}
	out, err = run("add-hostname", "--tenant", "t-"+u, "mdm."+u+".example")
	if err != nil || !strings.Contains(out, "pending") || !strings.Contains(out, "_trident-challenge.mdm."+u+".example TXT \"trident-verification=") {
		t.Fatalf("add-hostname: %q, %v; want the record to publish", out, err)
	}
	if _, err := run("add-hostname", "--tenant", "t-"+u, "x.trident.test"); err == nil {
		t.Fatal("a hostname under the base domain was accepted")
	}
	// Verification asks DNS, here a server on the loopback that has the
	// record only once it is published.
	dns := testenv.DNS(t)
	if _, err := run("verify-hostname", "--tenant", "t-"+u, "--dns-server", dns.Addr(), "mdm."+u+".example"); !errors.Is(err, tenancy.ErrUnproven) {
		t.Fatalf("verify-hostname before the record: %v, want ErrUnproven", err)
	}
	rec := strings.Fields(out[strings.Index(out, "_trident-challenge."):])
	dns.SetTXT(rec[0], strings.Trim(rec[2], `"`))
	if out, err := run("verify-hostname", "--tenant", "t-"+u, "--dns-server", dns.Addr(), "mdm."+u+".example"); err != nil || !strings.Contains(out, "is verified") {
		t.Fatalf("verify-hostname: %q, %v", out, err)
	}
	if _, err := run("add-hostname", "--tenant", "t-"+u, "old."+u+".example"); err != nil {
		t.Fatal(err)
	}
	if out, err := run("verify-hostname", "--tenant", "t-"+u, "--without-dns", "old."+u+".example"); err != nil || !strings.Contains(out, "is verified") {
		t.Fatalf("verify-hostname --without-dns: %q, %v", out, err)
	}
	if _, err := run("suspend", "--tenant", "t-"+u); err != nil {
		t.Fatal(err)
	}
	out, err = run("list", "--msp", "m-"+u)
	if err != nil || !strings.Contains(out, "t-"+u+".trident.test,mdm."+u+".example,old."+u+".example") || !strings.Contains(out, "suspended") {
		t.Fatalf("list: %q, %v", out, err)
	}
	// What the commands change is published as the API's changes are, and
	// a new hostname gets its verification job (issue 23: the CLI went to
	// the directory directly and published nothing).
	su := testenv.Superuser(t)
	var kinds string
	if err := su.QueryRow(ctx, `SELECT coalesce(string_agg(e.kind, ',' ORDER BY e.id), '') FROM events e JOIN tenants t ON t.id = e.tenant_id
WHERE t.slug = $1`, "t-"+u).Scan(&kinds); err != nil {
		t.Fatal(err)
	}
	if want := "tenant.created,tenant.hostname_added,tenant.hostname_verified,tenant.hostname_added,tenant.hostname_verified,tenant.updated"; kinds != want {
		t.Errorf("events of the tenant commands: %s; want %s", kinds, want)
	}
	var verifyJobs int
	if err := su.QueryRow(ctx, `SELECT count(*) FROM `+migrations.RiverSchema+`.river_job j JOIN tenants t ON t.id::text = j.args->>'tenant_id'
WHERE j.kind = 'tenancy.verify_hostname' AND t.slug = $1`, "t-"+u).Scan(&verifyJobs); err != nil {
		t.Fatal(err)
	}
	if verifyJobs != 2 {
		t.Errorf("verification jobs queued for the added hostnames: %d, want 2", verifyJobs)
	}
	for _, bad := range [][]string{{"frobnicate"}, {"add-hostname", "h.example"}, {"create", "--slug", "x"}, {"suspend", "--tenant", "x", "extra"}} {
		if _, err := run(bad...); !errors.As(err, new(usageError)) {
			t.Errorf("tenant %v: %v; want a usage error", bad, err)
		}
	}
}

func TestMigrateStatusCommand(t *testing.T) {
	e := testenv.Get(t)
	var out bytes.Buffer
	if err := runMigrate(context.Background(), []string{"--migrate-database-url", e.OwnerURL, "--app-role", testenv.AppRole, "status"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "00002_events.sql") || strings.Contains(out.String(), "false") {
		t.Fatalf("status:\n%s", out.String())
	}
	err := runMigrate(context.Background(), []string{"--migrate-database-url", e.AppURL, "--app-role", testenv.AppRole, "up"}, &out)
	if err == nil || !strings.Contains(err.Error(), "owner role") {
		t.Fatalf("migrate up as the app role: %v; want a refusal", err)
	}
}

func TestJobsCommand(t *testing.T) {
	e := testenv.Get(t)
	var out bytes.Buffer
	if err := runJobs(context.Background(), []string{"--database-url", e.AppURL, "--state", "discarded,retryable"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "QUEUE") || !strings.Contains(out.String(), "KIND") {
		t.Fatalf("jobs:\n%s", out.String())
	}
	if err := runJobs(context.Background(), []string{"--database-url", e.AppURL, "--state", "lost"}, &out); !errors.As(err, new(usageError)) {
		t.Fatalf("a bad state: %v", err)
	}
}

// bootstrap prepares a new server as a managed service's admin would:
// not a superuser, but allowed to create roles and databases (Aurora's
// master user). Migrations then run as the owner, and a second run only
// changes passwords.
func TestMigrateBootstrapCommand(t *testing.T) {
	ctx := context.Background()
	e := testenv.Get(t)
	super := testenv.Superuser(t)
	sfx := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	admin, db, owner, app := "admin_"+sfx, "boot_"+sfx, "owner_"+sfx, "app_"+sfx
	if _, err := super.Exec(ctx, `CREATE ROLE `+admin+` LOGIN CREATEROLE CREATEDB PASSWORD 'admin-pw'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		super.Exec(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
		for _, r := range []string{owner, app, admin} {
			super.Exec(ctx, `DROP ROLE IF EXISTS `+r)
		}
	})
	u, _ := url.Parse(e.SuperURL)
	as := func(user, pw, database string) string {
		v := *u
		v.User = url.UserPassword(user, pw)
		v.Path = "/" + database
		return v.String()
	}
	run := func(ownerPW, appPW string) error {
		return runMigrate(ctx, []string{"bootstrap", "--admin-database-url", as(admin, "admin-pw", "postgres"), "--database", db,
			"--owner-role", owner, "--owner-password", ownerPW, "--app-role", app, "--app-password", appPW}, io.Discard)
	}
	if err := run("owner-pw", "app-pw"); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	var out bytes.Buffer
	if err := runMigrate(ctx, []string{"--migrate-database-url", as(owner, "owner-pw", db), "--app-role", app, "up"}, &out); err != nil {
		t.Fatalf("migrate up as the new owner: %v", err)
	}
	// The server accepts the app role: RLS applies to it.
	tdb, err := tenancy.Open(ctx, as(app, "app-pw", db), "")
	if err != nil {
		t.Fatalf("open as the app role: %v", err)
	}
	tdb.Close()
	// Again, with new passwords: the old ones stop working.
	if err := run("owner-pw2", "app-pw2"); err != nil {
		t.Fatalf("bootstrap again: %v", err)
	}
	if c, err := pgx.Connect(ctx, as(app, "app-pw", db)); err == nil {
		c.Close(ctx)
		t.Error("the old app password still works")
	}
	tdb, err = tenancy.Open(ctx, as(app, "app-pw2", db), "")
	if err != nil {
		t.Fatalf("open with the new password: %v", err)
	}
	tdb.Close()
	if err := runMigrate(ctx, []string{"bootstrap", "--admin-database-url", as(admin, "admin-pw", "postgres"), "--database", db,
		"--owner-role", owner, "--owner-password", "x", "--app-role", owner, "--app-password", "x"}, io.Discard); err == nil {
		t.Error("one role as both owner and app was accepted")
	}
}

func TestProbeCommand(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ready"}`)) }))
	defer ok.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "shutting down", 503) }))
	defer down.Close()
	var out bytes.Buffer
	if err := runProbe(context.Background(), []string{ok.URL}, &out); err != nil || !strings.Contains(out.String(), "ready") {
		t.Errorf("a ready process: %v %q", err, out.String())
	}
	if err := runProbe(context.Background(), []string{down.URL}, io.Discard); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a process shutting down: %v", err)
	}
	if err := runProbe(context.Background(), []string{"--timeout", "200ms", "http://127.0.0.1:1/readyz"}, io.Discard); err == nil {
		t.Error("nothing listening: no error")
	}
}
