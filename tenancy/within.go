package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrJoinedTxFailed is what Within returns when a Tx that joined its
// transaction failed but fn went on and returned nil: the transaction is
// rolled back all the same, since the failed part's writes cannot be
// undone on their own.
var ErrJoinedTxFailed = errors.New("tenancy: a part of the transaction failed")

type withinKey struct{}

// within is the transaction a Within call holds open.
type within struct {
	db       *DB
	tx       pgx.Tx
	tenant   uuid.UUID
	readOnly bool

	busy atomic.Bool // a joined Tx is running

	mu     sync.Mutex
	failed error // the first failure of a joined Tx
}

func (w *within) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
}

func (w *within) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// Within runs fn with a context carrying one tenant transaction on the
// writer: every Tx and ReadTx of db under that context joins it instead of
// beginning its own, and it commits once, when fn returns nil. For an edge
// whose one request passes through several stores, each opening its own
// transaction (nanomdm's chain: the certificate check, its storage calls,
// Trident's inventory and command queue), so that the request costs one
// BEGIN and one COMMIT and is all or nothing.
//
// If fn or any joined Tx fails, everything rolls back, even when fn went on
// after the failure: a joined Tx cannot roll back only its own part.
// The transaction is one connection: a Tx that joins it while another
// joined Tx runs (from another goroutine, or nested inside it) is refused
// with an error, where outside Within it would have taken a second
// connection.
func (db *DB) Within(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.within(ctx, db.writer, pgx.ReadWrite, fn)
}

// ReadWithin is Within on the reader, read-only: for an edge's page or
// answer that reads through several services and wants one snapshot and
// one round of BEGIN and COMMIT. A write under it fails (the transaction
// is READ ONLY). Unlike Within, a joined read that fails without aborting
// the transaction (a service's not-found, say) does not fail the rest:
// the caller may handle it and read on. Under a context already within a
// transaction of db, fn runs in that one.
func (db *DB) ReadWithin(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.within(ctx, db.reader, pgx.ReadOnly, fn)
}

func (db *DB) within(ctx context.Context, p *pgxpool.Pool, mode pgx.TxAccessMode, fn func(ctx context.Context) error) error {
	if w := joined(ctx, db); w != nil {
		return fn(ctx) // already inside one
	}
	id, ok := FromContext(ctx)
	if !ok {
		return ErrNoTenant
	}
	return tenantTx(ctx, p, mode, func(tx pgx.Tx) error {
		w := &within{db: db, tx: tx, tenant: id, readOnly: mode == pgx.ReadOnly}
		err := fn(context.WithValue(ctx, withinKey{}, w))
		if failed := w.err(); err == nil && failed != nil {
			err = fmt.Errorf("%w: %w", ErrJoinedTxFailed, failed)
		}
		return err
	})
}

// joined returns the transaction of db that ctx is within, if any.
func joined(ctx context.Context, db *DB) *within {
	w, _ := ctx.Value(withinKey{}).(*within)
	if w == nil || w.db != db {
		return nil
	}
	return w
}

// run runs fn in the joined transaction, remembering a failure.
func (w *within) run(ctx context.Context, fn func(pgx.Tx) error) error {
	if id, ok := FromContext(ctx); !ok || id != w.tenant {
		// Only a bug gets here: a context re-scoped to another tenant
		// must not write through this tenant's transaction.
		return fmt.Errorf("tenancy: the context's tenant is not the one its transaction is scoped to")
	}
	if !w.busy.CompareAndSwap(false, true) {
		w.fail(errOverlap)
		return errOverlap
	}
	defer w.busy.Store(false)
	if failed := w.err(); failed != nil {
		return fmt.Errorf("%w: %w", ErrJoinedTxFailed, failed)
	}
	err := fn(w.tx)
	if err != nil && !(w.readOnly && !aborted(w.tx)) {
		// A read that fails without aborting the transaction (no such
		// row, say) wrote nothing to undo: the reads after it may go on.
		w.fail(err)
	}
	return err
}

// aborted reports whether tx's transaction is in the failed state (a
// statement failed; everything until the rollback is refused).
func aborted(tx pgx.Tx) bool {
	return tx.Conn().PgConn().TxStatus() != 'T'
}

var errOverlap = errors.New("tenancy: a Tx joined a Within transaction while another joined Tx was running on it")

// Read runs fn in a read-only tenant transaction of db (ReadTx: the
// reader, or the transaction ctx is within) and returns its result: the
// body of a service's read use case.
func Read[T any](ctx context.Context, db *DB, fn func(pgx.Tx) (T, error)) (T, error) {
	var out T
	err := db.ReadTx(ctx, func(tx pgx.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}

// Write is Read on the writer (Tx): the body of a service's use case that
// changes something and answers with a result.
func Write[T any](ctx context.Context, db *DB, fn func(pgx.Tx) (T, error)) (T, error) {
	var out T
	err := db.Tx(ctx, func(tx pgx.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	return out, err
}
