// Command trident is Trident's one binary: the server, the worker, the
// migrations, the embedded development setup and the operators' tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func subcommands() []command {
	return []command{
		{"dev", "run Trident with a private PostgreSQL in ./.trident/ (no configuration needed)", runDev},
		{"serve", "serve devices, API and dashboard", runServe},
		{"worker", "work background jobs", runWorker},
		{"migrate", "apply or inspect database migrations (up|down|status), or create the roles and database (bootstrap)", runMigrate},
		{"jobs", "list background job queues and failed jobs", runJobs},
		{"openapi", "write the API's OpenAPI document (openapi/openapi.yaml)", runOpenAPI},
		{"tenant", "manage tenants (create|list|add-hostname|remove-hostname|suspend|activate)", runTenant},
		{"dep", "Apple Business Manager tokens (keypair|upload|sync|account|tokens)", runDEP},
		{"loadtest", "prepare and drive load against a running server (apns|prepare|enroll); see loadtest/", func(ctx context.Context, args []string, stdout io.Writer) error {
			return runLoadtest(ctx, args, stdout)
		}},
		{"probe", "check a running process's health (for container health checks): probe [URL]", runProbe},
		{"version", "print the version", runVersion},
	}
}

// runLoadtest is the loadtest command: built in with -tags loadtest
// (loadtest.go), a pointer to how to get it otherwise.
var runLoadtest = func(context.Context, []string, io.Writer) error {
	return usagef("this binary was built without the load test's tooling: build it with go build -tags loadtest ./cmd/trident (loadtest/run does)")
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Trident manages Apple, Windows and Android devices for many tenants.\n\nUsage: trident <command> [flags]\n\nCommands:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'trident <command> -h' for a command's flags. Every flag can also be set with\nits TRIDENT_* environment variable (--base-domain is TRIDENT_BASE_DOMAIN).\n")
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		usage(os.Stdout)
		return
	}
	for _, c := range subcommands() {
		if c.name != name {
			continue
		}
		// The first signal starts a graceful shutdown; a second one ends the
		// process at once.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		go func() {
			<-ctx.Done()
			stop()
		}()
		err := c.run(ctx, os.Args[2:], os.Stdout)
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "trident %s: %v\n", name, err)
			var ue usageError
			if errors.As(err, &ue) {
				os.Exit(2)
			}
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "trident: unknown command %q\n\n", name)
	usage(os.Stderr)
	os.Exit(2)
}

// usageError is a mistake in the command line or configuration.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
