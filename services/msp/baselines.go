package msp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Baseline is an MSP's versioned set of items and the tenants it is
// assigned to.
type Baseline struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	Version    int       `json:"version"`     // the latest
	Items      []Item    `json:"items"`       // the latest version's
	AssignedTo []string  `json:"assigned_to"` // "all", "tenant:<slug>", "tag:<tag>"
	// Rings are the tenants a new version reaches first, in order, each
	// at the version it has been promoted to; Released is the version
	// the baseline's other tenants have.
	Rings     []Ring    `json:"rings"`
	Released  int       `json:"released"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxItems bounds a baseline's items.
const MaxItems = 200

var reItemKey = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// checkItems refuses items that are not: a key that is not one or is
// repeated, a rule that is not a rule, a profile that is not one,
// settings a Windows device would refuse (naming the item and the field).
// It fills in what a profile says of itself.
func (s *Service) checkItems(items []Item) error {
	check := func(inventory.Platform, string, map[string]any) error {
		return errors.New("this server has no command queue to send profiles and settings with")
	}
	if s.cmds != nil {
		check = s.cmds.Check
	}
	if len(items) > MaxItems {
		return fault.InvalidField("items", fmt.Sprintf("at most %d items", MaxItems))
	}
	seen := map[string]bool{}
	var errs []error
	for i, it := range items {
		switch {
		case !reItemKey.MatchString(it.Key):
			errs = append(errs, fault.InvalidField(fmt.Sprintf("items[%d].key", i), "lower-case letters, digits and . _ -, a letter or digit first, at most 63"))
		case seen[it.Key]:
			errs = append(errs, fault.InvalidField(fmt.Sprintf("items[%d].key", i), fmt.Sprintf("%q is there twice", it.Key)))
		}
		seen[it.Key] = true
		if err := items[i].check(fmt.Sprintf("items[%d]", i), check); err != nil {
			errs = append(errs, err)
		} else if it.AndroidPolicy != nil && s.droid == nil {
			errs = append(errs, fault.InvalidField(fmt.Sprintf("items[%d].android_policy", i), "this server does not manage Android devices"))
		}
	}
	return fault.Join(errs...)
}

// checkTargets refuses assignment targets that are not "all",
// "tenant:<a tenant of msp>" or "tag:<tag>".
func (s *Service) checkTargets(ctx context.Context, msp uuid.UUID, targets []string) error {
	tenants, err := s.dir.ListTenants(ctx, msp)
	if err != nil {
		return err
	}
	for _, t := range targets {
		kind, value, _ := strings.Cut(t, ":")
		switch {
		case t == "all":
		case kind == "tenant" && slices.ContainsFunc(tenants, func(x tenancy.Tenant) bool { return x.Slug == value }):
		case kind == "tag" && reTag.MatchString(value):
		default:
			return fault.InvalidField("assigned_to", fmt.Sprintf("%q is not all, tenant:<a tenant of the MSP> or tag:<tag>", t))
		}
	}
	return nil
}

// ErrNoBaseline is a baseline id the MSP does not have.
var ErrNoBaseline = fault.New(fault.NotFound, "no such baseline in the MSP")

// Ring is one ring of a baseline's rollout.
type Ring struct {
	Name    string   `json:"name"`
	Targets []string `json:"targets"` // tenant:<slug>, tag:<tag>
	Version int      `json:"version"`
	// SoakHours, when set, passes the ring's version on to the next ring
	// by itself once the ring has had it this long with no failed
	// application (AutoPromote); 0 leaves that to a person.
	SoakHours int `json:"soak_hours,omitempty"`
	// Since is when the ring got its version.
	Since time.Time `json:"since"`
}

// MaxSoakHours bounds a ring's soak time (90 days).
const MaxSoakHours = 90 * 24

const baselineCols = `id, name, version, items, assigned_to, rings, released, created_by, created_at, updated_at`

func scanBaseline(r pgx.Row) (Baseline, error) {
	var b Baseline
	var items, rings []byte
	if err := r.Scan(&b.ID, &b.Name, &b.Version, &items, &b.AssignedTo, &rings, &b.Released, &b.CreatedBy, &b.CreatedAt, &b.UpdatedAt); err != nil {
		return Baseline{}, err
	}
	if err := json.Unmarshal(items, &b.Items); err != nil {
		return Baseline{}, fmt.Errorf("msp: baseline %s's items: %w", b.ID, err)
	}
	if err := json.Unmarshal(rings, &b.Rings); err != nil {
		return Baseline{}, fmt.Errorf("msp: baseline %s's rings: %w", b.ID, err)
	}
	return b, nil
}

// CreateBaseline makes msp's baseline name with items, as version 1,
// assigned to nobody yet.
func (s *Service) CreateBaseline(ctx context.Context, msp uuid.UUID, name string, items []Item, by string) (Baseline, error) {
	if n := len(strings.TrimSpace(name)); n == 0 || len(name) > 200 {
		return Baseline{}, fault.InvalidField("name", "must be 1 to 200 characters")
	}
	if err := s.checkItems(items); err != nil {
		return Baseline{}, err
	}
	body, _ := json.Marshal(items)
	var b Baseline
	err := s.db.MSPTx(ctx, msp, func(tx pgx.Tx) (err error) {
		b, err = scanBaseline(tx.QueryRow(ctx, `INSERT INTO baselines (msp_id, id, name, items, created_by) VALUES ($1, $2, $3, $4, $5)
RETURNING `+baselineCols, msp, uuid.New(), name, body, by))
		if isUnique(err) {
			return fault.New(fault.Conflict, "the MSP has a baseline named %q", name)
		} else if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO baseline_versions (msp_id, baseline_id, version, items, created_by) VALUES ($1, $2, 1, $3, $4)`, msp, b.ID, body, by)
		return err
	})
	return b, err
}

// SetItems makes items the baseline's next version.
func (s *Service) SetItems(ctx context.Context, msp, id uuid.UUID, items []Item, by string) (Baseline, error) {
	if err := s.checkItems(items); err != nil {
		return Baseline{}, err
	}
	body, _ := json.Marshal(items)
	var b Baseline
	err := s.db.MSPTx(ctx, msp, func(tx pgx.Tx) (err error) {
		if b, err = s.baselineTx(ctx, tx, id); err != nil {
			return err
		}
		// The new version reaches the first ring only; with no rings, every
		// tenant of the baseline.
		b.Version++
		if len(b.Rings) == 0 {
			b.Released = b.Version
		} else {
			b.Rings[0].Version, b.Rings[0].Since = b.Version, time.Now()
		}
		rings, _ := json.Marshal(b.Rings)
		b, err = scanBaseline(tx.QueryRow(ctx, `UPDATE baselines SET items = $2, version = $3, rings = $4, released = $5, updated_at = now()
WHERE id = $1 RETURNING `+baselineCols, id, body, b.Version, rings, b.Released))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO baseline_versions (msp_id, baseline_id, version, items, created_by) VALUES ($1, $2, $3, $4, $5)`,
			msp, b.ID, b.Version, body, by)
		return err
	})
	return b, err
}

// Assign sets whom the baseline is for: "all", "tenant:<slug>",
// "tag:<tag>" (any of them).
func (s *Service) Assign(ctx context.Context, msp, id uuid.UUID, targets []string) (Baseline, error) {
	if err := s.checkTargets(ctx, msp, targets); err != nil {
		return Baseline{}, err
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	var b Baseline
	err := s.db.MSPTx(ctx, msp, func(tx pgx.Tx) (err error) {
		b, err = scanBaseline(tx.QueryRow(ctx, `UPDATE baselines SET assigned_to = $2, updated_at = now() WHERE id = $1 RETURNING `+baselineCols,
			id, append([]string{}, targets...)))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoBaseline
		}
		return err
	})
	return b, err
}

// SetRings sets the baseline's rings (names unique, targets tenant:<slug>
// or tag:<tag>), each starting at the released version.
func (s *Service) SetRings(ctx context.Context, msp, id uuid.UUID, rings []Ring) (Baseline, error) {
	seen := map[string]bool{}
	for i, r := range rings {
		if n := len(strings.TrimSpace(r.Name)); n == 0 || len(r.Name) > 100 || seen[r.Name] || r.Name == Everyone {
			return Baseline{}, fault.InvalidField(fmt.Sprintf("rings[%d].name", i), "a name of 1 to 100 characters, each ring's its own, not "+Everyone)
		}
		seen[r.Name] = true
		for _, t := range r.Targets {
			if t == "all" {
				return Baseline{}, fault.InvalidField(fmt.Sprintf("rings[%d].targets", i), "a ring is some tenants (tenant:<slug>, tag:<tag>) or a device group (group:<name>)")
			}
		}
		if len(r.Targets) == 0 {
			return Baseline{}, fault.InvalidField(fmt.Sprintf("rings[%d].targets", i), "name its tenants (tenant:<slug>, tag:<tag>) or a device group (group:<name>)")
		}
		if r.SoakHours < 0 || r.SoakHours > MaxSoakHours {
			return Baseline{}, fault.InvalidField(fmt.Sprintf("rings[%d].soak_hours", i), fmt.Sprintf("0 (promoted by a person) to %d hours", MaxSoakHours))
		}
		if err := checkGroupRing(i, r); err != nil {
			return Baseline{}, err
		}
		if _, ok := groupOf(r); ok {
			continue
		}
		if err := s.checkTargets(ctx, msp, r.Targets); err != nil {
			return Baseline{}, err
		}
	}
	var b Baseline
	err := s.db.MSPTx(ctx, msp, func(tx pgx.Tx) (err error) {
		if b, err = s.baselineTx(ctx, tx, id); err != nil {
			return err
		}
		for i := range rings {
			rings[i].Version, rings[i].Since = b.Released, time.Now()
		}
		body, _ := json.Marshal(rings)
		b, err = scanBaseline(tx.QueryRow(ctx, `UPDATE baselines SET rings = $2, updated_at = now() WHERE id = $1 RETURNING `+baselineCols, id, body))
		return err
	})
	return b, err
}

// Everyone names the last ring: the baseline's tenants in no ring.
const Everyone = "everyone"

// Promote gives ring (a ring's name, or Everyone) the version of the
// ring before it (the first ring: the latest version).
func (s *Service) Promote(ctx context.Context, msp, id uuid.UUID, ring string) (Baseline, error) {
	return s.moveRing(ctx, msp, id, ring, func(b Baseline, i int) (int, error) {
		switch {
		case i == 0:
			return b.Version, nil
		case i <= len(b.Rings):
			return b.Rings[i-1].Version, nil
		}
		return 0, nil
	})
}

// Rollback puts ring (a ring's name, or Everyone) back on the version
// before the one it has.
func (s *Service) Rollback(ctx context.Context, msp, id uuid.UUID, ring string) (Baseline, error) {
	return s.moveRing(ctx, msp, id, ring, func(b Baseline, i int) (int, error) {
		cur := b.Released
		if i < len(b.Rings) {
			cur = b.Rings[i].Version
		}
		if cur <= 1 {
			return 0, fault.New(fault.Conflict, "the ring has version 1: there is none before it")
		}
		return cur - 1, nil
	})
}

func (s *Service) moveRing(ctx context.Context, msp, id uuid.UUID, ring string, to func(Baseline, int) (int, error)) (Baseline, error) {
	var b Baseline
	err := s.db.MSPTx(ctx, msp, func(tx pgx.Tx) (err error) {
		if b, err = s.baselineTx(ctx, tx, id); err != nil {
			return err
		}
		i := slices.IndexFunc(b.Rings, func(r Ring) bool { return r.Name == ring })
		if ring == Everyone {
			i = len(b.Rings)
		} else if i < 0 {
			return fault.InvalidField("ring", fmt.Sprintf("the baseline has no ring %q", ring))
		}
		v, err := to(b, i)
		if err != nil {
			return err
		}
		if i < len(b.Rings) {
			b.Rings[i].Version, b.Rings[i].Since = v, time.Now()
		} else {
			b.Released = v
		}
		body, _ := json.Marshal(b.Rings)
		b, err = scanBaseline(tx.QueryRow(ctx, `UPDATE baselines SET rings = $2, released = $3, updated_at = now() WHERE id = $1 RETURNING `+baselineCols,
			id, body, b.Released))
		return err
	})
	return b, err
}

func (s *Service) baselineTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Baseline, error) {
	b, err := scanBaseline(tx.QueryRow(ctx, `SELECT `+baselineCols+` FROM baselines WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Baseline{}, ErrNoBaseline
	}
	return b, err
}

// versionItems are the baseline's items at version v.
func (s *Service) versionItems(ctx context.Context, msp uuid.UUID, b Baseline, v int) ([]Item, error) {
	if v == b.Version {
		return b.Items, nil
	}
	var items []Item
	err := s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		var body []byte
		if err := tx.QueryRow(ctx, `SELECT items FROM baseline_versions WHERE baseline_id = $1 AND version = $2`, b.ID, v).Scan(&body); err != nil {
			return fmt.Errorf("msp: baseline %s version %d: %w", b.ID, v, err)
		}
		return json.Unmarshal(body, &items)
	})
	return items, err
}

// versionFor is the version of b tenant t has: its ring's, or the
// released one.
func versionFor(b Baseline, t tenancy.Tenant, tags []string) int {
	if i := ringOf(b, t, tags); i < len(b.Rings) {
		return b.Rings[i].Version
	}
	return b.Released
}

// Baselines are msp's baselines, by name.
func (s *Service) Baselines(ctx context.Context, msp uuid.UUID) ([]Baseline, error) {
	var out []Baseline
	err := s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+baselineCols+` FROM baselines ORDER BY name`)
		var err error
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Baseline, error) { return scanBaseline(r) })
		return err
	})
	return out, err
}

// Override is a tenant's change to one item of a baseline, with why.
type Override struct {
	Baseline uuid.UUID          `json:"baseline_id"`
	Item     string             `json:"item"`
	Disabled bool               `json:"disabled"`
	Params   *compliance.Params `json:"params,omitempty"` // a rule's, changed
	// Android are an Android policy fragment's settings, changed (those
	// named replace the item's).
	Android *android.Fragment `json:"android_policy,omitempty"`
	// Settings are Windows settings' values, changed, by node URI.
	Settings map[string]string `json:"settings,omitempty"`
	Reason   string            `json:"reason"`
	By       string            `json:"created_by"`
}

// SetOverride records t's override of a baseline item, in t's
// transaction (the edge's audited one ctx is within): the baseline must
// be one of t's MSP's and have the item; the changed params must make a
// rule.
func (s *Service) SetOverride(ctx context.Context, t tenancy.Tenant, o Override) error {
	if n := len(strings.TrimSpace(o.Reason)); n == 0 || len(o.Reason) > 500 {
		return fault.InvalidField("reason", "say why, in 1 to 500 characters")
	}
	bs, err := s.Baselines(ctx, t.MSPID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(bs, func(b Baseline) bool { return b.ID == o.Baseline })
	if i < 0 {
		return ErrNoBaseline
	}
	j := slices.IndexFunc(bs[i].Items, func(it Item) bool { return it.Key == o.Item })
	if j < 0 {
		return fault.InvalidField("item", fmt.Sprintf("the baseline %q has no item %q", bs[i].Name, o.Item))
	}
	params, err := s.checkValues(bs[i].Items[j], o)
	if err != nil {
		return err
	}
	return s.db.Tx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO baseline_overrides (tenant_id, msp_id, baseline_id, item, disabled, params, reason, created_by)
VALUES (current_tenant(), $1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant_id, baseline_id, item) DO UPDATE SET disabled = EXCLUDED.disabled, params = EXCLUDED.params,
    reason = EXCLUDED.reason, created_by = EXCLUDED.created_by, created_at = now()`, t.MSPID, o.Baseline, o.Item, o.Disabled, params, o.Reason, o.By)
		return err
	})
}

// overrides are t's overrides, in the transaction ctx is in (or one).
func (s *Service) overrides(ctx context.Context, t tenancy.Tenant) ([]Override, error) {
	return tenancy.Read(tenancy.WithTenant(ctx, t.ID), s.db, func(tx pgx.Tx) ([]Override, error) {
		rows, _ := tx.Query(ctx, `SELECT baseline_id, item, disabled, params, reason, created_by FROM baseline_overrides`)
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Override, error) {
			var o Override
			var params []byte
			if err := r.Scan(&o.Baseline, &o.Item, &o.Disabled, &params, &o.Reason, &o.By); err != nil {
				return o, err
			}
			o.readValues(params)
			return o, nil
		})
	})
}

// Effective is one item as it applies to a tenant.
type Effective struct {
	Baseline Baseline
	Item     Item      // with the override's params, if any
	Override *Override // the tenant's override, if any
	// Group is, for a ring of device groups, the group whose devices the
	// entry is for; Except are groups whose devices it leaves out (they
	// are a group ring's).
	Group  string
	Except []string
}

// effective is item it of b as a tenant with overrides ovs has it.
func effective(b Baseline, it Item, ovs []Override) Effective {
	e := Effective{Baseline: b, Item: it}
	if i := slices.IndexFunc(ovs, func(o Override) bool { return o.Baseline == b.ID && o.Item == it.Key }); i >= 0 {
		e.Override = &ovs[i]
		e.Item = it.withValues(ovs[i])
	}
	return e
}

// assigned reports whether b is for t (with its tags).
func assigned(b Baseline, t tenancy.Tenant, tags []string) bool {
	for _, a := range b.AssignedTo {
		kind, value, _ := strings.Cut(a, ":")
		if a == "all" || (kind == "tenant" && value == t.Slug) || (kind == "tag" && slices.Contains(tags, value)) {
			return true
		}
	}
	return false
}

// EffectiveFor is t's effective configuration: every item of every
// baseline assigned to it, with its overrides (a disabled item included,
// marked by its override).
func (s *Service) EffectiveFor(ctx context.Context, t tenancy.Tenant) ([]Effective, error) {
	bs, err := s.Baselines(ctx, t.MSPID)
	if err != nil {
		return nil, err
	}
	tags, err := s.Tags(ctx, t)
	if err != nil {
		return nil, err
	}
	ovs, err := s.overrides(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []Effective
	for _, b := range bs {
		if !assigned(b, t, tags) {
			continue
		}
		v := versionFor(b, t, tags)
		items, err := s.versionItems(ctx, t.MSPID, b, v)
		if err != nil {
			return nil, err
		}
		groups, except, err := s.groupEntries(ctx, t, b, v, ovs)
		if err != nil {
			return nil, err
		}
		b.Version = v // as this tenant has it
		for _, it := range items {
			e := effective(b, it, ovs)
			if it.Deployed() {
				e.Except = except
			}
			out = append(out, e)
		}
		out = append(out, groups...)
	}
	return out, nil
}

// Apply makes t's baselines its effective configuration, in one of t's
// transactions: each rule item's rule created or changed to what it says
// (a disabled one removed), rules of items no longer effective removed;
// each profile or settings item queued for the devices that lack it;
// each Android policy fragment laid over t's policies. It is idempotent:
// applying again changes nothing; a run cut short changed nothing (one
// transaction), and the next one applies it whole. A suspended tenant is
// left as it is. It answers how many things it changed.
func (s *Service) Apply(ctx context.Context, t tenancy.Tenant) (changed int, err error) {
	changed, _, err = s.ApplyMore(ctx, t)
	return changed, err
}

// ApplyMore is Apply, and says whether items that are commands have
// devices left to queue them for (DeployBatch at a time): apply again.
func (s *Service) ApplyMore(ctx context.Context, t tenancy.Tenant) (changed int, more bool, err error) {
	if s.comp == nil {
		return 0, false, errors.New("msp: no compliance service to apply baselines with")
	}
	if t.Writable() != nil {
		return 0, false, nil // suspended: applied when it is resumed (Reaction)
	}
	eff, err := s.EffectiveFor(ctx, t)
	if err != nil {
		return 0, false, err
	}
	var groups map[string]uuid.UUID // the device groups rings name, for profiles and settings only
	if slices.ContainsFunc(eff, func(e Effective) bool { return e.Item.Deployed() }) {
		if groups, err = s.groupIDs(ctx, t); err != nil {
			return 0, false, err
		}
	}
	err = s.db.Tx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error {
		tctx := tenancy.WithTenant(ctx, t.ID)
		var keep []compliance.Mark
		for _, e := range eff {
			if e.Override != nil && e.Override.Disabled {
				continue
			}
			if e.Item.Deployed() {
				r, left, err := s.deployTx(tctx, tx, e, groups, true)
				if err != nil {
					return fmt.Errorf("baseline %q item %q: %w", e.Baseline.Name, e.Item.Key, err)
				}
				changed, more = changed+r.Queued, more || left
				continue
			}
			if e.Item.AndroidPolicy != nil {
				n, err := s.mergeTx(tctx, tx, e)
				if err != nil {
					return fmt.Errorf("baseline %q item %q: %w", e.Baseline.Name, e.Item.Key, err)
				}
				changed += n
				continue
			}
			m := compliance.Mark{Baseline: e.Baseline.ID, Item: e.Item.Key}
			keep = append(keep, m)
			ch, err := s.comp.ApplyMarkedTx(tctx, tx, m, e.Item.Rule)
			if err != nil {
				return fmt.Errorf("baseline %q item %q: %w", e.Baseline.Name, e.Item.Key, err)
			}
			if ch {
				changed++
			}
		}
		n, err := s.comp.RemoveMarkedExceptTx(tctx, tx, keep)
		changed += n
		if err != nil {
			return err
		}
		n, left, err := s.removeProfilesTx(tctx, tx, t, eff)
		changed, more = changed+n, more || left
		return err
	})
	return changed, more, err
}

// mergeTx lays e, an Android policy fragment, over the tenant's Android
// policies.
func (s *Service) mergeTx(ctx context.Context, tx pgx.Tx, e Effective) (int, error) {
	if s.droid == nil {
		return 0, errors.New("msp: no Android service to lay policy fragments over")
	}
	return s.droid.MergeTx(ctx, tx, *e.Item.AndroidPolicy)
}

// deployTx queues (or, with queue false, only counts) item e's commands
// in the tenant tx is scoped to.
func (s *Service) deployTx(ctx context.Context, tx pgx.Tx, e Effective, groups map[string]uuid.UUID, queue bool) (commands.Rollout, bool, error) {
	if s.cmds == nil {
		return commands.Rollout{}, false, errors.New("msp: no command queue to send profiles and settings with")
	}
	d, ok := e.deployment(groups)
	if !ok {
		return commands.Rollout{}, false, nil // a ring of a group the tenant does not have
	}
	return s.cmds.DeployTx(ctx, tx, d, queue)
}

// Drift states.
const (
	Applied    = "applied"     // the tenant's rule is what the item says
	Overridden = "overridden"  // the tenant overrode the item (see the reason)
	Missing    = "missing"     // the item is not applied (yet, or it failed)
	Changed    = "changed"     // the tenant's rule was changed locally
	Unassigned = "not_applied" // a rule of a baseline no longer assigned, or an item no longer there
	// Of items that are commands to every device:
	RollingOut = "rolling_out" // sent, waiting for devices to answer
	Failed     = "failed"      // some devices refused it (or an admin canceled theirs)
)

// Drift is one item's state in a tenant.
type Drift struct {
	Baseline uuid.UUID `json:"baseline_id"`
	Name     string    `json:"baseline"`
	Version  int       `json:"version"`
	Item     string    `json:"item"`
	Kind     string    `json:"kind"` // rule, apple_profile, windows_settings, android_policy
	// Group is, for the devices of a ring of device groups, the group
	// (their version is the ring's).
	Group  string `json:"group,omitempty"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"` // the override's
	// Rollout is, for an item that is a command to every device, where its
	// devices stand.
	Rollout *commands.Rollout `json:"rollout,omitempty"`
	// Policies is, for an Android policy fragment, how many of the
	// tenant's Android policies do not have its settings.
	Policies *PolicyDrift `json:"policies,omitempty"`
}

// overridden is d, applied with values the tenant changed, said so.
func (d Drift) overridden(e Effective) Drift {
	if d.State == Applied && e.Override != nil {
		d.State, d.Reason = Overridden, e.Override.Reason
	}
	return d
}

// PolicyDrift counts a tenant's Android policies that deviate from a
// fragment.
type PolicyDrift struct {
	Deviating int `json:"deviating"`
	Total     int `json:"total"`
}

// DriftOf says how t deviates from its baselines, item by item.
func (s *Service) DriftOf(ctx context.Context, t tenancy.Tenant) ([]Drift, error) {
	if s.comp == nil {
		return nil, errors.New("msp: no compliance service")
	}
	eff, err := s.EffectiveFor(ctx, t)
	if err != nil {
		return nil, err
	}
	rules, err := s.comp.Rules(tenancy.WithTenant(ctx, t.ID))
	if err != nil {
		return nil, err
	}
	marked := map[compliance.Mark]compliance.Rule{}
	for _, r := range rules {
		if r.Baseline != nil {
			marked[*r.Baseline] = r
		}
	}
	var out []Drift
	var groups map[string]uuid.UUID // read once, if needed
	for _, e := range eff {
		if e.Item.Kind() != ItemRule {
			if groups == nil {
				if groups, err = s.groupIDs(ctx, t); err != nil {
					return nil, err
				}
			}
			if _, ok := e.deployment(groups); e.Item.Deployed() && !ok {
				continue // a ring of a group the tenant does not have
			}
			d, err := s.itemDrift(ctx, t, e, groups)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			continue
		}
		m := compliance.Mark{Baseline: e.Baseline.ID, Item: e.Item.Key}
		d := Drift{Baseline: e.Baseline.ID, Name: e.Baseline.Name, Version: e.Baseline.Version, Item: e.Item.Key, Kind: ItemRule}
		r, have := marked[m]
		delete(marked, m)
		want := e.Item.Rule
		want.Enabled = true
		switch {
		case e.Override != nil && e.Override.Disabled:
			d.State, d.Reason = Overridden, e.Override.Reason
		case !have:
			d.State = Missing
		case !compliance.Same(r, want):
			d.State = Changed
		case e.Override != nil:
			d.State, d.Reason = Overridden, e.Override.Reason
		default:
			d.State = Applied
		}
		out = append(out, d)
	}
	for m := range marked {
		out = append(out, Drift{Baseline: m.Baseline, Item: m.Item, State: Unassigned})
	}
	return out, nil
}

// itemDrift is the drift of e, an item that is not a rule: a command to
// every device is applied once every device has it; a policy fragment,
// once every Android policy of the tenant has its settings.
func (s *Service) itemDrift(ctx context.Context, t tenancy.Tenant, e Effective, groups map[string]uuid.UUID) (Drift, error) {
	d := Drift{Baseline: e.Baseline.ID, Name: e.Baseline.Name, Version: e.Baseline.Version, Item: e.Item.Key, Kind: e.Item.Kind(), Group: e.Group}
	if e.Override != nil && e.Override.Disabled {
		d.State, d.Reason = Overridden, e.Override.Reason
		return d, nil
	}
	tctx := tenancy.WithTenant(ctx, t.ID)
	if f := e.Item.AndroidPolicy; f != nil {
		if s.droid == nil {
			return d, errors.New("msp: no Android service")
		}
		err := s.db.ReadTx(tctx, func(tx pgx.Tx) (err error) {
			var p PolicyDrift
			p.Deviating, p.Total, err = s.droid.Deviating(tctx, tx, *f)
			d.Policies = &p
			return err
		})
		d.State = Applied
		if d.Policies.Deviating > 0 {
			d.State = Changed // not yet laid over them, or changed since: the next application puts it back
		}
		return d.overridden(e), err
	}
	err := s.db.ReadTx(tctx, func(tx pgx.Tx) error {
		r, _, err := s.deployTx(tctx, tx, e, groups, false)
		d.Rollout = &r
		return err
	})
	switch r := d.Rollout; {
	case err != nil:
		return d, err
	case r.Failed > 0:
		d.State = Failed
	case r.Missing > 0:
		d.State = Missing
	case r.Waiting > 0:
		d.State = RollingOut
	default:
		d.State = Applied
	}
	return d.overridden(e), nil
}

// QueueApply queues the application of the baselines in every tenant of
// msp, each job in its tenant's transaction (applying is idempotent: a
// tenant already as it should be is left as it is).
func (s *Service) QueueApply(ctx context.Context, jobs events.Jobs, msp uuid.UUID) error {
	tenants, err := s.dir.ListTenants(ctx, msp)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if err := s.db.Tx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error { return s.queueApplyTx(ctx, tx, jobs, t) }); err != nil {
			return err
		}
	}
	return nil
}

// QueueApplyTenantTx queues t's application in the transaction ctx is
// within (its own otherwise).
func (s *Service) QueueApplyTenantTx(ctx context.Context, jobs events.Jobs, t tenancy.Tenant) error {
	return s.db.Tx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error { return s.queueApplyTx(ctx, tx, jobs, t) })
}

func (s *Service) queueApplyTx(ctx context.Context, tx pgx.Tx, jobs events.Jobs, t tenancy.Tenant) error {
	if jobs == nil {
		return errors.New("msp: this process cannot queue jobs")
	}
	_, err := jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: ApplyArgs{TenantID: t.ID}}})
	return err
}

// ApplyArgs is the job that applies a tenant's baselines.
type ApplyArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (ApplyArgs) Kind() string { return "msp.apply_baselines" }

// isUnique reports a unique violation.
func isUnique(err error) bool {
	var pg interface{ SQLState() string }
	return errors.As(err, &pg) && pg.SQLState() == "23505"
}

// BaselineDrift is the kind of the console's item for a tenant whose
// baseline rules were changed locally or are not applied.
const BaselineDrift = "baseline_drift"

// driftItem is the console's item for t's drift from its baselines, or
// nil when it has none (overrides are decisions, not drift).
func (s *Service) driftItem(ctx context.Context, t tenancy.Tenant) (*attention.Item, error) {
	ds, err := s.DriftOf(ctx, t)
	if err != nil {
		return nil, err
	}
	changed, missing, failed := 0, 0, 0
	for _, d := range ds {
		switch d.State {
		case Changed:
			changed++
		case Missing:
			missing++
		case Failed:
			failed++
		}
	}
	if changed+missing+failed == 0 {
		return nil, nil
	}
	var parts []string
	if changed > 0 {
		parts = append(parts, fmt.Sprintf("%d changed locally", changed))
	}
	if missing > 0 {
		parts = append(parts, fmt.Sprintf("%d not applied", missing))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d refused by devices", failed))
	}
	link := "compliance"
	if failed > 0 {
		link = "commands?status=error"
	}
	return &attention.Item{Kind: BaselineDrift, Severity: attention.Warning, Count: changed + missing + failed, Link: link,
		Text: "Baseline items drift from the MSP's baselines: " + strings.Join(parts, ", ") + "."}, nil
}

// Reaction applies the MSP's baselines to a tenant just made (those
// assigned to all tenants reach it at once) or changed (a resumed one
// catches up), and to a tenant whose device just enrolled: an
// events.Reaction.
func Reaction(e events.Event) (river.JobArgs, *river.InsertOpts, bool) {
	switch e.Kind {
	case events.TenantCreated, events.TenantUpdated:
		return ApplyArgs{TenantID: e.TenantID}, nil, true
	case inventory.EventDeviceEnrolled:
		// A new device gets the baselines' profiles and settings: one
		// application a little later for a wave of enrollments (an ADE
		// batch), not one each. One enrolled while it runs waits for the
		// sweep.
		return ApplyArgs{TenantID: e.TenantID}, &river.InsertOpts{ScheduledAt: time.Now().Add(enrolledDelay),
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
				rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}, true
	}
	return nil, nil, false
}

// enrolledDelay is how long after a device enrolls its tenant's
// baselines are applied.
const enrolledDelay = 30 * time.Second
