package migrations_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestDownAndUpAgain(t *testing.T) {
	ctx := context.Background()
	e := testenv.Get(t)
	m, err := migrations.New(ctx, e.OwnerURL, testenv.AppRole, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	app, err := pgxpool.New(ctx, e.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()

	if err := migrations.Current(ctx, app); err != nil {
		t.Fatalf("fresh database not current: %v", err)
	}
	latest, _ := migrations.Latest()
	for range latest {
		if err := m.Down(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Down(ctx); err == nil {
		t.Fatal("Down past the first migration succeeded")
	}
	if err := migrations.Current(ctx, app); err == nil || !strings.Contains(err.Error(), "migrate up") {
		t.Fatalf("Current after rolling back: %v; want a 'run migrate up' error", err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Line == "app" && s.Applied {
			t.Errorf("app migration %d still applied", s.Version)
		}
		if s.Line == "river" && !s.Applied {
			t.Errorf("river migration %d not applied", s.Version)
		}
	}
	if err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Current(ctx, app); err != nil {
		t.Fatal(err)
	}
}

func TestAppRoleCannotChangeSchema(t *testing.T) {
	ctx := context.Background()
	app, err := pgxpool.New(ctx, testenv.Get(t).AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	for _, sql := range []string{
		`CREATE TABLE sneaky (id int)`,
		`ALTER TABLE events DISABLE ROW LEVEL SECURITY`,
		`DROP POLICY tenant_isolation ON events`,
		`DELETE FROM goose_db_version`,
		`CREATE TABLE river.sneaky (id int)`,
		`UPDATE audit_log SET actor = 'someone else'`, // append-only
		`DELETE FROM audit_log`,
	} {
		if _, err := app.Exec(ctx, sql); err == nil {
			t.Errorf("app role ran %q", sql)
		}
	}
}
