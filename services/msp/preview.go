package msp

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Change is how a new version changes one item.
type Change struct {
	Item   string `json:"item"`
	Kind   string `json:"kind"`
	Change string `json:"change"` // added, changed, removed
}

// Preview is what a new version of a baseline would touch in one tenant:
// the items it changes there (a tenant's turned-off items aside) and the
// enrolled devices of the platforms they are for.
type Preview struct {
	Tenant  tenancy.Tenant
	Changes []Change
	Devices int
}

// PreviewItems is the dry run of making items the next version of
// baseline id: for each tenant the new version would reach (its first
// ring, or every tenant it is for), what changes and how many devices
// that touches. Nothing is changed.
func (s *Service) PreviewItems(ctx context.Context, msp, id uuid.UUID, items []Item) ([]Preview, error) {
	if err := s.checkItems(items); err != nil {
		return nil, err
	}
	bs, err := s.Baselines(ctx, msp)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(bs, func(b Baseline) bool { return b.ID == id })
	if i < 0 {
		return nil, ErrNoBaseline
	}
	b := bs[i]
	changes := diff(b.Items, items)
	tenants, err := s.dir.ListTenants(ctx, msp)
	if err != nil {
		return nil, err
	}
	out := []Preview{}
	for _, t := range tenants {
		tags, err := s.Tags(ctx, t)
		if err != nil {
			return nil, err
		}
		// A new version reaches the first ring only (every tenant of the
		// baseline when it has no rings).
		if !assigned(b, t, tags) || (len(b.Rings) > 0 && ringOf(b, t, tags) != 0) {
			continue
		}
		p, err := s.preview(ctx, t, b, changes, items)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// preview counts, in t, the devices of the platforms changes are for,
// leaving out the items t turned off.
func (s *Service) preview(ctx context.Context, t tenancy.Tenant, b Baseline, changes []Change, items []Item) (Preview, error) {
	p := Preview{Tenant: t, Changes: []Change{}}
	ovs, err := s.overrides(ctx, t)
	if err != nil {
		return p, err
	}
	platforms := map[inventory.Platform]bool{}
	for _, c := range changes {
		if slices.ContainsFunc(ovs, func(o Override) bool { return o.Baseline == b.ID && o.Item == c.Item && o.Disabled }) {
			continue
		}
		p.Changes = append(p.Changes, c)
		it := findItem(items, b.Items, c.Item)
		platforms[it.platform()] = true
	}
	tctx := tenancy.WithTenant(ctx, t.ID)
	if platforms[""] { // a rule for every device
		platforms = map[inventory.Platform]bool{"": true}
	}
	for pl := range platforms {
		n, err := s.inv.Count(tctx, inventory.Query{Platform: pl, Status: inventory.Enrolled})
		if err != nil {
			return p, err
		}
		p.Devices += n
	}
	return p, nil
}

// diff is how items changes old, item by item, in the new items' order
// (removed ones last).
func diff(old, items []Item) []Change {
	var out []Change
	for _, it := range items {
		j := slices.IndexFunc(old, func(o Item) bool { return o.Key == it.Key })
		switch {
		case j < 0:
			out = append(out, Change{Item: it.Key, Kind: it.Kind(), Change: "added"})
		case !sameItem(old[j], it):
			out = append(out, Change{Item: it.Key, Kind: it.Kind(), Change: "changed"})
		}
	}
	for _, o := range old {
		if !slices.ContainsFunc(items, func(it Item) bool { return it.Key == o.Key }) {
			out = append(out, Change{Item: o.Key, Kind: o.Kind(), Change: "removed"})
		}
	}
	return out
}

func sameItem(a, b Item) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// findItem is the item of key, from the new items or else the old.
func findItem(items, old []Item, key string) Item {
	for _, list := range [][]Item{items, old} {
		if i := slices.IndexFunc(list, func(it Item) bool { return it.Key == key }); i >= 0 {
			return list[i]
		}
	}
	return Item{}
}
