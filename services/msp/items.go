package msp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Item is one configuration item of a baseline, named by a key that
// stays the same across versions: a compliance rule (Rule), or what each
// device of a platform is sent once per version of it (AppleProfile,
// WindowsSettings), or a fragment of the tenant's Android policies
// (AndroidPolicy). Exactly one is set.
type Item struct {
	Key             string           `json:"key"`
	Rule            compliance.Rule  `json:"rule,omitzero"`
	AppleProfile    *AppleProfile    `json:"apple_profile,omitempty"`
	WindowsSettings *WindowsSettings `json:"windows_settings,omitempty"`
	// AndroidPolicy is laid over each of the tenant's Android policies.
	AndroidPolicy *android.Fragment `json:"android_policy,omitempty"`
}

// AppleProfile is a configuration profile every Apple device of the
// tenant installs (InstallProfile).
type AppleProfile struct {
	Profile    []byte `json:"profile"`    // the .mobileconfig, an unsigned property list
	Identifier string `json:"identifier"` // its PayloadIdentifier, read from it
	Name       string `json:"name"`       // its PayloadDisplayName, read from it
}

// WindowsSettings are OMA-DM settings every Windows device of the tenant
// applies (the apply_settings command).
type WindowsSettings struct {
	Name     string    `json:"name"`
	Settings []Setting `json:"settings"`
	Atomic   bool      `json:"atomic,omitempty"`
}

// Setting is one OMA-DM node to set, as apply_settings takes it.
type Setting struct {
	LocURI string `json:"loc_uri"`
	Value  string `json:"value"`
	Format string `json:"format,omitempty"`
	Action string `json:"action,omitempty"`
}

// Kinds of item.
const (
	ItemRule            = "rule"
	ItemAppleProfile    = "apple_profile"
	ItemWindowsSettings = "windows_settings"
	ItemAndroidPolicy   = "android_policy"
)

// Kind is which of its kinds the item is.
func (it Item) Kind() string {
	switch {
	case it.AppleProfile != nil:
		return ItemAppleProfile
	case it.WindowsSettings != nil:
		return ItemWindowsSettings
	case it.AndroidPolicy != nil:
		return ItemAndroidPolicy
	}
	return ItemRule
}

// platform is the platform whose devices the item touches ("" every
// device).
func (it Item) platform() inventory.Platform {
	switch it.Kind() {
	case ItemAppleProfile:
		return inventory.Apple
	case ItemWindowsSettings:
		return inventory.Windows
	case ItemAndroidPolicy:
		return inventory.Android
	}
	if f := inventory.Family(it.Rule.Platform); f.Valid() {
		return f.Platform()
	}
	return it.Rule.Platform
}

// Deployed reports whether the item is a command each device is sent.
func (it Item) Deployed() bool { return it.AppleProfile != nil || it.WindowsSettings != nil }

// Title is what people call the item: its rule's, profile's or
// settings' name.
func (it Item) Title() string {
	switch {
	case it.AppleProfile != nil:
		return it.AppleProfile.Name
	case it.WindowsSettings != nil:
		return it.WindowsSettings.Name
	case it.AndroidPolicy != nil:
		return it.AndroidPolicy.Name
	}
	return it.Rule.Name
}

// MaxProfileBytes bounds an Apple profile item.
const MaxProfileBytes = 512 << 10

// check says what is wrong with the item (field is its place, items[i]),
// filling in what an Apple profile says of itself; check is the
// platform's own check of the command an item becomes.
func (it *Item) check(field string, check func(inventory.Platform, string, map[string]any) error) error {
	set := 0
	for _, on := range []bool{it.Rule.Kind != "", it.AppleProfile != nil, it.WindowsSettings != nil, it.AndroidPolicy != nil} {
		if on {
			set++
		}
	}
	if set != 1 {
		return fault.InvalidField(field, "one of rule, apple_profile, windows_settings or android_policy")
	}
	switch it.Kind() {
	case ItemAndroidPolicy:
		if err := it.AndroidPolicy.Check(); err != nil {
			return fault.InvalidField(field+".android_policy", err.Error())
		}
		return nil
	case ItemAppleProfile:
		return it.AppleProfile.read(field + ".apple_profile.profile")
	case ItemWindowsSettings:
		w := it.WindowsSettings
		if n := len(w.Name); n == 0 || n > 200 {
			return fault.InvalidField(field+".windows_settings.name", "1 to 200 characters")
		}
		d := it.deployment(uuid.Nil, "")
		if err := check(d.Platform, d.Kind, d.Payload); err != nil {
			return fault.InvalidField(field+".windows_settings", err.Error())
		}
		return nil
	}
	if err := it.Rule.Check(); err != nil {
		return fault.InvalidField(field+".rule", err.Error())
	}
	return nil
}

// read checks that the profile is an unsigned configuration profile and
// takes its identifier and name from it.
func (p *AppleProfile) read(field string) error {
	if len(p.Profile) == 0 || len(p.Profile) > MaxProfileBytes {
		return fault.InvalidField(field, fmt.Sprintf("a .mobileconfig of 1 byte to %d KiB", MaxProfileBytes>>10))
	}
	var top struct {
		PayloadType        string
		PayloadIdentifier  string
		PayloadUUID        string
		PayloadDisplayName string
		PayloadContent     []map[string]any
	}
	if err := plist.NewDecoder(bytes.NewReader(p.Profile)).Decode(&top); err != nil {
		return fault.InvalidField(field, "not a property list (a signed profile is not taken: upload it unsigned): "+err.Error())
	}
	switch {
	case top.PayloadType != "Configuration":
		return fault.InvalidField(field, fmt.Sprintf("PayloadType is %q, not Configuration", top.PayloadType))
	case top.PayloadIdentifier == "" || len(top.PayloadIdentifier) > 255:
		return fault.InvalidField(field, "no PayloadIdentifier (of at most 255 characters)")
	case top.PayloadUUID == "":
		return fault.InvalidField(field, "no PayloadUUID")
	}
	p.Identifier, p.Name = top.PayloadIdentifier, top.PayloadDisplayName
	if p.Name == "" {
		p.Name = top.PayloadIdentifier
	}
	return nil
}

// deployment is what the item sends each device, tagged with its
// baseline, key and content (a new version of the content is a new tag).
func (it Item) deployment(baseline uuid.UUID, key string) commands.Deployment {
	var d commands.Deployment
	switch it.Kind() {
	case ItemAppleProfile:
		d = commands.Deployment{Kind: "install_profile",
			Payload: map[string]any{"profile": base64.StdEncoding.EncodeToString(it.AppleProfile.Profile)}}
	case ItemWindowsSettings:
		settings := make([]any, len(it.WindowsSettings.Settings))
		for i, s := range it.WindowsSettings.Settings {
			settings[i] = map[string]any{"loc_uri": s.LocURI, "value": s.Value, "format": s.Format, "action": s.Action}
		}
		d = commands.Deployment{Kind: "apply_settings",
			Payload: map[string]any{"settings": settings, "atomic": it.WindowsSettings.Atomic}}
	default:
		return d
	}
	d.Platform = it.platform()
	body, _ := json.Marshal(d.Payload)
	sum := sha256.Sum256(body)
	d.Tag = itemPrefix(baseline, key) + hex.EncodeToString(sum[:6])
	return d
}

// removeProfilesTx takes off the tenant's devices the baselines' Apple
// profiles that are no longer effective there (the item removed, the
// baseline no longer for the tenant, or turned off in it): each device
// that installed one gets RemoveProfile with its identifier, once.
func (s *Service) removeProfilesTx(ctx context.Context, tx pgx.Tx, t tenancy.Tenant, eff []Effective) (queued int, more bool, err error) {
	if s.cmds == nil {
		return 0, false, nil
	}
	deployed, err := s.cmds.DeployedItems(ctx, tx, "install_profile")
	if err != nil {
		return 0, false, err
	}
	live := map[string]bool{}
	for _, e := range eff {
		if e.Item.AppleProfile != nil && (e.Override == nil || !e.Override.Disabled) {
			live[itemPrefix(e.Baseline.ID, e.Item.Key)] = true
		}
	}
	for _, prefix := range deployed {
		if live[prefix] {
			continue
		}
		id, err := s.profileIdentifier(ctx, t.MSPID, prefix)
		if err != nil || id == "" {
			return queued, more, err // a baseline no longer there leaves its profiles
		}
		r, left, err := s.cmds.DeployTx(ctx, tx, commands.Deployment{Tag: prefix + "removed", Kind: "remove_profile",
			Payload: map[string]any{"identifier": id}, Platform: inventory.Apple, Undo: true}, true)
		if err != nil {
			return queued, more, err
		}
		queued, more = queued+r.Queued, more || left
	}
	return queued, more, nil
}

// itemPrefix is the tag of an item's commands up to their content.
func itemPrefix(baseline uuid.UUID, key string) string {
	return "baseline:" + baseline.String() + ":" + key + ":"
}

// profileIdentifier is the PayloadIdentifier of the Apple profile item a
// tag prefix names, from the newest version of its baseline that has it
// ("" when its baseline is gone).
func (s *Service) profileIdentifier(ctx context.Context, msp uuid.UUID, prefix string) (string, error) {
	parts := strings.Split(prefix, ":")
	id, err := uuid.Parse(parts[1])
	if err != nil || len(parts) < 3 {
		return "", nil
	}
	bs, err := s.Baselines(ctx, msp)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(bs, func(b Baseline) bool { return b.ID == id })
	if i < 0 {
		return "", nil
	}
	for v := bs[i].Version; v >= 1; v-- {
		items, err := s.versionItems(ctx, msp, bs[i], v)
		if err != nil {
			return "", err
		}
		if j := slices.IndexFunc(items, func(it Item) bool { return it.Key == parts[2] && it.AppleProfile != nil }); j >= 0 {
			return items[j].AppleProfile.Identifier, nil
		}
	}
	return "", nil
}
