package main

import (
	"context"

	"github.com/tridentmdm/trident/dashboard"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/tenancy"
)

// tenantAlerts shows the dashboard's MSP view what needs an admin in a
// tenant (the rules are services/attention's).
func tenantAlerts(f *attention.Finder) func(context.Context, tenancy.Tenant) ([]dashboard.Alert, error) {
	return func(ctx context.Context, t tenancy.Tenant) ([]dashboard.Alert, error) {
		items, err := f.Tenant(ctx, t)
		out := make([]dashboard.Alert, len(items))
		for i, it := range items {
			out[i] = dashboard.Alert{Text: it.Text, Link: "/dashboard/t/" + t.Slug + "/" + it.Link}
		}
		return out, err
	}
}
