package msp

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/compliance"
)

// An override changes a value of the item it is for, by the item's kind:
// a rule's params, an Android policy fragment's settings, Windows
// settings' values (not their nodes). An Apple profile can only be turned
// off. They are kept in baseline_overrides.params as one object, a rule's
// params at its top level (as they always were).
type storedValues struct {
	compliance.Params
	Android  *android.Fragment `json:"android_policy,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
}

// checkValues refuses values the item's kind does not take, and changed
// values that make a bad item (naming the field); it answers them as
// kept (nil for none).
func (s *Service) checkValues(it Item, o Override) ([]byte, error) {
	kind := it.Kind()
	for _, v := range []struct {
		field, kind string
		set         bool
	}{{"params", ItemRule, o.Params != nil}, {"android_policy", ItemAndroidPolicy, o.Android != nil}, {"settings", ItemWindowsSettings, len(o.Settings) > 0}} {
		if v.set && kind != v.kind {
			return nil, fault.InvalidField(v.field, fmt.Sprintf("the item %q is a %s: its %s cannot be changed (it can be turned off)", o.Item, kind, v.field))
		}
	}
	changed := it.withValues(o)
	switch {
	case o.Params != nil:
		if err := changed.Rule.Check(); err != nil {
			return nil, fault.InvalidField("params", err.Error())
		}
		return json.Marshal(o.Params)
	case o.Android != nil:
		if err := changed.AndroidPolicy.Check(); err != nil {
			return nil, fault.InvalidField("android_policy", err.Error())
		}
		return json.Marshal(storedValues{Android: o.Android})
	case len(o.Settings) > 0:
		for uri := range o.Settings {
			if !slices.ContainsFunc(it.WindowsSettings.Settings, func(x Setting) bool { return x.LocURI == uri }) {
				return nil, fault.InvalidField("settings", fmt.Sprintf("the item %q sets no %s", o.Item, uri))
			}
		}
		if s.cmds != nil {
			d := changed.deployment(uuid.Nil, it.Key)
			if err := s.cmds.Check(d.Platform, d.Kind, d.Payload); err != nil {
				return nil, fault.InvalidField("settings", err.Error())
			}
		}
		return json.Marshal(storedValues{Settings: o.Settings})
	}
	return nil, nil
}

// readValues takes the override's kept values.
func (o *Override) readValues(raw []byte) {
	if raw == nil {
		return
	}
	var v storedValues
	_ = json.Unmarshal(raw, &v)
	switch {
	case v.Android != nil:
		o.Android = v.Android
	case len(v.Settings) > 0:
		o.Settings = v.Settings
	default:
		o.Params = &v.Params
	}
}

// withValues is it with o's values in place: a copy that shares nothing
// it changes with it.
func (it Item) withValues(o Override) Item {
	switch {
	case it.Kind() == ItemRule && o.Params != nil:
		it.Rule.Params = *o.Params
	case it.AndroidPolicy != nil && o.Android != nil:
		f := it.AndroidPolicy.With(*o.Android)
		it.AndroidPolicy = &f
	case it.WindowsSettings != nil && len(o.Settings) > 0:
		w := *it.WindowsSettings
		w.Settings = slices.Clone(w.Settings)
		for i, x := range w.Settings {
			if v, ok := o.Settings[x.LocURI]; ok {
				w.Settings[i].Value = v
			}
		}
		it.WindowsSettings = &w
	}
	return it
}
