// Package testenv gives tests a real PostgreSQL: the one the test command
// started (TRIDENT_TEST_DATABASE_URL, a superuser URL), or a throwaway
// cluster it starts itself, so a plain `go test ./...` works too. The schema
// is migrated once into a template database named after the migrations'
// fingerprint; each test package gets a fresh database cloned from it.
//
// A missing PostgreSQL fails the tests; it never skips them.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/pgcluster"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/tenancy"
)

// Role names and passwords of test databases. They exist only in test
// clusters.
const (
	OwnerRole = "trident_owner"
	AppRole   = "trident_app"
	password  = "trident-test"
)

// Env is one test package's database.
type Env struct {
	Database string
	SuperURL string // superuser, to this database
	OwnerURL string // the migration owner, to this database
	AppURL   string // the app role (row-level security applies), to this database
}

var env *Env

// Main runs a package's tests with a fresh database; call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	// A fuzzing worker runs only the fuzz target, which mostly needs no
	// database: making a cluster per worker slowed fuzzing to a crawl.
	// Given a running PostgreSQL (TRIDENT_TEST_DATABASE_URL), a worker
	// gets its databases there, for the targets that drive a server
	// (FuzzAppleAnswer).
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzzworker") && os.Getenv("TRIDENT_TEST_DATABASE_URL") == "" {
			os.Exit(m.Run())
		}
	}
	code, err := run(m)
	removeBuilds()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	superURL := os.Getenv("TRIDENT_TEST_DATABASE_URL")
	if superURL == "" {
		dir, err := os.MkdirTemp("", "trident-test-pg-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		// The postgres user runs the server when we are root: let it in.
		if err := os.Chmod(dir, 0o755); err != nil {
			return 0, err
		}
		c, err := pgcluster.Open(ctx, dir, pgcluster.Options{Ephemeral: true})
		if err != nil {
			return 0, err
		}
		if _, err := c.Start(ctx); err != nil {
			return 0, err
		}
		defer c.Stop(context.Background())
		superURL = c.SuperuserURL("postgres")
	}
	e, err := newDatabase(ctx, superURL)
	if err != nil {
		return 0, err
	}
	env = e
	code := m.Run()
	if os.Getenv("TRIDENT_TEST_KEEP_DATABASE") == "" {
		if conn, err := pgx.Connect(context.Background(), superURL); err == nil {
			_, _ = conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{e.Database}.Sanitize()+` WITH (FORCE)`)
			conn.Close(context.Background())
		}
	}
	return code, nil
}

// newDatabase makes sure the migrated template exists, then clones it.
func newDatabase(ctx context.Context, superURL string) (*Env, error) {
	fp, err := migrations.Fingerprint()
	if err != nil {
		return nil, err
	}
	tmpl := "trident_template_" + fp
	conn, err := pgx.Connect(ctx, pgcluster.WithDatabase(superURL, "postgres"))
	if err != nil {
		return nil, fmt.Errorf("connect to the test PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	// One package at a time builds the template or clones it: CREATE
	// DATABASE ... TEMPLATE fails while anyone else is connected to the
	// template.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7166)`); err != nil {
		return nil, err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7166)`)

	var ready bool
	err = conn.QueryRow(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, tmpl).Scan(&ready)
	if err != nil && err != pgx.ErrNoRows {
		return nil, err
	}
	if !ready {
		if err := buildTemplate(ctx, conn, superURL, tmpl); err != nil {
			return nil, fmt.Errorf("build template database: %w", err)
		}
	}
	name := "trident_test_" + uuid.NewString()[:8]
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s OWNER %s`,
		name, tmpl, OwnerRole)); err != nil {
		return nil, fmt.Errorf("clone template: %w", err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`GRANT CONNECT ON DATABASE %s TO %s`, name, AppRole)); err != nil {
		return nil, err
	}
	db := pgcluster.WithDatabase(superURL, name)
	return &Env{
		Database: name,
		SuperURL: db,
		OwnerURL: pgcluster.WithUser(db, OwnerRole, password),
		AppURL:   pgcluster.WithUser(db, AppRole, password),
	}, nil
}

func buildTemplate(ctx context.Context, conn *pgx.Conn, superURL, tmpl string) error {
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+tmpl+` WITH (FORCE)`); err != nil {
		return err
	}
	roles := pgcluster.Roles{Owner: OwnerRole, OwnerPassword: password, App: AppRole, AppPassword: password}
	if err := pgcluster.Provision(ctx, superURL, tmpl, roles); err != nil {
		return err
	}
	ownerURL := pgcluster.WithUser(pgcluster.WithDatabase(superURL, tmpl), OwnerRole, password)
	m, err := migrations.New(ctx, ownerURL, AppRole, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	err = m.Up(ctx)
	m.Close()
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `ALTER DATABASE `+tmpl+` IS_TEMPLATE true`)
	return err
}

// Get returns this package's database. It fails the test when TestMain did
// not call Main.
func Get(t testing.TB) *Env {
	t.Helper()
	if env == nil {
		t.Fatal("testenv: call testenv.Main(m) from TestMain")
	}
	return env
}

// AppURL is the package's database as the app role, for runnable
// examples (which have no testing.TB). It panics when TestMain did not
// call Main.
func AppURL() string {
	if env == nil {
		panic("testenv: call testenv.Main(m) from TestMain")
	}
	return env.AppURL
}

// DB opens the package's database as the app role (row-level security
// applies) and closes it when the test ends.
func DB(t testing.TB) *tenancy.DB {
	t.Helper()
	db, err := tenancy.Open(context.Background(), Get(t).AppURL, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Superuser connects to the package's database as the superuser, for
// inspecting the catalog; it bypasses row-level security, so tests use it
// only to look, never to prove isolation.
func Superuser(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), Get(t).SuperURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Tenant creates a fresh MSP and tenant in the directory and returns the
// tenant.
func Tenant(t testing.TB, dir *tenancy.Directory) tenancy.Tenant {
	t.Helper()
	ctx := context.Background()
	suffix := uuid.NewString()[:8]
	m, err := dir.CreateMSP(ctx, "msp-"+suffix, "MSP "+suffix)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := dir.CreateTenant(ctx, m.ID, "t-"+suffix, "Tenant "+suffix)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// Logger writes a test's logs to its own output (shown when it fails, or
// with -v).
func Logger(t testing.TB) *slog.Logger { return slog.New(slog.NewTextHandler(testWriter{t}, nil)) }
