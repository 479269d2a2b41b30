package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tridentmdm/trident/internal/pgcluster"
)

// The dev cluster's database and roles.
const (
	devDatabase = "trident"
	ownerRole   = "trident_owner"
	appRole     = "trident_app"
)

// databases are the URLs a command connects with, and how to let go of
// them.
type databases struct {
	app, reader, owner string
	release            func()
}

// devClusterDir is where the dev cluster lives: in the data folder, or, when
// we are root and the postgres user cannot reach that folder (a private home
// folder), in a folder under /var/tmp named after it.
func devClusterDirs(dataDir string) (primary, fallback string, err error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(abs, "postgres"), filepath.Join("/var/tmp", "trident-dev-"+hex.EncodeToString(sum[:6]), "postgres"), nil
}

// openDevCluster opens the dev cluster (creating it when create is true)
// and starts it unless it runs already; started says whether it did.
func openDevCluster(ctx context.Context, dataDir string, create bool, log *slog.Logger) (c *pgcluster.Cluster, started bool, err error) {
	primary, fallback, err := devClusterDirs(dataDir)
	if err != nil {
		return nil, false, err
	}
	dir := primary
	switch {
	case pgcluster.Exists(primary):
	case pgcluster.Exists(fallback):
		dir = fallback
	case !create:
		return nil, false, errors.New("no database configured: set TRIDENT_DATABASE_URL, or run 'trident dev' once to create the dev cluster")
	}
	c, err = pgcluster.Open(ctx, dir, pgcluster.Options{})
	if errors.Is(err, pgcluster.ErrUnreachable) {
		log.Info("the postgres user cannot reach the data folder; keeping the dev cluster elsewhere", "folder", primary, "instead", fallback)
		_ = os.RemoveAll(primary)
		if err := os.MkdirAll(filepath.Dir(fallback), 0o755); err != nil {
			return nil, false, err
		}
		c, err = pgcluster.Open(ctx, fallback, pgcluster.Options{})
	}
	if err != nil {
		return nil, false, fmt.Errorf("dev cluster: %w", err)
	}
	if started, err = c.Start(ctx); err != nil {
		return nil, false, fmt.Errorf("dev cluster: %w", err)
	}
	return c, started, nil
}

// connect returns the URLs to use: the configured ones, or the dev
// cluster's when none is configured. ownerURL is the migration owner's URL
// when the command needs it (empty: not needed, or from the dev cluster).
func (c *common) connect(ctx context.Context, ownerURL string, needOwner bool, log *slog.Logger) (databases, error) {
	if c.databaseURL != "" || (needOwner && ownerURL != "") {
		if needOwner && ownerURL == "" {
			return databases{}, usagef("--migrate-database-url (TRIDENT_MIGRATE_DATABASE_URL) is required: migrations run as the owner role")
		}
		reader := c.readerDatabaseURL
		return databases{app: c.databaseURL, reader: reader, owner: ownerURL, release: func() {}}, nil
	}
	cl, started, err := openDevCluster(ctx, c.dataDir, false, log)
	if err != nil {
		return databases{}, err
	}
	// Leave a cluster that `trident dev` is running as it was.
	release := func() {}
	if started {
		release = func() { _ = cl.Stop(context.Background()) }
	}
	return devURLs(cl, release), nil
}

func devURLs(cl *pgcluster.Cluster, release func()) databases {
	return databases{
		app:     cl.URL(appRole, devDatabase, cl.RolePassword(appRole)),
		owner:   cl.URL(ownerRole, devDatabase, cl.RolePassword(ownerRole)),
		release: release,
	}
}
