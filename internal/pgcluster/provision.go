package pgcluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Roles names the two roles Trident uses: Owner owns the schema and runs
// migrations; App is what the server connects as. App has no BYPASSRLS and
// owns nothing, so row-level security always applies to it.
type Roles struct {
	Owner, OwnerPassword string
	App, AppPassword     string
}

// Provision creates the roles (if missing; their passwords set either
// way) and database db owned by the owner role (if missing), connecting
// with superURL as a superuser or a managed service's admin role that may
// create roles and databases. Running it again changes only passwords.
func Provision(ctx context.Context, superURL, db string, r Roles) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer conn.Close(ctx)
	for _, role := range []struct{ name, pw string }{{r.Owner, r.OwnerPassword}, {r.App, r.AppPassword}} {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role.name).Scan(&exists); err != nil {
			return err
		}
		// Role names and passwords cannot be bound parameters in DDL. An
		// existing role gets its password only: changing the other
		// attributes needs a superuser, which a managed admin is not.
		name, pw := pgx.Identifier{role.name}.Sanitize(), quoteLiteral(role.pw)
		alter := fmt.Sprintf(`ALTER ROLE %s LOGIN PASSWORD %s`, name, pw)
		sql := alter
		if !exists {
			sql = fmt.Sprintf(`CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %s`, name, pw)
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			// Another process may have created it a moment ago.
			if exists {
				return fmt.Errorf("alter role %s: %w", role.name, err)
			}
			if _, err2 := conn.Exec(ctx, alter); err2 != nil {
				return fmt.Errorf("create role %s: %w", role.name, err)
			}
		}
		var super, bypass bool
		if err := conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1`, role.name).Scan(&super, &bypass); err != nil {
			return err
		}
		if super || bypass {
			return fmt.Errorf("role %s is a superuser or bypasses row-level security: Trident's roles must not", role.name)
		}
	}
	// A managed service's admin (Aurora's, RDS's master user) is no
	// superuser: to create a database for the owner and hand it the public
	// schema, it must be a member of the owner role.
	var super bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return err
	}
	if !super {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`GRANT %s TO current_user`, pgx.Identifier{r.Owner}.Sanitize())); err != nil {
			return fmt.Errorf("grant the owner role to the admin: %w", err)
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s OWNER %s`,
			pgx.Identifier{db}.Sanitize(), pgx.Identifier{r.Owner}.Sanitize())); err != nil {
			return fmt.Errorf("create database %s: %w", db, err)
		}
	}
	// The app role may connect; the public schema belongs to the owner (so
	// only the owner creates tables in it).
	dbConn, err := pgx.Connect(ctx, WithDatabase(superURL, db))
	if err != nil {
		return err
	}
	defer dbConn.Close(ctx)
	for _, sql := range []string{
		fmt.Sprintf(`ALTER SCHEMA public OWNER TO %s`, pgx.Identifier{r.Owner}.Sanitize()),
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
		fmt.Sprintf(`GRANT CONNECT ON DATABASE %s TO %s`, pgx.Identifier{db}.Sanitize(), pgx.Identifier{r.App}.Sanitize()),
	} {
		if _, err := dbConn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("provision %s: %w", db, err)
		}
	}
	return nil
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
