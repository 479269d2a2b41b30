package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/testenv"
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
	if _, err := run("add-hostname", "--tenant", "t-"+u, "mdm."+u+".example"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("add-hostname", "--tenant", "t-"+u, "x.trident.test"); err == nil {
		t.Fatal("a hostname under the base domain was accepted")
	}
	if _, err := run("suspend", "--tenant", "t-"+u); err != nil {
		t.Fatal(err)
	}
	out, err = run("list", "--msp", "m-"+u)
	if err != nil || !strings.Contains(out, "t-"+u+".trident.test,mdm."+u+".example") || !strings.Contains(out, "suspended") {
		t.Fatalf("list: %q, %v", out, err)
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
