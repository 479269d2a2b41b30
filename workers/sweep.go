package workers

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
)

// fanOut enqueues one job per tenant that job chooses to include (nil
// skips a tenant), at most one per tenant and args within period even if
// sweeps overlap, so each tenant's work runs, fails and retries on its
// own. It returns how many it enqueued.
func fanOut(ctx context.Context, dir *tenancy.Directory, period time.Duration, job func(tenancy.Tenant) river.JobArgs) (int, error) {
	tenants, err := dir.ListTenants(ctx, uuid.Nil)
	if err != nil {
		return 0, fmt.Errorf("list tenants: %w", err)
	}
	params := make([]river.InsertManyParams, 0, len(tenants))
	for _, t := range tenants {
		if args := job(t); args != nil {
			params = append(params, river.InsertManyParams{Args: args,
				InsertOpts: &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: period}}})
		}
	}
	if len(params) == 0 {
		return 0, nil
	}
	if err := jobs.InsertMany(ctx, params); err != nil {
		return 0, fmt.Errorf("enqueue per-tenant jobs: %w", err)
	}
	return len(params), nil
}
