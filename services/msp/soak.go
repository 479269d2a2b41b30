package msp

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/tenancy"
)

// AutoPromote passes the version of each ring of msp's baselines that
// has soaked (had its version SoakHours by now) with no failed
// application on to the next ring, at most one ring a baseline a call
// (the ring promoted soaks from now). It answers what it promoted, as
// "baseline: ring". The baseline sweep calls it, before it applies.
func (s *Service) AutoPromote(ctx context.Context, msp uuid.UUID, now time.Time) ([]string, error) {
	bs, err := s.Baselines(ctx, msp)
	if err != nil {
		return nil, err
	}
	var tenants []tenancy.Tenant // read once, if a ring has soaked
	var out []string
	for _, b := range bs {
		for i, r := range b.Rings {
			next, name := b.Released, Everyone
			if i+1 < len(b.Rings) {
				next, name = b.Rings[i+1].Version, b.Rings[i+1].Name
			}
			if r.SoakHours == 0 || next >= r.Version || now.Sub(r.Since) < time.Duration(r.SoakHours)*time.Hour {
				continue
			}
			if tenants == nil {
				if tenants, err = s.dir.ListTenants(ctx, msp); err != nil {
					return out, err
				}
			}
			failed, err := s.ringFailed(ctx, b, i, tenants)
			if err != nil {
				return out, err
			}
			if failed != "" {
				continue // held: a person looks at the tenant first
			}
			if _, err := s.Promote(ctx, msp, b.ID, name); err != nil {
				return out, fmt.Errorf("msp: promote %q to %s: %w", b.Name, name, err)
			}
			out = append(out, b.Name+": "+name)
			break
		}
	}
	return out, nil
}

// ringFailed names a tenant of b's ring i whose application of the
// ring's version failed (an item missing, or refused by devices), or is
// "" when none did.
// Suspended tenants, which are not applied, do not count.
func (s *Service) ringFailed(ctx context.Context, b Baseline, i int, tenants []tenancy.Tenant) (string, error) {
	group, ofDevices := groupOf(b.Rings[i])
	for _, t := range tenants {
		if t.Writable() != nil {
			continue
		}
		tags, err := s.Tags(ctx, t)
		if err != nil {
			return "", err
		}
		// A ring of device groups is in every tenant of the baseline.
		if !assigned(b, t, tags) || (!ofDevices && ringOf(b, t, tags) != i) {
			continue
		}
		ds, err := s.DriftOf(ctx, t)
		if err != nil {
			return "", err
		}
		for _, d := range ds {
			if d.Baseline == b.ID && d.Group == group && (d.State == Missing || d.State == Failed) {
				return t.Slug, nil
			}
		}
	}
	return "", nil
}

// ringOf is the index of the ring of b tenant t is in (its first that
// names it), or len(b.Rings) for everyone.
func ringOf(b Baseline, t tenancy.Tenant, tags []string) int {
	for i, r := range b.Rings {
		if assigned(Baseline{AssignedTo: r.Targets}, t, tags) {
			return i
		}
	}
	return len(b.Rings)
}
