package msp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// A baseline's items become each assigned tenant's rules, once however
// often it is applied; an override turns one off (or changes its params)
// with a reason; a local change shows as drift and the next apply puts
// the item back; a tenant the baseline is no longer for loses its rules.
// Bad input changes nothing.
func TestBaselines(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a := testenv.Tenant(t, dir)
	b, err := dir.CreateTenant(ctx, a.MSPID, "b-"+uuid.NewString()[:6], "B")
	if err != nil {
		t.Fatal(err)
	}
	other := testenv.Tenant(t, dir)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	comp := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil)
	items := []msp.Item{
		{Key: "disk", Rule: compliance.Rule{Name: "Disk encrypted", Kind: compliance.DiskEncrypted}},
		{Key: "os", Rule: compliance.Rule{Name: "Windows 11 24H2", Kind: compliance.OSVersionMin, Platform: inventory.Windows, Params: compliance.Params{Version: "10.0.26100"}}},
		{Key: "seen", Rule: compliance.Rule{Name: "Checked in today", Kind: compliance.CheckedInWithin, Params: compliance.Params{Hours: 24}}},
	}
	for _, bad := range [][]msp.Item{
		{{Key: "Bad Key", Rule: items[0].Rule}},
		{items[0], items[0]},
		{{Key: "x", Rule: compliance.Rule{Name: "No such", Kind: "nope"}}},
	} {
		if _, err := s.CreateBaseline(ctx, a.MSPID, "bad", bad, "mo"); !fault.Is(err, fault.Invalid) {
			t.Errorf("bad items %+v: %v", bad, err)
		}
	}
	base, err := s.CreateBaseline(ctx, a.MSPID, "Standard", items, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, a.MSPID, base.ID, []string{"tenant:" + other.Slug}); !fault.Is(err, fault.Invalid) {
		t.Errorf("assigned to another MSP's tenant: %v", err)
	}
	if _, err := s.Assign(ctx, a.MSPID, base.ID, []string{"tenant:" + a.Slug, "tenant:" + b.Slug}); err != nil {
		t.Fatal(err)
	}
	if other, _ := s.Baselines(ctx, other.MSPID); len(other) != 0 {
		t.Errorf("another MSP sees the baseline: %+v", other)
	}
	rulesOf := func(tn tenancy.Tenant) []compliance.Rule {
		t.Helper()
		rs, err := comp.Rules(tenancy.WithTenant(ctx, tn.ID))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	for range 2 { // applying twice: the same three rules
		for _, tn := range []tenancy.Tenant{a, b} {
			if _, err := s.Apply(ctx, tn); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(rulesOf(a)); n != 3 {
		t.Fatalf("tenant a has %d rules, want the baseline's 3 once", n)
	}
	if n, _ := s.Apply(ctx, a); n != 0 {
		t.Errorf("applying again changed %d rules", n)
	}

	// b turns one item off, with a reason; an override of an item that
	// is not there, or without a reason, is refused.
	if err := s.SetOverride(ctx, b, msp.Override{Baseline: base.ID, Item: "nope", Disabled: true, Reason: "x", By: "bo"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("an override of no item: %v", err)
	}
	if err := s.SetOverride(ctx, b, msp.Override{Baseline: base.ID, Item: "disk", Disabled: true, By: "bo"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("an override without a reason: %v", err)
	}
	if err := s.SetOverride(ctx, b, msp.Override{Baseline: base.ID, Item: "disk", Disabled: true, Reason: "kiosks have no disk to encrypt", By: "bo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := len(rulesOf(b)); n != 2 {
		t.Errorf("b with disk turned off has %d rules, want 2", n)
	}

	// A local change in a is drift until the next apply.
	for _, r := range rulesOf(a) {
		if r.Baseline != nil && r.Baseline.Item == "seen" {
			if _, err := comp.SetEnabled(tenancy.WithTenant(ctx, a.ID), r.ID, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	states := func(tn tenancy.Tenant) map[string]string {
		t.Helper()
		ds, err := s.DriftOf(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range ds {
			out[d.Item] = d.State
		}
		return out
	}
	if got := states(a); got["seen"] != msp.Changed || got["disk"] != msp.Applied {
		t.Errorf("a's drift after a local change: %v", got)
	}
	if got := states(b); got["disk"] != msp.Overridden || got["os"] != msp.Applied {
		t.Errorf("b's drift: %v", got)
	}
	// The console shows a's drift (b's override is a decision, not drift).
	for _, tn := range []tenancy.Tenant{a, b} {
		if err := s.Refresh(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Console(ctx, a.MSPID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Attention) != 1 || c.Attention[0].Kind != msp.BaselineDrift || c.Attention[0].Tenant.ID != a.ID ||
		!strings.Contains(c.Attention[0].Text, "1 changed locally") {
		t.Errorf("the console's attention: %+v", c.Attention)
	}
	if _, err := s.Apply(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := states(a); got["seen"] != msp.Applied {
		t.Errorf("a's drift after applying again: %v", got)
	}

	// A new version changes the rules in place; unassigned, they go.
	items[1].Rule.Params.Version = "10.0.26200"
	v2, err := s.SetItems(ctx, a.MSPID, base.ID, items[:2], "mo")
	if err != nil || v2.Version != 2 {
		t.Fatalf("version 2: %+v %v", v2, err)
	}
	if _, err := s.Apply(ctx, a); err != nil {
		t.Fatal(err)
	}
	rs := rulesOf(a)
	if len(rs) != 2 {
		t.Errorf("after version 2: %d rules, want 2", len(rs))
	}
	for _, r := range rs {
		if r.Baseline.Item == "os" && r.Params.Version != "10.0.26200" {
			t.Errorf("the os rule after version 2: %+v", r)
		}
	}
	if _, err := s.Assign(ctx, a.MSPID, base.ID, []string{"tenant:" + b.Slug}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, a); err != nil {
		t.Fatal(err)
	}
	if n := len(rulesOf(a)); n != 0 {
		t.Errorf("a, no longer assigned: %d baseline rules", n)
	}
}

// Applying is one transaction per tenant: cut short halfway (the
// database refuses the second rule, as a worker killed mid-run would
// stop), nothing of it stays, and the next run applies every item
// exactly once.
func TestApplyCutShortChangesNothing(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a := testenv.Tenant(t, dir)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	comp := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil)
	base, err := s.CreateBaseline(ctx, a.MSPID, "Standard", []msp.Item{
		{Key: "disk", Rule: compliance.Rule{Name: "Disk encrypted", Kind: compliance.DiskEncrypted}},
		{Key: "passcode", Rule: compliance.Rule{Name: "Passcode set", Kind: compliance.PasscodeSet}},
	}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, a.MSPID, base.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	su := testenv.Superuser(t)
	trigger := "cut_" + uuid.NewString()[:8]
	if _, err := su.Exec(ctx, `CREATE OR REPLACE FUNCTION trident_test_cut() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the worker died'; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := su.Exec(ctx, `CREATE TRIGGER `+trigger+` BEFORE INSERT ON compliance_rules FOR EACH ROW
WHEN (NEW.tenant_id = '`+a.ID.String()+`' AND NEW.baseline_item = 'passcode') EXECUTE FUNCTION trident_test_cut()`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = su.Exec(context.Background(), `DROP TRIGGER IF EXISTS `+trigger+` ON compliance_rules`) })
	if _, err := s.Apply(ctx, a); err == nil {
		t.Fatal("applied with the second rule refused")
	}
	tctx := tenancy.WithTenant(ctx, a.ID)
	if rs, _ := comp.Rules(tctx); len(rs) != 0 {
		t.Fatalf("a run cut short left %d rules", len(rs))
	}
	if _, err := su.Exec(ctx, `DROP TRIGGER `+trigger+` ON compliance_rules`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Apply(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if rs, _ := comp.Rules(tctx); len(rs) != 2 {
		t.Fatalf("after the retry: %d rules, want each item once", len(rs))
	}
}

// A new version reaches the first ring only; promoted, the next; then
// everyone; a ring rolled back has the version before again.
func TestRings(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	pilot := testenv.Tenant(t, dir)
	rest, err := dir.CreateTenant(ctx, pilot.MSPID, "rest-"+uuid.NewString()[:6], "Rest")
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	comp := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil)
	osRule := func(v string) []msp.Item {
		return []msp.Item{{Key: "os", Rule: compliance.Rule{Name: "OS", Kind: compliance.OSVersionMin, Params: compliance.Params{Version: v}}}}
	}
	b, err := s.CreateBaseline(ctx, pilot.MSPID, "Updates", osRule("17.0"), "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, pilot.MSPID, b.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRings(ctx, pilot.MSPID, b.ID, []msp.Ring{{Name: "pilot", Targets: []string{"all"}}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("a ring of everyone: %v", err)
	}
	if _, err := s.SetRings(ctx, pilot.MSPID, b.ID, []msp.Ring{{Name: "pilot", Targets: []string{"tenant:" + pilot.Slug}}}); err != nil {
		t.Fatal(err)
	}
	version := func(tn tenancy.Tenant) string {
		t.Helper()
		if _, err := s.Apply(ctx, tn); err != nil {
			t.Fatal(err)
		}
		rs, err := comp.Rules(tenancy.WithTenant(ctx, tn.ID))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s's rules: %+v %v", tn.Slug, rs, err)
		}
		return rs[0].Params.Version
	}
	if _, err := s.SetItems(ctx, pilot.MSPID, b.ID, osRule("18.0"), "mo"); err != nil {
		t.Fatal(err)
	}
	if p, r := version(pilot), version(rest); p != "18.0" || r != "17.0" {
		t.Errorf("version 2 in the pilot ring only: pilot %s, rest %s", p, r)
	}
	if _, err := s.Promote(ctx, pilot.MSPID, b.ID, msp.Everyone); err != nil {
		t.Fatal(err)
	}
	if r := version(rest); r != "18.0" {
		t.Errorf("promoted to everyone: rest %s", r)
	}
	if _, err := s.Rollback(ctx, pilot.MSPID, b.ID, "pilot"); err != nil {
		t.Fatal(err)
	}
	if p := version(pilot); p != "17.0" {
		t.Errorf("the pilot rolled back: %s", p)
	}
	if _, err := s.Promote(ctx, pilot.MSPID, b.ID, "nope"); !fault.Is(err, fault.Invalid) {
		t.Errorf("a ring that is not there: %v", err)
	}
}

// A ring with a soak time passes its version on to the next ring by
// itself once it has had it that long with no failed application, one
// ring a sweep; a ring that failed holds it.
func TestSoakPromotes(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	pilot := testenv.Tenant(t, dir)
	early, err := dir.CreateTenant(ctx, pilot.MSPID, "early-"+uuid.NewString()[:6], "Early")
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	comp := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil)
	osRule := func(v string) []msp.Item {
		return []msp.Item{{Key: "os", Rule: compliance.Rule{Name: "OS", Kind: compliance.OSVersionMin, Params: compliance.Params{Version: v}}}}
	}
	b, err := s.CreateBaseline(ctx, pilot.MSPID, "Updates", osRule("17.0"), "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, pilot.MSPID, b.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRings(ctx, pilot.MSPID, b.ID, []msp.Ring{{Name: "pilot", Targets: []string{"tenant:" + pilot.Slug}, SoakHours: 24},
		{Name: "early", Targets: []string{"tenant:" + early.Slug}, SoakHours: -1}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("a negative soak: %v", err)
	}
	if _, err := s.SetRings(ctx, pilot.MSPID, b.ID, []msp.Ring{{Name: "pilot", Targets: []string{"tenant:" + pilot.Slug}, SoakHours: 24},
		{Name: "early", Targets: []string{"tenant:" + early.Slug}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetItems(ctx, pilot.MSPID, b.ID, osRule("18.0"), "mo"); err != nil {
		t.Fatal(err)
	}
	versions := func() (int, int, int) {
		t.Helper()
		bs, err := s.Baselines(ctx, pilot.MSPID)
		if err != nil || len(bs) != 1 {
			t.Fatalf("baselines: %+v %v", bs, err)
		}
		return bs[0].Rings[0].Version, bs[0].Rings[1].Version, bs[0].Released
	}
	promote := func(after time.Duration) []string {
		t.Helper()
		got, err := s.AutoPromote(ctx, pilot.MSPID, time.Now().Add(after))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Not soaked yet; then soaked, but the pilot's application failed
	// (never applied: its rule is missing).
	if got := promote(23 * time.Hour); len(got) != 0 {
		t.Errorf("promoted before the soak: %v", got)
	}
	if got := promote(25 * time.Hour); len(got) != 0 {
		t.Errorf("promoted past a failed application: %v", got)
	}
	if _, err := s.Apply(ctx, pilot); err != nil {
		t.Fatal(err)
	}
	if got := promote(25 * time.Hour); len(got) != 1 || got[0] != "Updates: early" {
		t.Errorf("the soaked pilot: promoted %v, want the early ring", got)
	}
	if p, e, r := versions(); p != 2 || e != 2 || r != 1 {
		t.Errorf("versions pilot %d, early %d, everyone %d; want 2, 2, 1", p, e, r)
	}
	// The early ring has no soak time: it waits for a person.
	if got := promote(100 * time.Hour); len(got) != 0 {
		t.Errorf("a ring without a soak time promoted: %v", got)
	}
}

// A tenant just made gets its MSP's baselines applied (those for all
// tenants reach it at once), and so does one changed (resumed, it catches
// up on what it missed while suspended) or with a new device; other
// events cause nothing.
func TestReactionToANewTenant(t *testing.T) {
	id := uuid.New()
	for _, kind := range []string{events.TenantCreated, events.TenantUpdated} {
		args, _, ok := msp.Reaction(events.Event{Kind: kind, TenantID: id})
		if a, isApply := args.(msp.ApplyArgs); !ok || !isApply || a.TenantID != id {
			t.Errorf("%s: %v %v", kind, args, ok)
		}
	}
	// A device enrolled: its tenant's profiles and settings reach it, a
	// little later, once for a wave of enrollments.
	args, opts, ok := msp.Reaction(events.Event{Kind: "device.enrolled", TenantID: id})
	if a, isApply := args.(msp.ApplyArgs); !ok || !isApply || a.TenantID != id || opts == nil || !opts.UniqueOpts.ByArgs || time.Until(opts.ScheduledAt) <= 0 {
		t.Errorf("device.enrolled: %v %+v %v", args, opts, ok)
	}
	if _, _, ok := msp.Reaction(events.Event{Kind: "device.updated", TenantID: id}); ok {
		t.Error("device.updated applies baselines")
	}
}

// A suspended tenant is not changed by its baselines: applying leaves it
// as it is until it is resumed.
func TestSuspendedTenantIsNotApplied(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a := testenv.Tenant(t, dir)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	comp := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil)
	base, err := s.CreateBaseline(ctx, a.MSPID, "Standard", []msp.Item{{Key: "disk", Rule: compliance.Rule{Name: "Disk encrypted", Kind: compliance.DiskEncrypted}}}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, a.MSPID, base.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	if err := dir.SetStatus(ctx, a.ID, tenancy.Suspended); err != nil {
		t.Fatal(err)
	}
	if a, err = dir.Tenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Apply(ctx, a); err != nil || n != 0 {
		t.Fatalf("applying to a suspended tenant: %d changes, %v", n, err)
	}
	if rs, _ := comp.Rules(tenancy.WithTenant(ctx, a.ID)); len(rs) != 0 {
		t.Fatalf("a suspended tenant got rules: %+v", rs)
	}
	if err := dir.SetStatus(ctx, a.ID, tenancy.Active); err != nil {
		t.Fatal(err)
	}
	if a, err = dir.Tenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Apply(ctx, a); err != nil || n != 1 {
		t.Fatalf("applying once resumed: %d changes, %v", n, err)
	}
}
