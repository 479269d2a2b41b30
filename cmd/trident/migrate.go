package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/tridentmdm/trident/internal/pgcluster"
	"github.com/tridentmdm/trident/migrations"
)

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "bootstrap" {
		return bootstrap(ctx, args[1:])
	}
	var c common
	var ownerURL, app string
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	c.register(fs)
	fs.StringVar(&ownerURL, "migrate-database-url", "", "PostgreSQL URL as the owner role that runs migrations; empty: the dev cluster")
	fs.StringVar(&app, "app-role", appRole, "the role the server connects as, granted data access after migrating")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usagef("want one of: up, down, status, bootstrap")
	}
	log, _ := c.logger(os.Stderr)
	dbs, err := c.connect(ctx, ownerURL, true, log)
	if err != nil {
		return err
	}
	defer dbs.release()
	m, err := migrations.New(ctx, dbs.owner, app, log)
	if err != nil {
		return err
	}
	defer m.Close()
	switch fs.Arg(0) {
	case "up":
		return m.Up(ctx)
	case "down":
		return m.Down(ctx)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LINE\tVERSION\tAPPLIED\tNAME")
		for _, s := range st {
			fmt.Fprintf(tw, "%s\t%d\t%v\t%s\n", s.Line, s.Version, s.Applied, s.Name)
		}
		return tw.Flush()
	}
	return usagef("unknown migrate action %q: want up, down, status or bootstrap", fs.Arg(0))
}

// bootstrap creates what migrations need on a new server: the owner and
// app roles and the database, as docs/operations.md describes, connecting
// as the server's admin (Aurora's master user). It is safe to run again:
// it then only sets the roles' passwords.
func bootstrap(ctx context.Context, args []string) error {
	var adminURL, db, owner, ownerPW, app, appPW string
	fs := flag.NewFlagSet("migrate bootstrap", flag.ContinueOnError)
	var c common
	c.register(fs)
	fs.StringVar(&adminURL, "admin-database-url", "", "PostgreSQL URL as a superuser or the managed server's admin role (Aurora's master user)")
	fs.StringVar(&db, "database", "trident", "the database to create")
	fs.StringVar(&owner, "owner-role", ownerRole, "the role that owns the schema and runs migrations")
	fs.StringVar(&ownerPW, "owner-password", "", "its password")
	fs.StringVar(&app, "app-role", appRole, "the role the server connects as (no BYPASSRLS, owns nothing)")
	fs.StringVar(&appPW, "app-password", "", "its password")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	log, _ := c.logger(os.Stderr)
	switch {
	case adminURL == "":
		return usagef("--admin-database-url (TRIDENT_ADMIN_DATABASE_URL) is required")
	case ownerPW == "" || appPW == "":
		return usagef("--owner-password and --app-password (TRIDENT_OWNER_PASSWORD, TRIDENT_APP_PASSWORD) are required")
	case owner == app:
		return usagef("the owner and app roles must differ: row-level security does not apply to a table's owner")
	}
	if err := pgcluster.Provision(ctx, adminURL, db, pgcluster.Roles{Owner: owner, OwnerPassword: ownerPW, App: app, AppPassword: appPW}); err != nil {
		return err
	}
	log.Info("bootstrapped", "database", db, "owner", owner, "app", app)
	return nil
}
