package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/tridentmdm/trident/migrations"
)

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
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
		return usagef("want one of: up, down, status")
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
	return usagef("unknown migrate action %q: want up, down or status", fs.Arg(0))
}
