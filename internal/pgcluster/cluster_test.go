package pgcluster_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/pgcluster"
)

// A cluster is made once, started, provisioned, stopped, and found again
// with the same port and password: what a second `trident dev` relies on.
func TestClusterLifecycle(t *testing.T) {
	ctx := context.Background()
	// Not t.TempDir: its parent folder is private, and the postgres user
	// must reach the cluster when we are root.
	dir, err := os.MkdirTemp("", "pgcluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user runs it when we are root
		t.Fatal(err)
	}
	c, err := pgcluster.Open(ctx, dir, pgcluster.Options{Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if !pgcluster.Exists(dir) {
		t.Fatal("Exists is false after Open")
	}
	if started, err := c.Start(ctx); err != nil || !started {
		t.Fatalf("Start = %v, %v", started, err)
	}
	defer c.Stop(ctx)
	if started, err := c.Start(ctx); err != nil || started {
		t.Fatalf("second Start = %v, %v; want it to find the server running", started, err)
	}
	roles := pgcluster.Roles{Owner: "o", OwnerPassword: c.RolePassword("o"), App: "a", AppPassword: c.RolePassword("a")}
	for range 2 { // provisioning is idempotent
		if err := pgcluster.Provision(ctx, c.SuperuserURL("postgres"), "db", roles); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, c.URL("a", "db", c.RolePassword("a")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id int)`); err == nil {
		t.Error("the app role may create tables in public")
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Running(ctx) {
		t.Fatal("still running after Stop")
	}

	again, err := pgcluster.Open(ctx, dir, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Port != c.Port || again.Password() != c.Password() {
		t.Fatalf("reopened cluster has port %d (was %d) or another password", again.Port, c.Port)
	}
	if _, err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer again.Stop(ctx)
	conn, err = pgx.Connect(ctx, again.URL("o", "db", again.RolePassword("o")))
	if err != nil {
		t.Fatalf("owner cannot connect after restart: %v", err)
	}
	conn.Close(ctx)
}
