package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/pgcluster"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/tenancy"
)

// The demo data `trident dev` seeds.
const (
	demoMSP    = "demo-msp"
	demoTenant = "demo"
)

// runDev is the embedded default: with no database URL it keeps a private
// PostgreSQL cluster in --data-dir, migrates it, seeds a demo MSP and
// tenant, and runs server and worker in one process until Ctrl-C, when it
// stops the cluster. A second run reuses the cluster and its data.
// devListen is where `trident dev` serves unless told otherwise (tenant
// create prints its URLs with this port).
const devListen = "localhost:8080"

func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	var cfg serverConfig
	var ownerURL string
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	cfg.register(fs, devListen)
	fs.StringVar(&ownerURL, "migrate-database-url", "", "with --database-url: the owner role's URL, to migrate")
	var idpListen string
	fs.StringVar(&idpListen, "idp-listen", "localhost:8081", "where the dev identity provider listens when no --oidc-issuer is given")
	for flag, value := range map[string]string{"base-domain": "localhost", "device-scheme": "http", "egress-allow-private": "true",
		// Local only: the Windows simulator (or a proxy in front) forwards
		// the enrollment certificate in Client-Cert.
		"windows-device-identity": "header"} {
		if err := fs.Set(flag, value); err != nil {
			return err
		}
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log, _ := cfg.logger(os.Stderr)
	if cfg.devicePort == 0 {
		_, p, _ := net.SplitHostPort(cfg.listen)
		cfg.devicePort, _ = strconv.Atoi(p)
	}

	dbs, stop, err := devDatabases(ctx, cfg, ownerURL, log)
	if err != nil {
		return err
	}
	defer stop()

	if cfg.encryptionKey == "" {
		k, err := devEncryptionKey(cfg.dataDir)
		if err != nil {
			return err
		}
		cfg.encryptionKey = k
	}
	var ids *devIdentity
	if cfg.oidc.issuer == "" {
		var err error
		if ids, err = startDevIdentity(ctx, cfg.dataDir, idpListen, cfg.oidc.audience, cfg.platformURL()+"/dashboard/callback", log.With("component", "dev-idp")); err != nil {
			return err
		}
		defer ids.stop()
		cfg.oidc.issuer = ids.issuer
		if cfg.oidc.dashboardClient == "" {
			cfg.oidc.dashboardClient, cfg.oidc.dashboardSecret = devDashboardClient, ids.dashboardSecret()
		}
	}
	if err := cfg.oidc.validate(); err != nil {
		return usageError{err}
	}

	m, err := migrations.New(ctx, dbs.owner, appRole, log)
	if err != nil {
		return err
	}
	err = m.Up(ctx)
	m.Close()
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, dbs, roles{serve: true, work: true}, log)
	if err != nil {
		return err
	}
	demo, err := seed(ctx, a.dir)
	if err != nil {
		return err
	}
	printWelcome(stdout, cfg.listen, demo.Slug, ids)
	return a.run(ctx)
}

// devDatabases are dev's databases: the ones given (--database-url and
// --migrate-database-url), or a throwaway cluster of its own, provisioned,
// which stop stops.
func devDatabases(ctx context.Context, cfg serverConfig, ownerURL string, log *slog.Logger) (_ databases, stop func(), _ error) {
	if cfg.databaseURL != "" {
		if ownerURL == "" {
			return databases{}, nil, usagef("with --database-url, dev also needs --migrate-database-url (the owner role) to migrate and seed")
		}
		return databases{app: cfg.databaseURL, reader: cfg.readerDatabaseURL, owner: ownerURL, release: func() {}}, func() {}, nil
	}
	cl, _, err := openDevCluster(ctx, cfg.dataDir, true, log)
	if err != nil {
		return databases{}, nil, err
	}
	log.Info("PostgreSQL running", "folder", cl.Dir, "port", cl.Port, "version_bin", cl.BinDir)
	// dev owns its cluster: it stops with dev, even if an earlier run
	// left it running.
	stop = func() {
		if err := cl.Stop(context.Background()); err != nil {
			log.Error("stop PostgreSQL", "err", err)
		} else {
			log.Info("PostgreSQL stopped")
		}
	}
	roles := pgcluster.Roles{Owner: ownerRole, OwnerPassword: cl.RolePassword(ownerRole),
		App: appRole, AppPassword: cl.RolePassword(appRole)}
	if err := pgcluster.Provision(ctx, cl.SuperuserURL("postgres"), devDatabase, roles); err != nil {
		stop()
		return databases{}, nil, err
	}
	return devURLs(cl, func() {}), stop, nil
}

// printWelcome tells the person what dev runs and how to reach it.
func printWelcome(stdout io.Writer, listen, demo string, ids *devIdentity) {
	_, port, _ := net.SplitHostPort(listen)
	fmt.Fprintf(stdout, `
Trident is running (press Ctrl-C to stop).

  Platform (API, dashboard):  http://localhost:%[1]s/
  Dashboard:                  http://localhost:%[1]s/dashboard/
  API docs:                   http://localhost:%[1]s/docs
  Demo tenant %[2]q:         http://%[2]s.localhost:%[1]s/
  Health:                     http://localhost:%[1]s/readyz
`, port, demo)
	if ids != nil {
		fmt.Fprintf(stdout, `
  Identity provider (dev):    %[1]s
  API tokens, client-credentials grant:
`, ids.issuer)
		var first *devidp.Client // the first that gets tokens, for the example call
		for i, c := range ids.clients {
			if len(c.RedirectURIs) > 0 {
				continue // the dashboard's: it signs people in, it gets no tokens of its own
			}
			if first == nil {
				first = &ids.clients[i]
			}
			fmt.Fprintf(stdout, "    %-12s curl -s -u %s:%s -d grant_type=client_credentials %s/oauth/token\n", c.ID, c.ID, c.Secret, ids.issuer)
		}
		if first != nil {
			// The token, then a call with it: lines that work as printed.
			fmt.Fprintf(stdout, "  then: TOKEN=$(curl -s -u %s:%s -d grant_type=client_credentials %s/oauth/token | sed -n 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/p')\n",
				first.ID, first.Secret, ids.issuer)
			fmt.Fprintf(stdout, "  and:  curl -H \"Authorization: Bearer $TOKEN\" http://localhost:%s/v1/tenants/%s\n", port, demo)
		}
		for _, u := range ids.users {
			fmt.Fprintf(stdout, "  Dashboard sign-in:          %s / %s\n", u.Email, u.Password)
		}
	}
	fmt.Fprintf(stdout, `

  Devices and simulators that cannot resolve *.localhost connect to 127.0.0.1:%[1]s
  and send the tenant's Host header (Host: %[2]s.localhost).
  Operator commands (trident tenant list, trident migrate status) use this cluster
  while no TRIDENT_DATABASE_URL is set.

`, port, demo)
}

// seed creates the demo MSP and tenant unless they exist.
func seed(ctx context.Context, dir *tenancy.Directory) (tenancy.Tenant, error) {
	if t, err := dir.TenantBySlug(ctx, demoTenant); err == nil {
		return t, nil
	} else if !errors.Is(err, tenancy.ErrNotFound) {
		return tenancy.Tenant{}, err
	}
	m, err := dir.MSPBySlug(ctx, demoMSP)
	if errors.Is(err, tenancy.ErrNotFound) {
		m, err = dir.CreateMSP(ctx, demoMSP, "Demo MSP")
	}
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("seed demo MSP: %w", err)
	}
	t, err := dir.CreateTenant(ctx, m.ID, demoTenant, "Demo Tenant")
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("seed demo tenant: %w", err)
	}
	return t, nil
}

// devEncryptionKey reads the dev encryption key from the data folder,
// making it the first time. Production keys come from configuration.
func devEncryptionKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "encryption.key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	_, k, err := seal.NewRandomKey()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	return k, os.WriteFile(path, []byte(k+"\n"), 0o600)
}
