package main

import (
	"context"
	"flag"
	"io"
	"os"
)

func runServe(ctx context.Context, args []string, _ io.Writer) error {
	return runServer(ctx, "serve", ":8080", roles{serve: true}, args)
}

func runWorker(ctx context.Context, args []string, _ io.Writer) error {
	return runServer(ctx, "worker", ":8081", roles{work: true}, args)
}

// runServer runs the production processes. The worker serves /healthz and
// /readyz too, for its orchestrator.
func runServer(ctx context.Context, name, listen string, r roles, args []string) error {
	var cfg serverConfig
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg.register(fs, listen)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := keyringErr(&cfg); err != nil {
		return usageError{err}
	}
	if r.serve {
		if err := cfg.oidc.validate(); err != nil {
			return usageError{err}
		}
	}
	log, _ := cfg.logger(os.Stderr)
	dbs, err := cfg.connect(ctx, "", false, log)
	if err != nil {
		return err
	}
	defer dbs.release()
	a, err := newApp(ctx, cfg, dbs, r, log)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

func keyringErr(cfg *serverConfig) error {
	_, err := cfg.keyring()
	return err
}
