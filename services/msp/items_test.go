package msp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/api/option"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/protocols/windows"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// mobileconfig is a minimal unsigned configuration profile.
func mobileconfig(id, name string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadContent</key><array><dict>
<key>PayloadType</key><string>com.apple.screensaver</string><key>PayloadIdentifier</key><string>%s.screensaver</string>
<key>PayloadUUID</key><string>%s</string><key>PayloadVersion</key><integer>1</integer>
<key>idleTime</key><integer>300</integer></dict></array>
<key>PayloadDisplayName</key><string>%s</string><key>PayloadIdentifier</key><string>%s</string>
<key>PayloadType</key><string>Configuration</string><key>PayloadUUID</key><string>%s</string><key>PayloadVersion</key><integer>1</integer>
</dict></plist>`, id, uuid.NewString(), name, id, uuid.NewString())
}

// A baseline's Apple profile and Windows settings go to every enrolled
// device of their platform in the tenants it is for, once per version of
// their content: new devices get them, devices that have them are left
// alone, devices that refused them are not sent them again; drift says
// where each stands. Bad items are refused, naming the field.
func TestProfileAndSettingsItems(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	tctx := tenancy.WithTenant(ctx, tn.ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	key, _, _ := seal.NewRandomKey()
	cmds := commands.New(db, inv, pub, commands.WithChecker(inventory.Windows, windows.Commands{}), commands.WithSecrets(seal.NewKeyring(key)))
	comp := compliance.New(db, inv, cmds, pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil).WithCommands(cmds)
	device := func(p inventory.Platform, id string) inventory.Device {
		t.Helper()
		d, err := inv.Record(tctx, inventory.Report{Platform: p, Identifier: id})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	mac, pc := device(inventory.Apple, "MAC-1"), device(inventory.Windows, "PC-1")

	profile := msp.Item{Key: "screensaver", AppleProfile: &msp.AppleProfile{Profile: mobileconfig("com.msp.screensaver", "Screen saver")}}
	settings := msp.Item{Key: "lock-screen", WindowsSettings: &msp.WindowsSettings{Name: "Lock screen", Settings: []msp.Setting{
		{LocURI: "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock", Value: "5"}}}}
	for _, bad := range []struct {
		item  msp.Item
		field string
	}{
		{msp.Item{Key: "p", AppleProfile: &msp.AppleProfile{Profile: []byte("not a plist")}}, "items[0].apple_profile.profile"},
		{msp.Item{Key: "p", AppleProfile: &msp.AppleProfile{Profile: []byte(strings.Replace(string(mobileconfig("x", "x")), "Configuration", "Other", 1))}}, "items[0].apple_profile.profile"},
		{msp.Item{Key: "w", WindowsSettings: &msp.WindowsSettings{Name: "x", Settings: []msp.Setting{{LocURI: "Device/no-dot", Value: "1"}}}}, "items[0].windows_settings"},
		{msp.Item{Key: "w", WindowsSettings: &msp.WindowsSettings{Name: "x", Settings: []msp.Setting{{LocURI: "./Device/x", Value: "five"}}}}, "items[0].windows_settings"},
		{msp.Item{Key: "two", Rule: compliance.Rule{Name: "Disk", Kind: compliance.DiskEncrypted}, AppleProfile: profile.AppleProfile}, "items[0]"},
		{msp.Item{Key: "none"}, "items[0]"},
	} {
		_, err := s.CreateBaseline(ctx, tn.MSPID, "bad", []msp.Item{bad.item}, "mo")
		if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "invalid "+bad.field) {
			t.Errorf("bad item %s: %v, want it refused at %s", bad.item.Key, err, bad.field)
		}
	}
	b, err := s.CreateBaseline(ctx, tn.MSPID, "Desktops", []msp.Item{profile, settings}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Items[0].AppleProfile; got.Identifier != "com.msp.screensaver" || got.Name != "Screen saver" {
		t.Errorf("the profile's identifier and name, read from it: %+v", got)
	}
	if _, err := s.Assign(ctx, tn.MSPID, b.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	sent := func(d inventory.Device) []commands.Command {
		t.Helper()
		cs, err := cmds.ListForDevice(tctx, d.ID, uuid.Nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []commands.Command
		for _, c := range cs {
			if strings.HasPrefix(c.CreatedBy, "baseline:"+b.ID.String()) {
				out = append(out, c)
			}
		}
		return out
	}
	drift := func() map[string]msp.Drift {
		t.Helper()
		ds, err := s.DriftOf(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]msp.Drift{}
		for _, d := range ds {
			out[d.Item] = d
		}
		return out
	}
	if d := drift(); d["screensaver"].State != msp.Missing || d["lock-screen"].State != msp.Missing {
		t.Errorf("before applying: %+v", d)
	}
	for range 2 { // twice: each device's command once
		if _, err := s.Apply(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	if got := sent(mac); len(got) != 1 || got[0].Kind != "install_profile" {
		t.Fatalf("the Mac's baseline commands: %+v", got)
	}
	if got := sent(pc); len(got) != 1 || got[0].Kind != "apply_settings" {
		t.Fatalf("the PC's baseline commands: %+v", got)
	}
	if d := drift(); d["screensaver"].State != msp.RollingOut || d["screensaver"].Kind != msp.ItemAppleProfile || d["screensaver"].Rollout.Waiting != 1 {
		t.Errorf("sent, not answered: %+v", d["screensaver"])
	}
	// The Mac installs it; the PC refuses its settings.
	answer := func(d inventory.Device, st commands.Status) {
		t.Helper()
		if err := db.Tx(tctx, func(tx pgx.Tx) error {
			c, err := cmds.NextTx(tctx, tx, d.ID)
			if err != nil || c == nil {
				return fmt.Errorf("next: %+v %v", c, err)
			}
			_, err = cmds.CompleteTx(tctx, tx, d.ID, c.ID, commands.Outcome{Status: st, Error: map[commands.Status]string{commands.Error: "refused"}[st]})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	answer(mac, commands.Acknowledged)
	answer(pc, commands.Error)
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	d := drift()
	if d["screensaver"].State != msp.Applied || d["lock-screen"].State != msp.Failed || d["lock-screen"].Rollout.Failed != 1 {
		t.Errorf("after the answers: %+v %+v", d["screensaver"], d["lock-screen"])
	}
	if len(sent(pc)) != 1 {
		t.Error("the refused settings were sent again")
	}
	// A second Mac enrolls: it gets the profile, the first Mac nothing more.
	mac2 := device(inventory.Apple, "MAC-2")
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if len(sent(mac2)) != 1 || len(sent(mac)) != 1 {
		t.Errorf("a new Mac's commands %d, the first Mac's %d; want 1 and 1", len(sent(mac2)), len(sent(mac)))
	}
	// A new version of the profile goes to every Mac again.
	profile.AppleProfile = &msp.AppleProfile{Profile: mobileconfig("com.msp.screensaver", "Screen saver, shorter")}
	if _, err := s.SetItems(ctx, tn.MSPID, b.ID, []msp.Item{profile, settings}, "mo"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if len(sent(mac)) != 2 || len(sent(mac2)) != 2 {
		t.Errorf("version 2: the Macs' commands %d and %d, want 2 each", len(sent(mac)), len(sent(mac2)))
	}
	// The second Mac had not taken version 1 yet: it is canceled, not
	// sent before version 2.
	if cs := sent(mac2); len(cs) == 2 && cs[1].Status != commands.Canceled {
		t.Errorf("the superseded version 1: %s", cs[1].Status)
	}
	// The tenant changes a setting's value: its Windows devices get it
	// (a new content); a node the item does not set, or a value the node
	// does not take, is refused.
	for _, bad := range []map[string]string{{"./Device/Vendor/MSFT/Policy/Config/Other/Thing": "1"},
		{"./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock": "ten"}} {
		if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "lock-screen", Settings: bad, Reason: "x", By: "bo"}); !fault.Is(err, fault.Invalid) {
			t.Errorf("settings override %v: %v", bad, err)
		}
	}
	if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "lock-screen", Reason: "the shop floor locks at 10",
		Settings: map[string]string{"./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock": "10"}, By: "bo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if cs := sent(pc); len(cs) != 2 || cs[0].CreatedBy == cs[1].CreatedBy { // values are sealed: the content's tag tells them apart
		t.Errorf("the PC's commands after the override: %+v", cs)
	}
	// Turned off in the tenant: not sent; its params cannot be changed.
	if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "screensaver", Params: &compliance.Params{Hours: 1}, Reason: "x", By: "bo"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("params of a profile item: %v", err)
	}
	if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "screensaver", Disabled: true, Reason: "kiosks keep the screen on", By: "bo"}); err != nil {
		t.Fatal(err)
	}
	mac3 := device(inventory.Apple, "MAC-3")
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if len(sent(mac3)) != 0 || drift()["screensaver"].State != msp.Overridden {
		t.Errorf("a turned-off profile: sent %d, drift %+v", len(sent(mac3)), drift()["screensaver"])
	}
	// ... and taken off the Macs it reached (or is on its way to), once:
	// RemoveProfile with its identifier.
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	for _, m := range []inventory.Device{mac, mac2} {
		cs := sent(m)
		if len(cs) != 3 || cs[0].Kind != "remove_profile" || !strings.Contains(string(cs[0].Payload), "com.msp.screensaver") {
			t.Errorf("%s's commands after the profile was turned off: %d, newest %+v", m.Identifier, len(cs), cs[0])
		}
	}
	if len(sent(mac3)) != 0 {
		t.Error("a Mac the profile never reached was sent its removal")
	}
	// Turned on again: installed again.
	if err := db.Tx(tctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(tctx, `DELETE FROM baseline_overrides WHERE item = 'screensaver'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if cs := sent(mac); len(cs) != 4 || cs[0].Kind != "install_profile" {
		t.Errorf("the profile turned on again: %d commands, newest %s", len(cs), cs[0].Kind)
	}
}

// A baseline's Android policy fragment is laid over each of a tenant's
// Android policies (its settings replace theirs; the rest stay the
// tenant's), each changed policy published again; a local change is
// drift, and the next application puts it back.
func TestAndroidPolicyFragments(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	tctx := tenancy.WithTenant(ctx, tn.ID)
	rc, err := river.NewClient(riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema})
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(rc)
	inv := inventory.New(db, pub)
	cmds := commands.New(db, inv, pub)
	droid, err := android.New(ctx, db, pub, rc, inv, cmds, android.Options{Project: "p", Topic: "projects/p/topics/t",
		Client: []option.ClientOption{option.WithEndpoint("http://127.0.0.1:1/"), option.WithoutAuthentication()}})
	if err != nil {
		t.Fatal(err)
	}
	comp := compliance.New(db, inv, cmds, pub)
	s := msp.New(db, dir, inv, comp, events.NewStore(db), nil).WithAndroid(droid)
	kiosk, err := droid.SavePolicy(tctx, uuid.Nil, "Kiosks", nil, android.PolicySettings{PasswordMinLength: 4, CameraDisabled: true})
	if err != nil {
		t.Fatal(err)
	}
	staff, err := droid.SavePolicy(tctx, uuid.Nil, "Staff", nil, android.PolicySettings{PasswordMinLength: 10})
	if err != nil {
		t.Fatal(err)
	}
	eight, encrypt := 8, true
	for _, bad := range []msp.Item{
		{Key: "a", AndroidPolicy: &android.Fragment{Name: "Nothing"}},
		{Key: "a", AndroidPolicy: &android.Fragment{Name: "Too long", PasswordMinLength: ptr(40)}},
		{Key: "a", AndroidPolicy: &android.Fragment{Name: "Quality", PasswordQuality: ptr("EXCELLENT")}},
	} {
		if _, err := s.CreateBaseline(ctx, tn.MSPID, "bad", []msp.Item{bad}, "mo"); !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "items[0].android_policy") {
			t.Errorf("bad fragment %+v: %v", bad.AndroidPolicy, err)
		}
	}
	if _, err := msp.New(db, dir, inv, comp, events.NewStore(db), nil).CreateBaseline(ctx, tn.MSPID, "no android",
		[]msp.Item{{Key: "a", AndroidPolicy: &android.Fragment{Name: "x", RequireEncryption: &encrypt}}}, "mo"); !fault.Is(err, fault.Invalid) {
		t.Errorf("a fragment on a server without Android: %v", err)
	}
	b, err := s.CreateBaseline(ctx, tn.MSPID, "Phones", []msp.Item{{Key: "passcode", AndroidPolicy: &android.Fragment{Name: "Passcode of 8, encrypted",
		PasswordMinLength: &eight, RequireEncryption: &encrypt}}}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, tn.MSPID, b.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	state := func() msp.Drift {
		t.Helper()
		ds, err := s.DriftOf(ctx, tn)
		if err != nil || len(ds) != 1 {
			t.Fatalf("drift: %+v %v", ds, err)
		}
		return ds[0]
	}
	if d := state(); d.State != msp.Changed || d.Policies.Deviating != 2 || d.Policies.Total != 2 {
		t.Errorf("before applying: %+v %+v", d, d.Policies)
	}
	for i := range 2 {
		n, err := s.Apply(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{2, 0}[i]; n != want {
			t.Errorf("application %d changed %d, want %d", i+1, n, want)
		}
	}
	got := func(id uuid.UUID) android.PolicySettings {
		t.Helper()
		p, err := droid.Policy(tctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Settings
	}
	if k := got(kiosk.ID); k.PasswordMinLength != 8 || !k.RequireEncryption || !k.CameraDisabled {
		t.Errorf("the kiosks' policy: %+v; want the fragment over it, its camera setting kept", k)
	}
	if st := got(staff.ID); st.PasswordMinLength != 8 || !st.RequireEncryption {
		t.Errorf("the staff policy: %+v", st)
	}
	if d := state(); d.State != msp.Applied || d.Kind != msp.ItemAndroidPolicy {
		t.Errorf("applied: %+v", d)
	}
	// A local change is drift, put back by the next application.
	if _, err := droid.SavePolicy(tctx, staff.ID, "Staff", nil, android.PolicySettings{PasswordMinLength: 4, RequireEncryption: true}); err != nil {
		t.Fatal(err)
	}
	if d := state(); d.State != msp.Changed || d.Policies.Deviating != 1 {
		t.Errorf("after a local change: %+v %+v", d, d.Policies)
	}
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if st := got(staff.ID); st.PasswordMinLength != 8 {
		t.Errorf("put back: %+v", st)
	}
	if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "passcode", Params: &compliance.Params{Hours: 1}, Reason: "x", By: "bo"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("params of a fragment: %v", err)
	}
	// The tenant changes a value: its policies get it, the rest of the
	// fragment stays the baseline's.
	if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "passcode", Android: &android.Fragment{PasswordMinLength: ptr(40)}, Reason: "x", By: "bo"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("an override to a bad length: %v", err)
	}
	if err := s.SetOverride(ctx, tn, msp.Override{Baseline: b.ID, Item: "passcode", Android: &android.Fragment{PasswordMinLength: ptr(12)},
		Reason: "the bank asks for 12", By: "bo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if k := got(kiosk.ID); k.PasswordMinLength != 12 || !k.RequireEncryption {
		t.Errorf("the overridden length: %+v", k)
	}
	if d := state(); d.State != msp.Overridden || d.Reason != "the bank asks for 12" {
		t.Errorf("drift with a changed value: %+v", d)
	}
}

func ptr[T any](v T) *T { return &v }

// A ring of device groups: in every tenant, the devices of the named
// group get a new version of the baseline's profiles first; promoted,
// the rest of the tenant gets it. A ring naming a group and tenants is
// refused.
func TestDeviceGroupRings(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	tctx := tenancy.WithTenant(ctx, tn.ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	key, _, _ := seal.NewRandomKey()
	cmds := commands.New(db, inv, pub, commands.WithSecrets(seal.NewKeyring(key)))
	s := msp.New(db, dir, inv, compliance.New(db, inv, cmds, pub), events.NewStore(db), nil).WithCommands(cmds)
	var canary, rest inventory.Device
	for i, d := range []*inventory.Device{&canary, &rest} {
		if *d, err = inv.Record(tctx, inventory.Report{Platform: inventory.Apple, Identifier: fmt.Sprintf("MAC-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := inv.CreateGroup(tctx, "Canary")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.SetMembers(tctx, g.ID, []uuid.UUID{canary.ID}, true); err != nil {
		t.Fatal(err)
	}
	item := func(name string) []msp.Item {
		return []msp.Item{{Key: "screensaver", AppleProfile: &msp.AppleProfile{Profile: mobileconfig("com.msp.screensaver", name)}}}
	}
	b, err := s.CreateBaseline(ctx, tn.MSPID, "Desktops", item("v1"), "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, tn.MSPID, b.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRings(ctx, tn.MSPID, b.ID, []msp.Ring{{Name: "canary", Targets: []string{"group:Canary", "tenant:" + tn.Slug}}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("a ring of a group and a tenant: %v", err)
	}
	if _, err := s.SetRings(ctx, tn.MSPID, b.ID, []msp.Ring{{Name: "canary", Targets: []string{"group:Canary"}, SoakHours: 24}}); err != nil {
		t.Fatal(err)
	}
	tags := func(d inventory.Device) []string {
		t.Helper()
		cs, err := cmds.ListForDevice(tctx, d.ID, uuid.Nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.CreatedBy)
		}
		return out
	}
	apply := func() {
		t.Helper()
		if _, err := s.Apply(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	apply()
	if len(tags(canary)) != 1 || len(tags(rest)) != 1 {
		t.Fatalf("version 1 everywhere: %v %v", tags(canary), tags(rest))
	}
	if _, err := s.SetItems(ctx, tn.MSPID, b.ID, item("v2"), "mo"); err != nil {
		t.Fatal(err)
	}
	apply()
	if len(tags(canary)) != 2 || len(tags(rest)) != 1 {
		t.Errorf("version 2 to the canary group only: the canary's %v, the rest's %v", tags(canary), tags(rest))
	}
	ds, err := s.DriftOf(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	byGroup := map[string]int{}
	for _, d := range ds {
		byGroup[d.Group] = d.Version
	}
	if len(ds) != 2 || byGroup[""] != 1 || byGroup["Canary"] != 2 {
		t.Errorf("drift of the tenant and of its canary group: %+v", ds)
	}
	// Version 1 never reached the canary (version 2 superseded it: it was
	// canceled, not sent); the canary refuses version 2: the soaked ring
	// holds its version.
	if cs, _ := cmds.ListForDevice(tctx, canary.ID, uuid.Nil, 10); len(cs) != 2 || cs[1].Status != commands.Canceled {
		t.Errorf("the canary's superseded version 1: %+v", cs)
	}
	for _, st := range []commands.Status{commands.Error} {
		if err := db.Tx(tctx, func(tx pgx.Tx) error {
			c, err := cmds.NextTx(tctx, tx, canary.ID)
			if err != nil || c == nil {
				return fmt.Errorf("next: %+v %v", c, err)
			}
			_, err = cmds.CompleteTx(tctx, tx, canary.ID, c.ID, commands.Outcome{Status: st, Error: map[commands.Status]string{commands.Error: "refused"}[st]})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.AutoPromote(ctx, tn.MSPID, time.Now().Add(25*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("a soaked group ring whose devices refused it: promoted %v, %v", got, err)
	}
	if _, err := s.Promote(ctx, tn.MSPID, b.ID, msp.Everyone); err != nil {
		t.Fatal(err)
	}
	apply()
	if len(tags(canary)) != 2 || len(tags(rest)) != 2 {
		t.Errorf("promoted to everyone: the canary's %v, the rest's %v", tags(canary), tags(rest))
	}
}

// The dry run of a new version says, for each tenant it would reach (its
// first ring), what changes and how many devices that touches; nothing
// changes.
func TestPreviewItems(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a := testenv.Tenant(t, dir)
	b, err := dir.CreateTenant(ctx, a.MSPID, "pb-"+uuid.NewString()[:6], "B")
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	cmds := commands.New(db, inv, pub, commands.WithChecker(inventory.Windows, windows.Commands{}))
	s := msp.New(db, dir, inv, compliance.New(db, inv, cmds, pub), events.NewStore(db), nil).WithCommands(cmds)
	for tn, reports := range map[tenancy.Tenant][]inventory.Report{
		a: {{Platform: inventory.Windows, Identifier: "PA-1"}, {Platform: inventory.Windows, Identifier: "PA-2"}, {Platform: inventory.Apple, Identifier: "MA-1"}},
		b: {{Platform: inventory.Windows, Identifier: "PB-1"}},
	} {
		for _, r := range reports {
			if _, err := inv.Record(tenancy.WithTenant(ctx, tn.ID), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	disk := msp.Item{Key: "disk", Rule: compliance.Rule{Name: "Disk", Kind: compliance.DiskEncrypted, Enabled: true}}
	lock := msp.Item{Key: "lock", WindowsSettings: &msp.WindowsSettings{Name: "Lock", Settings: []msp.Setting{
		{LocURI: "./Device/Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock", Value: "5"}}}}
	base, err := s.CreateBaseline(ctx, a.MSPID, "Standard", []msp.Item{disk}, "mo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assign(ctx, a.MSPID, base.ID, []string{"all"}); err != nil {
		t.Fatal(err)
	}
	reach := func(items []msp.Item) map[string]msp.Preview {
		t.Helper()
		ps, err := s.PreviewItems(ctx, a.MSPID, base.ID, items)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]msp.Preview{}
		for _, p := range ps {
			out[p.Tenant.Slug] = p
		}
		return out
	}
	got := reach([]msp.Item{disk, lock})
	if got[a.Slug].Devices != 2 || got[b.Slug].Devices != 1 || len(got[a.Slug].Changes) != 1 || got[a.Slug].Changes[0] != (msp.Change{Item: "lock", Kind: msp.ItemWindowsSettings, Change: "added"}) {
		t.Errorf("adding Windows settings: %+v", got)
	}
	// Removing the rule for every device touches every device.
	if got := reach(nil); got[a.Slug].Devices != 3 || got[a.Slug].Changes[0].Change != "removed" {
		t.Errorf("removing the rule: %+v", got[a.Slug])
	}
	// With a ring, the new version reaches the first ring only.
	if _, err := s.SetRings(ctx, a.MSPID, base.ID, []msp.Ring{{Name: "pilot", Targets: []string{"tenant:" + b.Slug}}}); err != nil {
		t.Fatal(err)
	}
	if got := reach([]msp.Item{disk, lock}); len(got) != 1 || got[b.Slug].Devices != 1 {
		t.Errorf("with a pilot ring: %+v", got)
	}
	if _, err := s.PreviewItems(ctx, a.MSPID, base.ID, []msp.Item{{Key: "Bad Key", Rule: disk.Rule}}); !fault.Is(err, fault.Invalid) {
		t.Errorf("bad items: %v", err)
	}
	if bs, _ := s.Baselines(ctx, a.MSPID); bs[0].Version != 1 {
		t.Errorf("a dry run made version %d", bs[0].Version)
	}
}
