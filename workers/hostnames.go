package workers

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// HostnameReaction checks a new custom hostname's DNS soon after it is
// added, and then less and less often for a week (tenancy.NextCheck),
// until its TXT record proves the tenant controls it: for
// events.WithReaction.
func HostnameReaction(ev events.Event) (river.JobArgs, *river.InsertOpts, bool) {
	if ev.Kind != "tenant.hostname_added" {
		return nil, nil, false
	}
	return tenancy.VerifyHostnameArgs{TenantID: ev.TenantID, Hostname: ev.Subject},
		&river.InsertOpts{ScheduledAt: time.Now().Add(tenancy.NextCheck(0))}, true
}

type verifyHostnameWorker struct {
	river.WorkerDefaults[tenancy.VerifyHostnameArgs]
	tenants *tenants.Service
	log     *slog.Logger
	now     func() time.Time
}

func (w *verifyHostnameWorker) Work(ctx context.Context, job *river.Job[tenancy.VerifyHostnameArgs]) error {
	if w.tenants == nil {
		return errors.New("tenants: this process does not verify hostnames")
	}
	h, err := w.tenants.VerifyHostname(tenancy.WithTenant(ctx, job.Args.TenantID), job.Args.Hostname, nil)
	switch {
	case err == nil:
		w.log.InfoContext(ctx, "custom hostname verified", "tenant", job.Args.TenantID, "hostname", h.Name)
		return nil
	case errors.Is(err, tenancy.ErrNotFound):
		return nil // removed meanwhile
	case errors.Is(err, tenancy.ErrUnproven):
		age := w.now().Sub(h.CreatedAt)
		if age >= tenancy.VerifyFor {
			w.log.InfoContext(ctx, "custom hostname still unproven; no more automatic checks", "tenant", job.Args.TenantID,
				"hostname", h.Name, "last", h.CheckError)
			return nil
		}
		return river.JobSnooze(tenancy.NextCheck(age))
	case errors.Is(err, tenancy.ErrConflict):
		return nil // another tenant holds the name; the check's result says so
	}
	return err
}
