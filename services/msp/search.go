package msp

import (
	"context"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Found is a device Search found, with its tenant and its place in the
// tenant's list (the cursor of the next page).
type Found struct {
	Tenant tenancy.Tenant
	Device inventory.Device
	Key    string
}

// After is where a Search page starts: after this device of this tenant
// (the zero After: at the start).
type After struct {
	Tenant string    `json:"t"` // its slug
	Key    string    `json:"k"`
	ID     uuid.UUID `json:"i"`
}

// Search finds up to n devices matching q (a name or serial number in
// part, or an identifier such as a UDID whole: inventory.Query.Search)
// in tenants, in their order, from after. It is the tenant loop: each
// tenant is searched in its own read transaction, under its own
// row-level security, and nothing is read across tenants.
func (s *Service) Search(ctx context.Context, tenants []tenancy.Tenant, q string, n int, after After) ([]Found, error) {
	var out []Found
	started := after.Tenant == ""
	for _, t := range tenants {
		query := inventory.Query{Search: q, Limit: n - len(out)}
		if !started {
			if t.Slug != after.Tenant {
				continue
			}
			started = true
			query.AfterKey, query.AfterID = after.Key, after.ID
		}
		p, err := s.inv.List(tenancy.WithTenant(ctx, t.ID), query)
		if err != nil {
			return nil, err
		}
		for i, d := range p.Devices {
			out = append(out, Found{Tenant: t, Device: d, Key: p.Keys[i]})
		}
		if len(out) >= n {
			break
		}
	}
	return out, nil
}
