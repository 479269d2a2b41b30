// Command pgserve runs a throwaway PostgreSQL cluster for a test run: it
// writes the superuser URL to the file named by -url-file, then waits for
// SIGINT or SIGTERM, stops the cluster and deletes it. scripts/test starts
// it so that every test package shares one server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tridentmdm/trident/internal/pgcluster"
)

func main() {
	urlFile := flag.String("url-file", "", "write the superuser URL here (required)")
	flag.Parse()
	if *urlFile == "" {
		fmt.Fprintln(os.Stderr, "pgserve: -url-file is required")
		os.Exit(2)
	}
	if err := run(*urlFile); err != nil {
		fmt.Fprintln(os.Stderr, "pgserve:", err)
		os.Exit(1)
	}
}

func run(urlFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "trident-pgserve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	c, err := pgcluster.Open(ctx, dir, pgcluster.Options{Ephemeral: true})
	if err != nil {
		return err
	}
	if _, err := c.Start(ctx); err != nil {
		return err
	}
	defer c.Stop(context.Background())
	if err := os.WriteFile(urlFile+".tmp", []byte(c.SuperuserURL("postgres")+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(urlFile+".tmp", urlFile); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
