package tenancy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB holds the writer and reader pools. In dev both point at one server; in
// production the reader is a replica endpoint (Aurora's reader) and may lag.
type DB struct {
	writer, reader *pgxpool.Pool
}

// Open connects both pools and checks that the role they connect as is one
// row-level security applies to. readerURL may be empty: reads then use the
// writer.
func Open(ctx context.Context, writerURL, readerURL string) (*DB, error) {
	w, err := newPool(ctx, writerURL, "writer")
	if err != nil {
		return nil, err
	}
	db := &DB{writer: w, reader: w}
	if readerURL != "" && readerURL != writerURL {
		if db.reader, err = newPool(ctx, readerURL, "reader"); err != nil {
			w.Close()
			return nil, err
		}
	}
	for _, p := range db.pools() {
		if err := checkRole(ctx, p); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

// CheckURL reports whether url is a database URL Open can use (a
// postgres:// URL or a key=value connection string), without connecting.
func CheckURL(url string) error {
	_, err := pgxpool.ParseConfig(url)
	return err
}

func newPool(ctx context.Context, url, name string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("tenancy: %s database URL: %w", name, err)
	}
	// pgxpool's default (4 connections on a 2-core machine) starves a
	// server whose requests each hold a transaction while River's jobs and
	// listener take their share: a 2,000-device enrollment burst queued
	// check-ins for seconds behind SCEP. The URL's pool_max_conns still
	// decides when given.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(16, 4*runtime.NumCPU()))
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "trident-" + name
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("tenancy: %s pool: %w", name, err)
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("tenancy: connect to the %s database: %w", name, err)
	}
	return p, nil
}

// checkRole refuses roles that would make row-level security a no-op.
func checkRole(ctx context.Context, p *pgxpool.Pool) error {
	var user string
	var super, bypass, owns bool
	err := p.QueryRow(ctx, `
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relowner = r.oid AND n.nspname = 'public' AND c.relkind = 'r')
FROM pg_roles r WHERE r.rolname = current_user`).Scan(&user, &super, &bypass, &owns)
	if err != nil {
		return fmt.Errorf("tenancy: check database role: %w", err)
	}
	switch {
	case super:
		return fmt.Errorf("tenancy: role %q is a superuser; connect as the app role (row-level security does not apply to superusers)", user)
	case bypass:
		return fmt.Errorf("tenancy: role %q has BYPASSRLS; connect as the app role", user)
	case owns:
		return fmt.Errorf("tenancy: role %q owns tables; connect as the app role, not the migration owner", user)
	}
	return nil
}

func (db *DB) pools() []*pgxpool.Pool {
	if db.reader == db.writer {
		return []*pgxpool.Pool{db.writer}
	}
	return []*pgxpool.Pool{db.writer, db.reader}
}

// Close closes both pools.
func (db *DB) Close() {
	for _, p := range db.pools() {
		p.Close()
	}
}

// Writer is the writer pool, for platform-level work that is not any one
// tenant's: River's client, the event listener, the directory. Tenant data
// is reached only through Tx and ReadTx.
func (db *DB) Writer() *pgxpool.Pool { return db.writer }

// Ping checks both pools.
func (db *DB) Ping(ctx context.Context) error {
	for _, p := range db.pools() {
		if err := p.Ping(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Tx runs fn in a transaction on the writer scoped to the tenant in ctx: row
// -level security shows fn that tenant's rows and no other. fn's error (or a
// panic) rolls the transaction back; otherwise it commits.
//
// This is the only code that sets app.tenant_id. It uses SET LOCAL (not
// set_config) because Citus forwards SET LOCAL to its workers
// (citus.propagate_set_commands = 'local'); on plain PostgreSQL the two are
// the same. The value is formatted from a parsed uuid, never from request
// text, and is sent in the same round trip as BEGIN.
//
// Under a context from Within, fn runs in Within's transaction instead.
func (db *DB) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	if w := joined(ctx, db); w != nil {
		return w.run(ctx, fn)
	}
	return tenantTx(ctx, db.writer, pgx.ReadWrite, fn)
}

// ReadTx is Tx on the reader pool, read-only, for reads that tolerate
// replica lag (lists, dashboards). Under a context from Within, fn runs
// in Within's transaction (on the writer) instead.
func (db *DB) ReadTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if w := joined(ctx, db); w != nil {
		return w.run(ctx, fn)
	}
	return tenantTx(ctx, db.reader, pgx.ReadOnly, fn)
}

// MSPReadTx runs fn in a read-only transaction on the reader scoped to
// MSP msp: the msp_read policies show it the rows its tenants share with
// it (their console rollups) and nothing of any other MSP; no tenant is
// set, so no tenant's own rows either. It is the only code that sets
// app.msp_id, formatted from a uuid as Tx formats app.tenant_id.
func (db *DB) MSPReadTx(ctx context.Context, msp uuid.UUID, fn func(pgx.Tx) error) error {
	if msp == uuid.Nil {
		return ErrNoMSP
	}
	opts := pgx.TxOptions{AccessMode: pgx.ReadOnly, BeginQuery: "BEGIN READ ONLY; SET LOCAL app.msp_id = '" + msp.String() + "'"}
	return pgx.BeginTxFunc(ctx, db.reader, opts, fn)
}

// MSPTx is MSPReadTx on the writer, read-write: for the MSP's own rows
// (msp_isolation policies, such as its cross-tenant operations).
func (db *DB) MSPTx(ctx context.Context, msp uuid.UUID, fn func(pgx.Tx) error) error {
	if msp == uuid.Nil {
		return ErrNoMSP
	}
	opts := pgx.TxOptions{AccessMode: pgx.ReadWrite, BeginQuery: "BEGIN; SET LOCAL app.msp_id = '" + msp.String() + "'"}
	return pgx.BeginTxFunc(ctx, db.writer, opts, fn)
}

func tenantTx(ctx context.Context, p *pgxpool.Pool, mode pgx.TxAccessMode, fn func(pgx.Tx) error) error {
	id, ok := FromContext(ctx)
	if !ok {
		return ErrNoTenant
	}
	begin := "BEGIN"
	if mode == pgx.ReadOnly {
		begin = "BEGIN READ ONLY"
	}
	// id.String() is canonical hex and dashes: safe inside the quotes.
	opts := pgx.TxOptions{AccessMode: mode, BeginQuery: begin + "; SET LOCAL app.tenant_id = '" + id.String() + "'"}
	return pgx.BeginTxFunc(ctx, p, opts, fn)
}

// isCode reports whether err is a PostgreSQL error with SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == code
}
