package compliance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/services/inventory"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	seen := now.Add(-3 * time.Hour)
	facts, _ := json.Marshal(map[string]any{"disk_encrypted": true, "passcode_present": false,
		"installed_apps": []map[string]any{{"identifier": "com.example.vpn"}, {"identifier": "com.example.game"}}})
	d := inventory.Device{OSVersion: "17.4.1", LastSeenAt: &seen, Facts: facts}
	bare := inventory.Device{Facts: json.RawMessage(`{}`)}
	for _, c := range []struct {
		name string
		rule Rule
		dev  inventory.Device
		want bool
	}{
		{"os new enough", Rule{Kind: OSVersionMin, Params: Params{Version: "17.4"}}, d, true},
		{"os too old", Rule{Kind: OSVersionMin, Params: Params{Version: "17.10"}}, d, false},
		{"os unknown", Rule{Kind: OSVersionMin, Params: Params{Version: "1"}}, bare, false},
		{"encrypted", Rule{Kind: DiskEncrypted}, d, true},
		{"no passcode", Rule{Kind: PasscodeSet}, d, false},
		{"firewall unknown", Rule{Kind: FirewallEnabled}, d, false},
		{"seen within 4h", Rule{Kind: CheckedInWithin, Params: Params{Hours: 4}}, d, true},
		{"not seen within 2h", Rule{Kind: CheckedInWithin, Params: Params{Hours: 2}}, d, false},
		{"never seen", Rule{Kind: CheckedInWithin, Params: Params{Hours: 2}}, bare, false},
		{"vpn required, present", Rule{Kind: AppRequired, Params: Params{Identifier: "com.example.vpn"}}, d, true},
		{"app required, missing", Rule{Kind: AppRequired, Params: Params{Identifier: "com.example.mdm"}}, d, false},
		{"app required, apps unknown", Rule{Kind: AppRequired, Params: Params{Identifier: "x"}}, bare, false},
		{"game forbidden, present", Rule{Kind: AppForbidden, Params: Params{Identifier: "com.example.game"}}, d, false},
		{"forbidden app absent", Rule{Kind: AppForbidden, Params: Params{Identifier: "com.example.other"}}, d, true},
	} {
		if got, detail := check(c.rule, c.dev, now); got != c.want || detail == "" {
			t.Errorf("%s: %v (%q), want %v", c.name, got, detail, c.want)
		}
	}
	for _, bad := range []Rule{
		{Name: "", Kind: PasscodeSet},
		{Name: "x", Kind: "teleport"},
		{Name: "x", Kind: OSVersionMin, Params: Params{Version: "seventeen"}},
		{Name: "x", Kind: CheckedInWithin},
		{Name: "x", Kind: AppRequired},
		{Name: "x", Kind: PasscodeSet, Platform: "palm"},
		{Name: "x", Kind: PasscodeSet, Remediation: Remediation{Command: "self_destruct"}},
	} {
		if bad.validate() == nil {
			t.Errorf("rule %+v accepted", bad)
		}
	}
}

// A rule's remediation shows its command's secrets redacted wherever it is
// marshalled for people (API, dashboard, events), and is stored whole for
// the evaluation that queues the command.
func TestRemediationSecretsRedacted(t *testing.T) {
	r := Rule{Name: "locked", Kind: PasscodeSet, Remediation: Remediation{Command: "lock", Payload: map[string]any{"pin": "123456", "message": "call IT"}}}
	shown, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(shown), "123456") || !strings.Contains(string(shown), "call IT") {
		t.Fatalf("shown: %s", shown)
	}
	if stored := string(r.Remediation.stored()); !strings.Contains(stored, "123456") {
		t.Fatalf("stored: %s", stored)
	}
	if r.Remediation.Payload["pin"] != "123456" {
		t.Fatal("marshalling changed the rule")
	}
}
