package tenancy_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// BenchmarkTx measures what row-level security costs a transaction: the
// tenant transaction (SET LOCAL sent with BEGIN) against a plain one, each
// reading one row by key.
func BenchmarkTx(b *testing.B) {
	db := testenv.DB(b)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		b.Fatal(err)
	}
	tn := testenv.Tenant(b, dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	host := "bench-" + tn.Slug + ".example"
	if _, err := dir.AddHostname(context.Background(), tn.ID, host); err != nil {
		b.Fatal(err)
	}
	read := func(tx pgx.Tx) error {
		var h string
		return tx.QueryRow(ctx, `SELECT hostname FROM tenant_hostnames WHERE tenant_id = $1 AND hostname = $2`, tn.ID, host).Scan(&h)
	}
	b.Run("tenant", func(b *testing.B) {
		for b.Loop() {
			if err := db.Tx(ctx, read); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Five parts of one request, as an Apple check-in has: each its own
	// transaction, or all joined to one (Within).
	b.Run("five-tx", func(b *testing.B) {
		for b.Loop() {
			for range 5 {
				if err := db.Tx(ctx, read); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("five-within", func(b *testing.B) {
		for b.Loop() {
			err := db.Within(ctx, func(ctx context.Context) error {
				for range 5 {
					if err := db.Tx(ctx, read); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		// The same read without a tenant finds no row under RLS, so the
		// plain transaction reads the tenant directory instead: one row by
		// key, same shape.
		for b.Loop() {
			err := pgx.BeginFunc(ctx, db.Writer(), func(tx pgx.Tx) error {
				var s string
				return tx.QueryRow(ctx, `SELECT slug FROM tenants WHERE id = $1`, tn.ID).Scan(&s)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
