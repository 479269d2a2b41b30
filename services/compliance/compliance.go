// Package compliance holds each tenant's rules over its inventory (OS
// version, disk encryption, passcode, recent check-in, firewall, required
// and forbidden apps), evaluates devices against them, keeps each device's
// result per rule with the history of every change, and remediates once
// per change into non-compliance (queue a command). Every change is an
// event: compliance.changed per rule, device.compliance_changed when the
// device as a whole turns.
package compliance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Kind is what a rule checks.
type Kind string

const (
	OSVersionMin    Kind = "os_version_min"    // params: {"version": "17.4"}
	DiskEncrypted   Kind = "disk_encrypted"    // the disk_encrypted fact
	PasscodeSet     Kind = "passcode_set"      // the passcode_present fact
	CheckedInWithin Kind = "checked_in_within" // params: {"hours": 24}
	FirewallEnabled Kind = "firewall_enabled"  // the firewall_enabled fact
	AppRequired     Kind = "app_required"      // params: {"identifier": "com.example.vpn"}
	AppForbidden    Kind = "app_forbidden"     // params: {"identifier": "com.example.game"}
)

// Kinds are the rule kinds.
var Kinds = []Kind{OSVersionMin, DiskEncrypted, PasscodeSet, CheckedInWithin, FirewallEnabled, AppRequired, AppForbidden}

// Params are a rule's settings; which apply depends on its kind.
type Params struct {
	Version    string `json:"version,omitempty"`
	Hours      int    `json:"hours,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

// Remediation is what to do when a device falls out of compliance with a
// rule: once, when it changes, not on every evaluation.
type Remediation struct {
	// Command is a command kind to queue for the device ("lock",
	// "install_profile"); "" for none. Events (and webhooks on them) report
	// every change either way.
	Command string `json:"command,omitempty"`
	// Payload are the command's options (a lock message, the profile to
	// install).
	Payload map[string]any `json:"payload,omitempty"`
}

// MarshalJSON shows the remediation as people see it (the API, the
// dashboard, events): the command's secret payload fields redacted
// (commands.Redact). What is stored is written whole (stored).
func (r Remediation) MarshalJSON() ([]byte, error) {
	p := plainRemediation(r)
	p.Payload = commands.Redact(r.Command, r.Payload)
	return json.Marshal(p)
}

type plainRemediation Remediation

func (r Remediation) stored() []byte {
	b, _ := json.Marshal(plainRemediation(r))
	return b
}

// Rule is one compliance rule.
type Rule struct {
	ID          uuid.UUID          `json:"id"`
	Name        string             `json:"name"`
	Platform    inventory.Platform `json:"platform,omitempty"` // Only devices of this platform; empty for all.
	Kind        Kind               `json:"kind"`
	Params      Params             `json:"params"`
	Remediation Remediation        `json:"remediation"`
	Enabled     bool               `json:"enabled"`
	// Baseline is the MSP baseline item the rule was applied from (nil:
	// the tenant's own rule). Trident keeps such a rule as the baseline
	// says; a local change to it shows as drift.
	Baseline  *Mark     `json:"baseline,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Mark names the baseline item a rule was applied from.
type Mark struct {
	Baseline uuid.UUID `json:"baseline_id"`
	Item     string    `json:"item"`
}

// Check says what is wrong with r as a rule, naming each field.
func (r Rule) Check() error { return r.validate() }

// Result is a device's standing with one rule.
type Result struct {
	RuleID      uuid.UUID `json:"rule_id"`
	Compliant   bool      `json:"compliant"`
	Detail      string    `json:"detail"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	ChangedAt   time.Time `json:"changed_at"`
}

// Compliance evaluates devices, in the caller's tenant transaction.
type Compliance struct {
	db     *tenancy.DB
	inv    *inventory.Inventory
	cmds   *commands.Queue
	events *events.Publisher
	now    func() time.Time
}

// New returns the compliance service.
func New(db *tenancy.DB, inv *inventory.Inventory, cmds *commands.Queue, pub *events.Publisher) *Compliance {
	return &Compliance{db: db, inv: inv, cmds: cmds, events: pub, now: time.Now}
}

func (r Rule) validate() error {
	var errs []error
	if n := len(strings.TrimSpace(r.Name)); n == 0 || len(r.Name) > 200 {
		errs = append(errs, fault.InvalidField("name", "must be 1 to 200 characters"))
	}
	if r.Platform != "" && !r.Platform.Valid() && !inventory.Family(r.Platform).Valid() {
		errs = append(errs, fault.InvalidField("platform", fmt.Sprintf("%q is not a platform (apple, windows, android) or an Apple device family (macos, ios, ipados, tvos)", r.Platform)))
	}
	switch r.Kind {
	case OSVersionMin:
		if _, ok := version(r.Params.Version); !ok {
			errs = append(errs, fault.InvalidField("params.version", "must be a version such as 17.4"))
		}
	case CheckedInWithin:
		if r.Params.Hours < 1 || r.Params.Hours > 24*365 {
			errs = append(errs, fault.InvalidField("params.hours", "must be 1 to 8760"))
		}
	case AppRequired, AppForbidden:
		if r.Params.Identifier == "" || len(r.Params.Identifier) > 300 {
			errs = append(errs, fault.InvalidField("params.identifier", "must name the app (its bundle or package identifier)"))
		}
	case DiskEncrypted, PasscodeSet, FirewallEnabled:
	default:
		errs = append(errs, fault.InvalidField("kind", fmt.Sprintf("%q is not a rule kind", r.Kind)))
	}
	if c := r.Remediation.Command; c != "" {
		if _, ok := commands.LookupKind(c); !ok {
			errs = append(errs, fault.InvalidField("remediation.command", fmt.Sprintf("%q is not a command kind", c)))
		}
	}
	return fault.Join(errs...)
}

const ruleCols = `id, name, coalesce(platform, ''), kind, params, remediation, enabled, baseline_id, coalesce(baseline_item, ''), created_at, updated_at`

func scanRule(r pgx.Row) (Rule, error) {
	var x Rule
	var params, rem []byte
	var baseline *uuid.UUID
	var item string
	if err := r.Scan(&x.ID, &x.Name, &x.Platform, &x.Kind, &params, &rem, &x.Enabled, &baseline, &item, &x.CreatedAt, &x.UpdatedAt); err != nil {
		return Rule{}, err
	}
	if baseline != nil {
		x.Baseline = &Mark{Baseline: *baseline, Item: item}
	}
	_ = json.Unmarshal(params, &x.Params)
	_ = json.Unmarshal(rem, &x.Remediation)
	return x, nil
}

// Create adds a rule.
func (c *Compliance) Create(ctx context.Context, r Rule) (Rule, error) {
	return tenancy.Write(ctx, c.db, func(tx pgx.Tx) (Rule, error) { return c.createTx(ctx, tx, r) })
}

func (c *Compliance) createTx(ctx context.Context, tx pgx.Tx, r Rule) (Rule, error) {
	if err := r.validate(); err != nil {
		return Rule{}, err
	}
	params, rem, platform := r.stored()
	out, err := scanRule(tx.QueryRow(ctx, `INSERT INTO compliance_rules (id, name, platform, kind, params, remediation, enabled)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+ruleCols, uuid.New(), r.Name, platform, r.Kind, params, rem, r.Enabled))
	if err != nil {
		return Rule{}, fmt.Errorf("compliance: create rule: %w", err)
	}
	_, err = c.events.Publish(ctx, tx, EventRuleCreated, out.ID.String(), out)
	return out, err
}

// ApplyMarkedTx makes the tenant's rule of baseline item m be r (its
// name, kind, platform, params, remediation, on): created if missing,
// changed if it differs, untouched if it is already so (applying again
// is a no-op). It answers whether it changed anything.
func (c *Compliance) ApplyMarkedTx(ctx context.Context, tx pgx.Tx, m Mark, r Rule) (bool, error) {
	r.Enabled = true
	if err := r.validate(); err != nil {
		return false, err
	}
	params, rem, platform := r.stored()
	cur, err := scanRule(tx.QueryRow(ctx, `SELECT `+ruleCols+` FROM compliance_rules WHERE baseline_id = $1 AND baseline_item = $2 FOR UPDATE`, m.Baseline, m.Item))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		out, err := scanRule(tx.QueryRow(ctx, `INSERT INTO compliance_rules (id, name, platform, kind, params, remediation, enabled, baseline_id, baseline_item)
VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8) RETURNING `+ruleCols, uuid.New(), r.Name, platform, r.Kind, params, rem, m.Baseline, m.Item))
		if err != nil {
			return false, fmt.Errorf("compliance: apply %s: %w", m.Item, err)
		}
		_, err = c.events.Publish(ctx, tx, EventRuleCreated, out.ID.String(), out)
		return true, err
	case err != nil:
		return false, err
	}
	if Same(cur, r) {
		return false, nil
	}
	out, err := scanRule(tx.QueryRow(ctx, `UPDATE compliance_rules SET name = $2, platform = $3, kind = $4, params = $5, remediation = $6, enabled = true,
updated_at = now() WHERE id = $1 RETURNING `+ruleCols, cur.ID, r.Name, platform, r.Kind, params, rem))
	if err != nil {
		return false, fmt.Errorf("compliance: apply %s: %w", m.Item, err)
	}
	_, err = c.events.Publish(ctx, tx, EventRuleUpdated, out.ID.String(), out)
	return true, err
}

// stored are r's columns as compliance_rules keeps them: params as JSON,
// the remediation as stored, the platform NULL for every device.
func (r Rule) stored() (params, rem []byte, platform *string) {
	params, _ = json.Marshal(r.Params)
	if r.Platform != "" {
		p := string(r.Platform)
		platform = &p
	}
	return params, r.Remediation.stored(), platform
}

// Same reports whether rules a and b check the same thing the same way
// (name, kind, platform, params, remediation, on or off).
func Same(a, b Rule) bool {
	pa, _ := json.Marshal(a.Params)
	pb, _ := json.Marshal(b.Params)
	return a.Name == b.Name && a.Kind == b.Kind && a.Platform == b.Platform && string(pa) == string(pb) &&
		a.Remediation.Command == b.Remediation.Command && a.Enabled == b.Enabled
}

// RemoveMarkedExceptTx deletes the tenant's baseline rules whose mark is
// not in keep: items a baseline no longer has, or applies here no more.
func (c *Compliance) RemoveMarkedExceptTx(ctx context.Context, tx pgx.Tx, keep []Mark) (int, error) {
	rules, err := c.rulesTx(ctx, tx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rules {
		if r.Baseline == nil || slices.Contains(keep, *r.Baseline) {
			continue
		}
		if err := c.deleteTx(ctx, tx, r.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Rules lists the tenant's rules.
func (c *Compliance) Rules(ctx context.Context) ([]Rule, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) ([]Rule, error) { return c.rulesTx(ctx, tx) })
}

func (c *Compliance) rulesTx(ctx context.Context, tx pgx.Tx) ([]Rule, error) {
	rows, _ := tx.Query(ctx, `SELECT `+ruleCols+` FROM compliance_rules ORDER BY created_at, id`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rule, error) { return scanRule(r) })
}

// SetEnabled turns a rule on or off.
func (c *Compliance) SetEnabled(ctx context.Context, id uuid.UUID, enabled bool) (Rule, error) {
	return tenancy.Write(ctx, c.db, func(tx pgx.Tx) (Rule, error) { return c.setEnabledTx(ctx, tx, id, enabled) })
}

func (c *Compliance) setEnabledTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, enabled bool) (Rule, error) {
	r, err := scanRule(tx.QueryRow(ctx, `UPDATE compliance_rules SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING `+ruleCols, id, enabled))
	if errors.Is(err, pgx.ErrNoRows) {
		return Rule{}, fmt.Errorf("rule %s: %w", id, tenancy.ErrNotFound)
	}
	if err != nil {
		return Rule{}, err
	}
	_, err = c.events.Publish(ctx, tx, EventRuleUpdated, r.ID.String(), r)
	return r, err
}

// Delete removes a rule and its results.
func (c *Compliance) Delete(ctx context.Context, id uuid.UUID) error {
	return c.db.Tx(ctx, func(tx pgx.Tx) error { return c.deleteTx(ctx, tx, id) })
}

func (c *Compliance) deleteTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM compliance_rules WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("rule %s: %w", id, tenancy.ErrNotFound)
	}
	if err != nil {
		return err
	}
	_, err = c.events.Publish(ctx, tx, EventRuleDeleted, id.String(), nil)
	return err
}

// Results returns a device's current results.
func (c *Compliance) Results(ctx context.Context, device uuid.UUID) ([]Result, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) ([]Result, error) { return c.resultsTx(ctx, tx, device) })
}

func (c *Compliance) resultsTx(ctx context.Context, tx pgx.Tx, device uuid.UUID) ([]Result, error) {
	rows, _ := tx.Query(ctx, `SELECT rule_id, compliant, detail, evaluated_at, changed_at FROM compliance_results
WHERE device_id = $1 ORDER BY rule_id`, device)
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Result])
}

// version reads "17.4.1" as numbers.
func version(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	var out []int
	for _, p := range strings.Split(strings.TrimSpace(s), ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// check judges one device against one rule.
func check(r Rule, d inventory.Device, now time.Time) (bool, string) {
	var facts map[string]any
	_ = json.Unmarshal(d.Facts, &facts)
	boolFact := func(name, what string) (bool, string) {
		v, ok := facts[name].(bool)
		switch {
		case !ok:
			return false, what + " not reported yet"
		case !v:
			return false, what + " is off"
		}
		return true, what + " is on"
	}
	hasApp := func(id string) bool {
		apps, _ := facts["installed_apps"].([]any)
		return slices.ContainsFunc(apps, func(a any) bool {
			m, _ := a.(map[string]any)
			return m["identifier"] == id
		})
	}
	switch r.Kind {
	case OSVersionMin:
		have, ok := version(d.OSVersion)
		want, _ := version(r.Params.Version)
		if !ok {
			return false, "OS version not reported yet"
		}
		if slices.Compare(have, want) < 0 {
			return false, fmt.Sprintf("OS %s is older than %s", d.OSVersion, r.Params.Version)
		}
		return true, fmt.Sprintf("OS %s", d.OSVersion)
	case DiskEncrypted:
		return boolFact("disk_encrypted", "disk encryption")
	case PasscodeSet:
		return boolFact("passcode_present", "passcode")
	case FirewallEnabled:
		return boolFact("firewall_enabled", "firewall")
	case CheckedInWithin:
		if d.LastSeenAt == nil {
			return false, "never checked in"
		}
		if ago := now.Sub(*d.LastSeenAt); ago > time.Duration(r.Params.Hours)*time.Hour {
			return false, fmt.Sprintf("last seen %s ago", ago.Round(time.Minute))
		}
		return true, "checked in recently"
	case AppRequired:
		if _, reported := facts["installed_apps"]; !reported {
			return false, "installed apps not reported yet"
		}
		if !hasApp(r.Params.Identifier) {
			return false, r.Params.Identifier + " is missing"
		}
		return true, r.Params.Identifier + " is installed"
	case AppForbidden:
		if hasApp(r.Params.Identifier) {
			return false, r.Params.Identifier + " is installed"
		}
		return true, r.Params.Identifier + " is absent"
	}
	return false, "unknown rule kind"
}

// Evaluate judges a device against the tenant's enabled rules for its
// platform, records what changed (with history and events), remediates
// each rule it newly fails, and publishes device.compliance_changed when
// the device as a whole turns. It returns whether the device complies.
func (c *Compliance) Evaluate(ctx context.Context, deviceID uuid.UUID) (bool, error) {
	return tenancy.Write(ctx, c.db, func(tx pgx.Tx) (bool, error) { return c.evaluateTx(ctx, tx, deviceID) })
}

func (c *Compliance) evaluateTx(ctx context.Context, tx pgx.Tx, deviceID uuid.UUID) (bool, error) {
	// Evaluations of one device take turns, so each change is seen once;
	// the lock's read returns the device as the last evaluation left it.
	d, err := c.inv.LockTx(ctx, tx, deviceID)
	if err != nil {
		return false, err
	}
	rows, _ := tx.Query(ctx, `SELECT `+ruleCols+` FROM compliance_rules WHERE enabled ORDER BY id`)
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rule, error) { return scanRule(r) })
	if err != nil {
		return false, err
	}
	var rules []Rule
	for _, r := range all {
		if Applies(r, d) {
			rules = append(rules, r)
		}
	}
	// The device's results as they stand, read once: whether each rule's
	// result changes, and whether the device as a whole turns.
	prev := map[uuid.UUID]bool{}
	rows, _ = tx.Query(ctx, `SELECT rule_id, compliant FROM compliance_results WHERE device_id = $1`, deviceID)
	var ruleID uuid.UUID
	var was bool
	if _, err := pgx.ForEachRow(rows, []any{&ruleID, &was}, func() error { prev[ruleID] = was; return nil }); err != nil {
		return false, err
	}
	before, after := true, true
	for _, ok := range prev {
		before = before && ok
	}
	now := c.now()
	for _, r := range rules {
		ok, detail := check(r, d, now)
		after = after && ok
		old, had := prev[r.ID]
		changed := !had || old != ok
		_, err := tx.Exec(ctx, `
INSERT INTO compliance_results (device_id, rule_id, compliant, detail, evaluated_at, changed_at)
VALUES ($1, $2, $3, $4, now(), now())
ON CONFLICT (tenant_id, device_id, rule_id) DO UPDATE SET compliant = excluded.compliant, detail = excluded.detail,
    evaluated_at = now(), changed_at = CASE WHEN $5 THEN now() ELSE compliance_results.changed_at END`,
			deviceID, r.ID, ok, detail, changed)
		if err != nil {
			return false, fmt.Errorf("compliance: record result: %w", err)
		}
		if !changed {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO compliance_history (device_id, rule_id, compliant, detail) VALUES ($1, $2, $3, $4)`,
			deviceID, r.ID, ok, detail); err != nil {
			return false, err
		}
		if _, err := c.events.Publish(ctx, tx, EventResultChanged, deviceID.String(),
			ResultChanged{RuleID: r.ID, Rule: r.Name, Compliant: ok, Detail: detail}); err != nil {
			return false, err
		}
		if !ok && r.Remediation.Command != "" {
			if _, err := c.cmds.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: deviceID, Kind: r.Remediation.Command,
				Payload: r.Remediation.Payload, CreatedBy: "compliance:" + r.ID.String()}); err != nil {
				if !fault.Is(err, fault.Invalid) {
					return false, err
				}
				// A command this platform lacks is skipped; the events say why.
			}
		}
	}
	// Results for rules that no longer apply (disabled, another platform
	// or family, a check the family lacks) go.
	if _, err := tx.Exec(ctx, `DELETE FROM compliance_results WHERE device_id = $1 AND NOT (rule_id = ANY($2))`,
		deviceID, ruleIDs(rules)); err != nil {
		return false, err
	}
	// What remains are this evaluation's results, so after is the device's
	// standing now.
	if before != after {
		if _, err := c.events.Publish(ctx, tx, EventDeviceCompliance, deviceID.String(), DeviceCompliance{Compliant: after}); err != nil {
			return false, err
		}
	}
	return after, nil
}

// Applies reports whether rule r judges device d: its platform is the
// rule's (a platform, such as apple, or a family, such as ios), and the
// rule checks something d's family has. A rule that does not apply has
// no result for the device and counts neither way ("not applicable").
func Applies(r Rule, d inventory.Device) bool {
	family := d.Family()
	switch {
	case r.Platform == "":
	case r.Platform.Valid():
		if r.Platform != d.Platform {
			return false
		}
	default:
		if inventory.Family(r.Platform) != family {
			return false
		}
	}
	if fs, ok := kindFamilies[r.Kind]; ok {
		return slices.Contains(fs, family)
	}
	return true
}

// kindFamilies are the families a kind applies to, for the kinds not
// every family has: iOS, iPadOS, tvOS and Android have no firewall a
// device management protocol reports.
var kindFamilies = map[Kind][]inventory.Family{
	FirewallEnabled: {inventory.MacOS, inventory.WindowsFamily},
}

func ruleIDs(rules []Rule) []uuid.UUID {
	ids := make([]uuid.UUID, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

// Devices returns up to limit of the tenant's device ids after after, for
// re-evaluating every device in batches.
func (c *Compliance) Devices(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) ([]uuid.UUID, error) { return c.devicesTx(ctx, tx, after, limit) })
}

func (c *Compliance) devicesTx(ctx context.Context, tx pgx.Tx, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	picked, err := c.inv.SelectTx(ctx, tx, inventory.Selection{After: after, Limit: limit})
	ids := make([]uuid.UUID, len(picked))
	for i, d := range picked {
		ids[i] = d.ID
	}
	return ids, err
}

// Failing counts, per rule, the devices that fail it now (rules no
// device fails are absent).
func (c *Compliance) Failing(ctx context.Context) (map[uuid.UUID]int, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) (map[uuid.UUID]int, error) {
		rows, _ := tx.Query(ctx, `SELECT rule_id, count(*) FROM compliance_results WHERE NOT compliant GROUP BY rule_id`)
		out := map[uuid.UUID]int{}
		var id uuid.UUID
		var n int
		if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil }); err != nil {
			return nil, fmt.Errorf("compliance: failing counts: %w", err)
		}
		return out, nil
	})
}

// States are the compliance states of the devices asked for, by id:
// "compliant" (every rule evaluated for it passes) or "noncompliant"
// (failing one); a device with no results (not evaluated) is absent.
func (c *Compliance) States(ctx context.Context, devices []uuid.UUID) (map[uuid.UUID]string, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) (map[uuid.UUID]string, error) {
		rows, _ := tx.Query(ctx, `SELECT device_id, bool_and(compliant) FROM compliance_results
WHERE device_id = ANY($1) GROUP BY device_id`, devices)
		out := map[uuid.UUID]string{}
		var id uuid.UUID
		var ok bool
		if _, err := pgx.ForEachRow(rows, []any{&id, &ok}, func() error {
			out[id] = map[bool]string{true: "compliant", false: "noncompliant"}[ok]
			return nil
		}); err != nil {
			return nil, fmt.Errorf("compliance: states: %w", err)
		}
		return out, nil
	})
}

// Standing counts the tenant's enrolled devices by compliance: those
// whose every evaluated rule passes, those failing at least one, and those
// not evaluated yet.
type Standing struct{ Compliant, NonCompliant, Unevaluated int }

// The tenant's enrolled devices each with its number of results (n) and
// of failing ones, and the counts Standing and Snapshot make of them.
const (
	enrolledWithResults = `FROM devices d
LEFT JOIN (SELECT device_id, count(*) AS n, count(*) FILTER (WHERE NOT compliant) AS failing
           FROM compliance_results GROUP BY device_id) r ON r.device_id = d.id
WHERE d.status = 'enrolled'`
	compliantCount = `count(*) FILTER (WHERE r.n > 0 AND r.failing = 0)`
	failingCount   = `count(*) FILTER (WHERE r.failing > 0)`
)

// Summarize counts the tenant's devices by compliance.
func (c *Compliance) Summarize(ctx context.Context) (Standing, error) {
	return tenancy.Read(ctx, c.db, func(tx pgx.Tx) (Standing, error) { return c.summarizeTx(ctx, tx) })
}

func (c *Compliance) summarizeTx(ctx context.Context, tx pgx.Tx) (Standing, error) {
	var s Standing
	err := tx.QueryRow(ctx, `SELECT `+compliantCount+`, `+failingCount+`, count(*) FILTER (WHERE coalesce(r.n, 0) = 0) `+
		enrolledWithResults).Scan(&s.Compliant, &s.NonCompliant, &s.Unevaluated)
	if err != nil {
		return Standing{}, fmt.Errorf("compliance: summarize: %w", err)
	}
	return s, nil
}
