// Package migrations holds Trident's SQL schema and applies it: the app
// schema as versioned goose migrations (sql/*.sql, embedded in the binary),
// then River's own tables in the "river" schema through rivermigrate, then
// the app role's privileges.
//
// Migrations run as the owner role. The app role, which the server connects
// as, owns nothing and has no BYPASSRLS, so row-level security always holds
// for it. Migrations are forward-only in production; Down exists for
// development and for tests of the migrations themselves.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed sql/*.sql
var files embed.FS

// RiverSchema is the schema that holds River's tables, apart from the app's.
const RiverSchema = "river"

// Migrator applies migrations to one database as its owner.
type Migrator struct {
	pool    *pgxpool.Pool
	appRole string
	log     *slog.Logger
}

// New returns a Migrator for the database at ownerURL (connecting as the
// owner role). appRole is the role the server connects as; it is granted
// what it needs after every Up.
func New(ctx context.Context, ownerURL, appRole string, log *slog.Logger) (*Migrator, error) {
	if appRole == "" {
		return nil, errors.New("migrations: the app role name is empty")
	}
	pool, err := pgxpool.New(ctx, ownerURL)
	if err != nil {
		return nil, fmt.Errorf("migrations: connect: %w", err)
	}
	return &Migrator{pool: pool, appRole: appRole, log: log}, nil
}

// Close releases the connections.
func (m *Migrator) Close() { m.pool.Close() }

func (m *Migrator) goose() (*goose.Provider, *sql.DB, error) {
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDBFromPool(m.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, db, nil
}

func (m *Migrator) river() (*rivermigrate.Migrator[pgx.Tx], error) {
	return rivermigrate.New(riverpgxv5.New(m.pool), &rivermigrate.Config{Schema: RiverSchema, Logger: m.log})
}

// Up applies every pending migration (app schema, then River's), then grants
// the app role its privileges.
func (m *Migrator) Up(ctx context.Context) error {
	if err := m.checkRoles(ctx); err != nil {
		return err
	}
	p, db, err := m.goose()
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := p.Up(ctx)
	for _, r := range res {
		m.log.Info("migrated", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("migrations: up: %w", err)
	}
	if _, err := m.pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+RiverSchema); err != nil {
		return fmt.Errorf("migrations: create schema %s: %w", RiverSchema, err)
	}
	rm, err := m.river()
	if err != nil {
		return err
	}
	rres, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	for _, v := range rres.Versions {
		m.log.Info("migrated river", "version", v.Version, "name", v.Name)
	}
	return m.grant(ctx)
}

// Down rolls back the newest app migration (River's tables are left alone).
func (m *Migrator) Down(ctx context.Context) error {
	p, db, err := m.goose()
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := p.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return errors.New("migrations: nothing to roll back")
	}
	if err != nil {
		return fmt.Errorf("migrations: down: %w", err)
	}
	m.log.Info("rolled back", "version", r.Source.Version, "file", r.Source.Path)
	return nil
}

// Status is one migration and whether it is applied.
type Status struct {
	Line    string // "app" or "river"
	Version int64
	Name    string
	Applied bool
}

// Status lists every known migration of both lines.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	p, db, err := m.goose()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	gs, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: status: %w", err)
	}
	var out []Status
	for _, s := range gs {
		out = append(out, Status{Line: "app", Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	rm, err := m.river()
	if err != nil {
		return nil, err
	}
	applied := map[int]bool{}
	var exists bool
	if err := m.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, RiverSchema+".river_migration").Scan(&exists); err != nil {
		return nil, err
	}
	if exists {
		ex, err := rm.ExistingVersions(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrations: river status: %w", err)
		}
		for _, v := range ex {
			applied[v.Version] = true
		}
	}
	for _, v := range rm.AllVersions() {
		out = append(out, Status{Line: "river", Version: int64(v.Version), Name: v.Name, Applied: applied[v.Version]})
	}
	return out, nil
}

// checkRoles refuses to migrate with roles that would void row-level
// security: the app role must exist, must not bypass RLS, and must not be
// the owner.
func (m *Migrator) checkRoles(ctx context.Context) error {
	var owner string
	if err := m.pool.QueryRow(ctx, `SELECT current_user`).Scan(&owner); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if owner == m.appRole {
		return fmt.Errorf("migrations: run migrations as the owner role, not as the app role %q", m.appRole)
	}
	var super, bypass bool
	err := m.pool.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1`, m.appRole).Scan(&super, &bypass)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("migrations: app role %q does not exist (create it: CREATE ROLE %s LOGIN PASSWORD '...')", m.appRole, m.appRole)
	}
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if super || bypass {
		return fmt.Errorf("migrations: app role %q is a superuser or has BYPASSRLS; row-level security would not apply to it", m.appRole)
	}
	return nil
}

// grant gives the app role data access to every table, but no DDL, and only
// reading of the migration bookkeeping.
func (m *Migrator) grant(ctx context.Context) error {
	app := pgx.Identifier{m.appRole}.Sanitize()
	stmts := []string{}
	for _, schema := range []string{"public", RiverSchema} {
		stmts = append(stmts,
			`GRANT USAGE ON SCHEMA `+schema+` TO `+app,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA `+schema+` TO `+app,
			`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA `+schema+` TO `+app,
			`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA `+schema+` TO `+app,
		)
	}
	stmts = append(stmts,
		// The audit log is append-only for the server.
		`REVOKE UPDATE, DELETE ON audit_log FROM `+app,
		`REVOKE INSERT, UPDATE, DELETE ON goose_db_version FROM `+app,
		`REVOKE INSERT, UPDATE, DELETE ON `+RiverSchema+`.river_migration FROM `+app,
	)
	tx, err := m.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("migrations: grant: %s: %w", s, err)
		}
	}
	return tx.Commit(ctx)
}
