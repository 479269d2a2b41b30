package msp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/tenancy"
)

// A ring of device groups ("group:<name>") is, in every tenant of the
// baseline, the devices of the tenant's group of that name: they get the
// ring's version of the baseline's profiles and settings before the rest
// of the tenant (rules and Android policy settings, which are the
// tenant's as a whole, follow the tenant's own ring).

// groupOf is the device group a ring is made of, if it is a ring of
// devices.
func groupOf(r Ring) (string, bool) {
	if len(r.Targets) != 1 {
		return "", false
	}
	if name, ok := strings.CutPrefix(r.Targets[0], "group:"); ok {
		return name, true
	}
	return "", false
}

// checkGroupRing refuses a ring that mixes a device group with tenants,
// or names no group.
func checkGroupRing(i int, r Ring) error {
	groups := 0
	for _, t := range r.Targets {
		if name, ok := strings.CutPrefix(t, "group:"); ok {
			if n := len(strings.TrimSpace(name)); n == 0 || len(name) > 200 {
				return fault.InvalidField(fmt.Sprintf("rings[%d].targets", i), "group:<a device group's name, 1 to 200 characters>")
			}
			groups++
		}
	}
	if groups > 0 && len(r.Targets) > 1 {
		return fault.InvalidField(fmt.Sprintf("rings[%d].targets", i), "a ring is either tenants (tenant:, tag:) or one device group (group:<name>), not both")
	}
	return nil
}

// groupEntries are b's profiles and settings as its rings of device
// groups have them in t, where their version is not the tenant's own
// (v), each for its group's devices (less those of a group ring before
// it); except are those groups, whose devices the tenant's own entries
// leave out.
func (s *Service) groupEntries(ctx context.Context, t tenancy.Tenant, b Baseline, v int, ovs []Override) (entries []Effective, except []string, err error) {
	for _, r := range b.Rings {
		g, ok := groupOf(r)
		if !ok || r.Version == v {
			continue
		}
		items, err := s.versionItems(ctx, t.MSPID, b, r.Version)
		if err != nil {
			return nil, nil, err
		}
		rb := b
		rb.Version = r.Version
		for _, it := range items {
			if it.Deployed() {
				e := effective(rb, it, ovs)
				e.Group, e.Except = g, slices.Clone(except)
				entries = append(entries, e)
			}
		}
		except = append(except, g)
	}
	return entries, except, nil
}

// groupIDs are the tenant's device groups by name.
func (s *Service) groupIDs(ctx context.Context, t tenancy.Tenant) (map[string]uuid.UUID, error) {
	gs, err := s.inv.Groups(tenancy.WithTenant(ctx, t.ID))
	if err != nil {
		return nil, err
	}
	out := make(map[string]uuid.UUID, len(gs))
	for _, g := range gs {
		out[g.Name] = g.ID
	}
	return out, nil
}

// deployment is e's deployment in a tenant with groups; ok is false for
// the entry of a group ring whose group the tenant does not have.
func (e Effective) deployment(groups map[string]uuid.UUID) (d commands.Deployment, ok bool) {
	d = e.Item.deployment(e.Baseline.ID, e.Item.Key)
	if e.Group != "" {
		if d.Group, ok = groups[e.Group]; !ok {
			return d, false
		}
	}
	for _, g := range e.Except {
		if id, ok := groups[g]; ok {
			d.Except = append(d.Except, id)
		}
	}
	return d, true
}
