package api

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/audit"
)

// tx runs fn in the operation's tenant transaction. For operations that
// change state it also writes the audit entry in that transaction, so the
// change and its record commit together or not at all.
func (a *API) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return a.problem(ctx, a.rawTx(ctx, fn))
}

// rawTx is tx without mapping the error to an answer.
func (a *API) rawTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return a.auditedTx(ctx, false, fn)
}

// auditedTx runs fn and records the operation in the audit log; reads
// are recorded only when always (a read that reaches a vendor as the
// tenant, such as the ABM proxy's GETs).
func (a *API) auditedTx(ctx context.Context, always bool, fn func(pgx.Tx) error) error {
	c := callFrom(ctx)
	return a.d.DB.Tx(tenantContext(ctx), func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if c.op == nil || (!always && (c.op.Method == http.MethodGet || c.op.Method == http.MethodHead)) {
			return nil
		}
		return a.record(ctx, tx)
	})
}

// record writes the operation's audit entry in tx, for changes a service
// makes in a transaction of its own (the entry commits with the change).
func (a *API) record(ctx context.Context, tx pgx.Tx) error {
	c := callFrom(ctx)
	status := c.op.DefaultStatus
	if status == 0 {
		status = http.StatusOK
	}
	return audit.Record(ctx, tx, audit.Entry{
		Actor: c.principal.Subject, ActorName: c.principal.Name, Action: c.op.OperationID,
		Target: c.path, RequestID: c.requestID, Status: status,
	})
}

// readTx runs fn in a read-only tenant transaction on the reader.
func (a *API) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return a.problem(ctx, a.d.DB.ReadTx(tenantContext(ctx), fn))
}

// audited runs change, a service call that opens transactions of its own
// (the Apple edge's stores, say), and the operation's audit entry in one
// transaction (tenancy.DB.Within): the change and its entry commit
// together, or neither does.
func (a *API) audited(ctx context.Context, change func(ctx context.Context) error) error {
	return a.problem(ctx, a.d.DB.Within(tenantContext(ctx), func(ctx context.Context) error {
		if err := change(ctx); err != nil {
			return err
		}
		return a.rawTx(ctx, func(pgx.Tx) error { return nil })
	}))
}
