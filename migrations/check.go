package migrations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Latest is the newest app migration version in this binary.
func Latest() (int64, error) {
	entries, err := fs.ReadDir(files, "sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		num, _, ok := strings.Cut(path.Base(e.Name()), "_")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration file %s: %w", e.Name(), err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// Current reports whether the database behind pool (any role that may read
// the bookkeeping tables, the app role included) has every migration this
// binary knows, for /readyz and for refusing to serve an old schema.
func Current(ctx context.Context, pool *pgxpool.Pool) error {
	latest, err := Latest()
	if err != nil {
		return err
	}
	var have int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have < latest {
		return fmt.Errorf("schema is at version %d, this binary needs %d: run 'trident migrate up'", have, latest)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: RiverSchema})
	if err != nil {
		return err
	}
	all := rm.AllVersions()
	var riverHave int
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+RiverSchema+`.river_migration WHERE line = 'main'`).Scan(&riverHave); err != nil {
		return fmt.Errorf("read River schema version: %w", err)
	}
	if want := all[len(all)-1].Version; riverHave < want {
		return fmt.Errorf("River schema is at version %d, this binary needs %d: run 'trident migrate up'", riverHave, want)
	}
	return nil
}

// Fingerprint identifies this binary's schema (app and River migrations):
// tests name their template database after it, so a changed migration gets
// a fresh template.
func Fingerprint() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(files, "sql", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", err
	}
	for _, v := range rm.AllVersions() {
		fmt.Fprintf(h, "river\x00%d\x00%s\x00%s\x00", v.Version, v.Name, v.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
