package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tridentmdm/trident/dashboard"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/tenancy"
)

// alertWindow is how long before an expiry the dashboard warns.
const alertWindow = 30 * 24 * time.Hour

// tenantAlerts finds what needs an admin in a tenant for the dashboard's
// MSP view: an APNs push certificate that expires within 30 days (or did),
// and ABM tokens that are not active.
func tenantAlerts(db *tenancy.DB, store *mdmstore.Store, abm *dep.Service, now func() time.Time) func(context.Context, tenancy.Tenant) ([]dashboard.Alert, error) {
	return func(ctx context.Context, t tenancy.Tenant) ([]dashboard.Alert, error) {
		ctx = tenancy.WithTenant(ctx, t.ID)
		var out []dashboard.Alert
		certs, err := store.PushCerts(ctx)
		if err != nil {
			return nil, err
		}
		if len(certs) > 0 {
			switch na := certs[0].NotAfter; {
			case now().After(na):
				out = append(out, dashboard.Alert{Text: fmt.Sprintf("The Apple push certificate expired on %s: devices get no pushes. Renew it with the same Apple ID.", na.Format("2006-01-02"))})
			case na.Sub(now()) < alertWindow:
				out = append(out, dashboard.Alert{Text: fmt.Sprintf("The Apple push certificate expires on %s: renew it with the same Apple ID.", na.Format("2006-01-02"))})
			}
		}
		if abm != nil {
			tokens, err := abm.Tokens(ctx)
			if err != nil {
				return out, err
			}
			for _, tk := range tokens {
				if tk.Status != "active" {
					out = append(out, dashboard.Alert{Text: fmt.Sprintf("ABM token %q is %s. %s", tk.Label, tk.Status, tk.StatusDetail)})
				}
			}
		}
		return out, nil
	}
}
