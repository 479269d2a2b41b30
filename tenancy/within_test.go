package tenancy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// groups counts the tenant's device groups named name, outside any Within.
func groups(t *testing.T, db *tenancy.DB, ctx context.Context, name string) int {
	t.Helper()
	var n int
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM device_groups WHERE name = $1`, name).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func addGroup(db *tenancy.DB, ctx context.Context, name string) error {
	return db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO device_groups (id, name) VALUES ($1, $2)`, uuid.New(), name)
		return err
	})
}

func TestWithinJoinsOneTransaction(t *testing.T) {
	db, dir := newDirectory(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)

	var backends []int
	err := db.Within(ctx, func(ctx context.Context) error {
		for i := 0; i < 3; i++ {
			read := db.Tx
			if i == 1 {
				read = db.ReadTx
			}
			if err := read(ctx, func(tx pgx.Tx) error {
				var pid int
				backends = append(backends, pid)
				return tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backends[len(backends)-1])
			}); err != nil {
				return err
			}
		}
		if err := addGroup(db, ctx, "joined"); err != nil {
			return err
		}
		// Not visible outside before the commit.
		other := tenancy.WithTenant(context.Background(), mustTenant(t, ctx))
		if n := groups(t, db, other, "joined"); n != 0 {
			t.Errorf("a joined write was visible outside before commit")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if backends[0] != backends[1] || backends[1] != backends[2] {
		t.Errorf("joined Tx and ReadTx ran on backends %v, want one", backends)
	}
	if n := groups(t, db, ctx, "joined"); n != 1 {
		t.Errorf("after Within: %d groups, want the committed 1", n)
	}
}

func mustTenant(t *testing.T, ctx context.Context) uuid.UUID {
	id, ok := tenancy.FromContext(ctx)
	if !ok {
		t.Fatal("no tenant")
	}
	return id
}

func TestWithinRollsBackEverything(t *testing.T) {
	db, dir := newDirectory(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	boom := errors.New("boom")

	// fn fails: the joined write is undone.
	err := db.Within(ctx, func(ctx context.Context) error {
		if err := addGroup(db, ctx, "fn-fails"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || groups(t, db, ctx, "fn-fails") != 0 {
		t.Errorf("fn failed: err %v, %d groups; want boom and none", err, groups(t, db, ctx, "fn-fails"))
	}

	// A joined Tx fails with a Go error after writing, and fn swallows it:
	// the write is undone all the same.
	err = db.Within(ctx, func(ctx context.Context) error {
		_ = db.Tx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO device_groups (id, name) VALUES ($1, 'part-fails')`, uuid.New()); err != nil {
				return err
			}
			return boom
		})
		// Later parts are refused, not run on a transaction that will
		// not commit.
		if err := addGroup(db, ctx, "after"); !errors.Is(err, tenancy.ErrJoinedTxFailed) {
			t.Errorf("a Tx after a failed one: %v, want ErrJoinedTxFailed", err)
		}
		return nil
	})
	if !errors.Is(err, tenancy.ErrJoinedTxFailed) || !errors.Is(err, boom) {
		t.Errorf("Within after a swallowed failure = %v, want ErrJoinedTxFailed wrapping boom", err)
	}
	if n := groups(t, db, ctx, "part-fails") + groups(t, db, ctx, "after"); n != 0 {
		t.Errorf("%d groups of a failed Within committed", n)
	}

	// A failed statement (the transaction is aborted) likewise.
	err = db.Within(ctx, func(ctx context.Context) error {
		_ = addGroup(db, ctx, "dup")
		_ = addGroup(db, ctx, "dup")
		return nil
	})
	if !errors.Is(err, tenancy.ErrJoinedTxFailed) || groups(t, db, ctx, "dup") != 0 {
		t.Errorf("Within after a failed statement: %v, %d groups", err, groups(t, db, ctx, "dup"))
	}
}

func TestWithinRefusesOverlapAndOtherTenants(t *testing.T) {
	db, dir := newDirectory(t)
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), a.ID)

	// A Tx nested inside a joined Tx would need a second connection.
	err := db.Within(ctx, func(ctx context.Context) error {
		return db.Tx(ctx, func(pgx.Tx) error { return addGroup(db, ctx, "nested") })
	})
	if err == nil || groups(t, db, ctx, "nested") != 0 {
		t.Errorf("nested joined Tx: err %v, %d groups; want an error and none", err, groups(t, db, ctx, "nested"))
	}

	// A context re-scoped to another tenant cannot use a's transaction.
	err = db.Within(ctx, func(ctx context.Context) error {
		return addGroup(db, tenancy.WithTenant(ctx, b.ID), "other-tenant")
	})
	bctx := tenancy.WithTenant(context.Background(), b.ID)
	if err == nil || groups(t, db, ctx, "other-tenant")+groups(t, db, bctx, "other-tenant") != 0 {
		t.Errorf("another tenant's Tx in a's Within: err %v", err)
	}

	if err := db.Within(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Errorf("Within without a tenant = %v, want ErrNoTenant", err)
	}
}

func TestReadWithinIsOneReadOnlyTransaction(t *testing.T) {
	db, dir := newDirectory(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)

	var pids []int
	err := db.ReadWithin(ctx, func(ctx context.Context) error {
		for i := 0; i < 2; i++ {
			pid, err := tenancy.Read(ctx, db, func(tx pgx.Tx) (pid int, err error) {
				return pid, tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
			})
			if err != nil {
				return err
			}
			pids = append(pids, pid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pids[0] != pids[1] {
		t.Errorf("two reads under ReadWithin ran on backends %v, want one transaction", pids)
	}

	err = db.ReadWithin(ctx, func(ctx context.Context) error { return addGroup(db, ctx, "written") })
	if err == nil {
		t.Fatal("a write under ReadWithin succeeded; want the read-only transaction to refuse it")
	}
	if n := groups(t, db, ctx, "written"); n != 0 {
		t.Errorf("a write under ReadWithin left %d rows", n)
	}
}

func TestWriteAnswersItsResult(t *testing.T) {
	db, dir := newDirectory(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	id, err := tenancy.Write(ctx, db, func(tx pgx.Tx) (uuid.UUID, error) {
		id := uuid.New()
		_, err := tx.Exec(ctx, `INSERT INTO device_groups (id, name) VALUES ($1, 'w')`, id)
		return id, err
	})
	if err != nil || id == uuid.Nil {
		t.Fatalf("Write: %v, %v", id, err)
	}
	if _, err := tenancy.Write(context.Background(), db, func(tx pgx.Tx) (int, error) { return 1, nil }); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Errorf("Write without a tenant: %v, want ErrNoTenant", err)
	}
}

// A read under ReadWithin that finds nothing is the caller's to handle:
// the reads after it go on; a failed statement still fails the rest.
func TestReadWithinGoesOnAfterANotFound(t *testing.T) {
	db, dir := newDirectory(t)
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	err := db.ReadWithin(ctx, func(ctx context.Context) error {
		err := db.ReadTx(ctx, func(tx pgx.Tx) error {
			var n int
			return tx.QueryRow(ctx, `SELECT 1 FROM device_groups WHERE false`).Scan(&n)
		})
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("first read: %v, want no rows", err)
		}
		return db.ReadTx(ctx, func(tx pgx.Tx) error {
			var n int
			return tx.QueryRow(ctx, `SELECT count(*) FROM device_groups`).Scan(&n)
		})
	})
	if err != nil {
		t.Fatalf("a read after a handled not-found: %v", err)
	}
	err = db.ReadWithin(ctx, func(ctx context.Context) error {
		_ = db.ReadTx(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT 1/0`)
			return err
		})
		return nil
	})
	if !errors.Is(err, tenancy.ErrJoinedTxFailed) {
		t.Errorf("a failed statement under ReadWithin: %v, want ErrJoinedTxFailed", err)
	}
}
