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

// Provision creates the roles (if missing) and database db owned by the owner
// role (if missing), connecting as a superuser with superURL.
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
		verb := "ALTER"
		if !exists {
			verb = "CREATE"
		}
		// Role names and passwords cannot be bound parameters in DDL.
		sql := fmt.Sprintf(`%s ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %s`,
			verb, pgx.Identifier{role.name}.Sanitize(), quoteLiteral(role.pw))
		if _, err := conn.Exec(ctx, sql); err != nil {
			// Another process may have created it a moment ago.
			if verb == "CREATE" {
				if _, err2 := conn.Exec(ctx, "ALTER"+sql[len("CREATE"):]); err2 == nil {
					continue
				}
			}
			return fmt.Errorf("%s role %s: %w", verb, role.name, err)
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
