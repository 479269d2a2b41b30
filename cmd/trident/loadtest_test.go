//go:build loadtest

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/loadgen"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/push"
	"github.com/tridentmdm/trident/tenancy"
)

// The load test's own steps against a running server: prepare tenants and
// challenges in the database, then a burst of simulated devices enrolls
// over HTTP with their identities in Client-Cert, as loadtest/run does;
// every device ends enrolled in its tenant's inventory, and a challenge
// is not usable twice (a second burst of the same fleet fails).
func TestLoadtestPrepareAndEnroll(t *testing.T) {
	key := testKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apns := fakeapns.New()
	defer apns.Close()
	base, dir := startAppOn(t, ln, testenv.StartIDP(t).Issuer, func(c *serverConfig) {
		c.encryptionKey, c.appleIdentity, c.appleIdentityHeader = key, "header", "Client-Cert"
		c.windowsIdentity, c.windowsIdentityHeader, c.windowsPoll = "header", "Client-Cert", time.Hour
		c.apnsOptions = []push.Option{push.WithHost(apns.URL, apns.TLSConfig)}
	})
	port := ln.Addr().(*net.TCPAddr).Port
	fleet := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	if err := runLoadtest(ctx, []string{"prepare", "--database-url", testenv.Get(t).AppURL, "--base-domain", "trident.test",
		"--encryption-key", key, "--msp", "lt-" + strings.ToLower(t.Name()[:8]), "--out", fleet, "--tenants", "2", "--apple", "15", "--windows", "4",
		"--keys", "3", "--host-port", fmt.Sprintf(":%d", port)}, &out); err != nil {
		t.Fatalf("prepare: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := runLoadtest(ctx, []string{"enroll", "--url", base, "--fleet", fleet, "--within", "500ms", "--identity-header", "Client-Cert"}, &out); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "devices 19, enrolled 19, errors 0") {
		t.Fatalf("enroll said: %s", out.String())
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
	out.Reset()
	if err := runLoadtest(ctx, []string{"enroll", "--url", base, "--fleet", fleet, "--within", "0s", "--identity-header", "Client-Cert"}, &out); err == nil ||
		!strings.Contains(out.String(), "enrolled 0") {
		t.Errorf("a second burst with used challenges: %v\n%s", err, out.String())
	}
}
