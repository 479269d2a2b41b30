package workers

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/tenancy"
)

// IdentityRenewer queues the renewals of a tenant's device identities
// that expire soon (protocols/apple.Renewer).
type IdentityRenewer interface {
	Renew(ctx context.Context, tenant uuid.UUID) (int, error)
}

// RenewalSweepArgs is the daily job that enqueues one RenewIdentitiesArgs
// per tenant.
type RenewalSweepArgs struct{}

// Kind names the job kind in River.
func (RenewalSweepArgs) Kind() string { return "pki.renewal_sweep" }

// RenewIdentitiesArgs renews one tenant's expiring device identities.
type RenewIdentitiesArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (RenewIdentitiesArgs) Kind() string { return "pki.renew_identities" }

type renewalSweepWorker struct {
	river.WorkerDefaults[RenewalSweepArgs]
	dir *tenancy.Directory
}

func (w *renewalSweepWorker) Work(ctx context.Context, job *river.Job[RenewalSweepArgs]) error {
	_, err := fanOut(ctx, w.dir, 12*time.Hour, func(t tenancy.Tenant) river.JobArgs {
		if t.Status != tenancy.Active {
			return nil
		}
		return RenewIdentitiesArgs{TenantID: t.ID}
	})
	return err
}

type renewIdentitiesWorker struct {
	river.WorkerDefaults[RenewIdentitiesArgs]
	renewer IdentityRenewer
}

func (w *renewIdentitiesWorker) Work(ctx context.Context, job *river.Job[RenewIdentitiesArgs]) error {
	if w.renewer == nil {
		return nil
	}
	_, err := w.renewer.Renew(ctx, job.Args.TenantID)
	return err
}
