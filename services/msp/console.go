// Package msp is the MSP layer over an MSP's tenants (issue 25): the
// console's figures and needs-attention queue across them.
//
// The console never reads a tenant's tables across tenants. Each tenant's
// rollup (its counts and what needs attention in it) is computed in that
// tenant's own transaction, through its own services, by a job (the
// tenant loop, Refresh), and kept in tenant_rollups; the console reads an
// MSP's rollups in one query under tenancy.DB.MSPReadTx, whose policy
// shows only the rollups of that MSP's tenants. Its answer therefore
// costs one query however many devices the tenants hold, and is as fresh
// as the last refresh (RefreshStale runs every few seconds and refreshes
// a tenant when it has new events, or when its rollup is old: expiries
// and silence come with time, not events).
package msp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Counts are a fleet's figures: one tenant's, or an MSP's totals.
type Counts struct {
	Devices    int                        `json:"devices"`
	ByPlatform map[inventory.Platform]int `json:"by_platform"`
	ByStatus   map[inventory.Status]int   `json:"by_status"`
	// LastSeen counts enrolled devices by last contact, in the buckets of
	// inventory.LastSeenBuckets.
	LastSeen   [6]int `json:"last_seen"`
	Compliant  int    `json:"compliant"`
	Failing    int    `json:"failing"`
	Unassessed int    `json:"unevaluated"`
}

func (c *Counts) add(o Counts) {
	if c.ByPlatform == nil {
		c.ByPlatform, c.ByStatus = map[inventory.Platform]int{}, map[inventory.Status]int{}
	}
	c.Devices += o.Devices
	for k, v := range o.ByPlatform {
		c.ByPlatform[k] += v
	}
	for k, v := range o.ByStatus {
		c.ByStatus[k] += v
	}
	for i, v := range o.LastSeen {
		c.LastSeen[i] += v
	}
	c.Compliant, c.Failing, c.Unassessed = c.Compliant+o.Compliant, c.Failing+o.Failing, c.Unassessed+o.Unassessed
}

// Rollup is one tenant's part of its MSP's console.
type Rollup struct {
	Counts
	Attention []attention.Item `json:"attention"`
	// Unread names the parts that could not be read at the last refresh
	// (their items are missing until the next).
	Unread string `json:"unread,omitempty"`
}

// Service computes and reads rollups.
type Service struct {
	db     *tenancy.DB
	dir    *tenancy.Directory
	inv    *inventory.Inventory
	comp   *compliance.Compliance // nil: no compliance figures
	events *events.Store
	finder *attention.Finder
	cmds   *commands.Queue  // nil: no baseline items that are commands
	droid  *android.Service // nil: no baseline items that are Android policy fragments
	now    func() time.Time
}

// WithAndroid lets baselines hold fragments of Android policies, laid
// over each tenant's policies through droid.
func (s *Service) WithAndroid(droid *android.Service) *Service {
	s.droid = droid
	return s
}

// WithCommands lets baselines hold items that are commands to every
// device (Apple profiles, Windows settings), sent through q.
func (s *Service) WithCommands(q *commands.Queue) *Service {
	s.cmds = q
	return s
}

// New returns the service. comp may be nil.
func New(db *tenancy.DB, dir *tenancy.Directory, inv *inventory.Inventory, comp *compliance.Compliance, evs *events.Store,
	finder *attention.Finder) *Service {
	return &Service{db: db, dir: dir, inv: inv, comp: comp, events: evs, finder: finder, now: time.Now}
}

// MaxAge is how old a rollup may grow without new events before
// RefreshStale computes it again (for what time alone changes).
const MaxAge = 10 * time.Minute

// Refresh computes t's rollup in t's transaction and keeps it, with the
// last event it has seen. It is idempotent: a second run writes the same
// row again.
func (s *Service) Refresh(ctx context.Context, t tenancy.Tenant) error {
	ctx = tenancy.WithTenant(ctx, t.ID)
	// The event position first: an event after it is newer than the
	// rollup, and the next sweep refreshes again.
	last, err := s.events.LastID(ctx)
	if err != nil {
		return err
	}
	var r Rollup
	err = s.db.ReadWithin(ctx, func(ctx context.Context) error {
		sum, err := s.inv.Summarize(ctx)
		if err != nil {
			return err
		}
		r.Counts = Counts{Devices: sum.Total, ByPlatform: sum.ByPlatform, ByStatus: sum.ByStatus, LastSeen: sum.LastSeen}
		if s.comp != nil {
			st, err := s.comp.Summarize(ctx)
			if err != nil {
				return err
			}
			r.Compliant, r.Failing, r.Unassessed = st.Compliant, st.NonCompliant, st.Unevaluated
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("msp: count tenant %s: %w", t.Slug, err)
	}
	if s.finder != nil {
		items, err := s.finder.Tenant(ctx, t)
		if err != nil {
			r.Unread = err.Error() // the other rules' items still count
		}
		r.Attention = items
	}
	own := []func(context.Context, tenancy.Tenant) (*attention.Item, error){s.operationsItem}
	if s.comp != nil {
		own = append(own, s.driftItem)
	}
	for _, find := range own { // the MSP's own rules, on what it owns
		item, err := find(ctx, t)
		if err != nil {
			r.Unread = strings.TrimPrefix(r.Unread+"; "+err.Error(), "; ")
		} else if item != nil {
			r.Attention = append(r.Attention, *item)
		}
	}
	attention.Sort(r.Attention)
	if r.Attention == nil {
		r.Attention = []attention.Item{}
	}
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenant_rollups (tenant_id, msp_id, last_event_id, computed_at, rollup)
VALUES (current_tenant(), $1, $2, now(), $3)
ON CONFLICT (tenant_id) DO UPDATE SET last_event_id = EXCLUDED.last_event_id, computed_at = EXCLUDED.computed_at, rollup = EXCLUDED.rollup`,
			t.MSPID, last, body)
		return err
	})
}

// Stale reports whether t's rollup is missing, behind its events, or
// older than MaxAge.
func (s *Service) Stale(ctx context.Context, t tenancy.Tenant) (bool, error) {
	ctx = tenancy.WithTenant(ctx, t.ID)
	last, err := s.events.LastID(ctx)
	if err != nil {
		return false, err
	}
	var seen int64
	var at time.Time
	err = s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT last_event_id, computed_at FROM tenant_rollups`).Scan(&seen, &at)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	return err == nil && (last > seen || s.now().Sub(at) > MaxAge), err
}

// TenantRollup is a tenant's rollup as the console shows it.
type TenantRollup struct {
	Tenant     tenancy.Tenant `json:"-"`
	ComputedAt time.Time      `json:"computed_at"`
	Tags       []string       `json:"tags"`
	Rollup
}

// Attention is one needs-attention item with the tenant it is in.
type Attention struct {
	Tenant tenancy.Tenant `json:"-"`
	attention.Item
}

// Console is an MSP's console.
type Console struct {
	Totals Counts
	// Tenants are the MSP's tenants with their rollups, by slug.
	Tenants []TenantRollup
	// Pending are the MSP's tenants with no rollup yet (just made).
	Pending []tenancy.Tenant
	// Attention is every tenant's items, the most urgent first.
	Attention []Attention
	// Tags are every tag of the MSP's tenants (what the console can be
	// narrowed to), sorted.
	Tags []string
}

// Console reads msp's console: every rollup of its tenants in one query
// (MSPReadTx), totalled, and their items ranked across tenants; with a
// tag, of the tenants that have it only.
func (s *Service) Console(ctx context.Context, msp uuid.UUID, tag string) (Console, error) {
	tenants, err := s.dir.ListTenants(ctx, msp)
	if err != nil {
		return Console{}, err
	}
	rollups := map[uuid.UUID]TenantRollup{}
	var tags map[uuid.UUID][]string
	err = s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		var err error
		if tags, err = mspTags(ctx, tx); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT tenant_id, computed_at, rollup FROM tenant_rollups`)
		var id uuid.UUID
		var tr TenantRollup
		var body []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &tr.ComputedAt, &body}, func() error {
			var r Rollup
			if err := json.Unmarshal(body, &r); err != nil {
				return fmt.Errorf("msp: tenant %s's rollup: %w", id, err)
			}
			rollups[id] = TenantRollup{ComputedAt: tr.ComputedAt, Rollup: r}
			return nil
		})
		return err
	})
	if err != nil {
		return Console{}, err
	}
	c := Console{Totals: Counts{ByPlatform: map[inventory.Platform]int{}, ByStatus: map[inventory.Status]int{}}, Tenants: []TenantRollup{}, Attention: []Attention{}}
	for _, t := range tenants {
		for _, g := range tags[t.ID] {
			if !slices.Contains(c.Tags, g) {
				c.Tags = append(c.Tags, g)
			}
		}
		if tag != "" && !slices.Contains(tags[t.ID], tag) {
			continue
		}
		r, ok := rollups[t.ID]
		if !ok {
			c.Pending = append(c.Pending, t)
			continue
		}
		r.Tenant, r.Tags = t, tags[t.ID]
		c.Tenants = append(c.Tenants, r)
		c.Totals.add(r.Counts)
		for _, it := range r.Attention {
			c.Attention = append(c.Attention, Attention{Tenant: t, Item: it})
		}
	}
	slices.SortStableFunc(c.Attention, func(a, b Attention) int { return attention.Compare(a.Item, b.Item) })
	slices.Sort(c.Tags)
	return c, nil
}

// RefreshArgs is the job that refreshes one tenant's rollup.
type RefreshArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (RefreshArgs) Kind() string { return "msp.refresh_rollup" }
