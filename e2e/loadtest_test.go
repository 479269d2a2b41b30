//go:build loadtest

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/loadgen"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// The load test's own steps against a running server: prepare tenants and
// challenges in the database, then a burst of simulated devices enrolls
// over HTTP with their identities in Client-Cert, as loadtest/run does;
// every device ends enrolled in its tenant's inventory, and a challenge
// is not usable twice (a second burst of the same fleet fails).
func TestLoadtestPrepareAndEnroll(t *testing.T) {
	key := testKey(t)
	port := freePort(t)
	apns := fakeapns.New()
	defer apns.Close()
	srv := startOn(t, port, testenv.StartIDP(t).Issuer, append(apnsFlags(t, apns), "--encryption-key", key,
		"--apple-device-identity", "header", "--apple-identity-header", "Client-Cert",
		"--windows-device-identity", "header", "--windows-identity-header", "Client-Cert", "--windows-poll-interval", "1h")...)
	base, dir := srv.Base, srv.Dir
	fleet := t.TempDir()
	ctx := context.Background()
	if out, err := runCommand(ctx, t, "loadtest", "prepare", "--database-url", testenv.Get(t).AppURL, "--base-domain", "trident.test",
		"--encryption-key", key, "--msp", "lt-"+strings.ToLower(t.Name()[:8]), "--out", fleet, "--tenants", "2", "--apple", "15", "--windows", "4",
		"--keys", "3", "--host-port", fmt.Sprintf(":%d", port)); err != nil {
		t.Fatalf("prepare: %v\n%s", err, out)
	}
	out, err := runCommand(ctx, t, "loadtest", "enroll", "--url", base, "--fleet", fleet, "--within", "500ms", "--identity-header", "Client-Cert")
	if err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	if !strings.Contains(out, "devices 19, enrolled 19, errors 0") {
		t.Fatalf("enroll said: %s", out)
	}
	enrolled, err := loadgen.ReadDevices(fleet, loadgen.EnrolledFile)
	if err != nil || len(enrolled) != 19 || enrolled[0].UDID == "" || !strings.HasPrefix(enrolled[0].Cert, ":") {
		t.Fatalf("enrolled.json: %v %+v", err, enrolled)
	}
	for _, d := range enrolled {
		if d.Platform == "windows" && (d.Management == "" || !strings.HasPrefix(d.Path, "/ManagementServer/")) {
			t.Errorf("a Windows device without its management URL: %+v", d)
		}
	}
	db := testenv.DB(t)
	total := 0
	for _, slug := range []string{"lt-0001", "lt-0002"} {
		tn, err := dir.TenantBySlug(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		tctx := tenancy.WithTenant(ctx, tn.ID)
		var n int
		if err := db.Tx(tctx, func(tx pgx.Tx) error {
			return tx.QueryRow(tctx, `SELECT count(*) FROM devices WHERE status = 'enrolled'`).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 19 {
		t.Errorf("%d devices enrolled in the load test's tenants; want 19", total)
	}
	if out, err := runCommand(ctx, t, "loadtest", "enroll", "--url", base, "--fleet", fleet, "--within", "0s", "--identity-header", "Client-Cert"); err == nil ||
		!strings.Contains(out, "enrolled 0") {
		t.Errorf("a second burst with used challenges: %v\n%s", err, out)
	}
}
