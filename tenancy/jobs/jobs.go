// Package jobs is River in the tenant transaction: the River client on
// Trident's writer pool, and the two things a job worker does in the
// transaction of its work without holding it, enqueue the next job and
// complete its own.
//
// River's transactional API (InsertTx, JobCompleteTx) is typed on the
// driver's transaction, pgx.Tx. That type stays here and in the
// services' bodies (events.Jobs); the workers, an edge, call Insert and
// Complete with the context tenancy.DB.Within gave them, and both join
// that transaction, so the job's end commits with its work or not at all.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/tenancy"
)

// Client is River's client on Trident's pools.
type Client = river.Client[pgx.Tx]

// NewClient is River's client on db's writer, configured by cfg.
func NewClient(db *tenancy.DB, cfg *river.Config) (*Client, error) {
	c, err := river.NewClient(riverpgxv5.New(db.Writer()), cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return c, nil
}

// ErrNoClient means a job was to be enqueued before the process had a
// River client (Late.Set) or outside a worker.
var ErrNoClient = errors.New("jobs: no River client to insert jobs with")

// Late lets the services that enqueue jobs (the event publisher, the
// command queue) be built before the River client that also works their
// jobs: Set the client once it exists.
type Late struct{ c atomic.Pointer[Client] }

// Set names the client that inserts the jobs.
func (l *Late) Set(c *Client) { l.c.Store(c) }

// InsertManyTx implements events.Jobs.
func (l *Late) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	c := l.c.Load()
	if c == nil {
		return nil, ErrNoClient
	}
	return c.InsertManyTx(ctx, tx, params)
}

// worker is the client working the job ctx belongs to.
func worker(ctx context.Context) (*Client, error) {
	c, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoClient, err)
	}
	return c, nil
}

// Insert enqueues the jobs in ctx's tenant transaction of db (the one
// Within holds, or one of its own): a worker's next batch commits with
// this one. ctx must be a worker's.
func Insert(ctx context.Context, db *tenancy.DB, params ...river.InsertManyParams) error {
	c, err := worker(ctx)
	if err != nil {
		return err
	}
	return db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := c.InsertManyTx(ctx, tx, params)
		return err
	})
}

// InsertMany enqueues the jobs on their own, each with its own tenant
// (a sweep's fan-out). ctx must be a worker's.
func InsertMany(ctx context.Context, params []river.InsertManyParams) error {
	c, err := worker(ctx)
	if err != nil {
		return err
	}
	_, err = c.InsertMany(ctx, params)
	return err
}

// Complete marks job completed in ctx's tenant transaction of db. Were
// it completed after the commit (River's default), a stop between the
// two would run the job again and repeat what it did.
func Complete[T river.JobArgs](ctx context.Context, db *tenancy.DB, job *river.Job[T]) error {
	return db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
}
