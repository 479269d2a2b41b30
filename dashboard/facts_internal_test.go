package dashboard

import (
	"encoding/json"
	"testing"

	"github.com/tridentmdm/trident/services/inventory"
)

// The device page reads as a person would (issue 24: "bitlocker status
// 1", sizes in MB, apps as JSON text): named facts, human units and
// states, and the apps as a table of their own.
func TestReadableFacts(t *testing.T) {
	facts, _ := json.Marshal(map[string]any{"bitlocker_status": 1, "firewall_status": 0, "antivirus_status": 1, "ram_mb": 16384,
		"storage_capacity_mb": 512000, "disk_encrypted": true, "tpm_version": "2.0", "wifi_mac": "aa:bb"})
	got := map[string]string{}
	fs, apps := readableFacts(inventory.Device{Platform: inventory.Windows, Facts: facts})
	for _, f := range fs {
		got[f.Name] = f.Value
	}
	for name, want := range map[string]string{"BitLocker": "not as the policy requires (status 1)", "Firewall": "on",
		"Antivirus": "off", "Memory": "16 GB", "Storage": "500 GB", "Disk encrypted": "yes", "TPM version": "2.0", "Wi-Fi MAC": "aa:bb"} {
		if got[name] != want {
			t.Errorf("%s: %q; want %q (all: %v)", name, got[name], want, got)
		}
	}
	if len(apps) != 0 {
		t.Errorf("apps: %v", apps)
	}
	facts, _ = json.Marshal(map[string]any{"storage_capacity_gb": 128, "supervised": false,
		"installed_apps": []map[string]any{{"identifier": "com.example.vpn", "name": "VPN", "version": "2.1"}, {"identifier": "com.apple.Pages", "name": "Pages", "version": "14"}}})
	fs, apps = readableFacts(inventory.Device{Platform: inventory.Apple, Facts: facts})
	got = map[string]string{}
	for _, f := range fs {
		got[f.Name] = f.Value
	}
	if got["Storage"] != "128 GB" || got["Supervised"] != "no" || got["Installed apps"] != "" {
		t.Errorf("Apple facts: %v", got)
	}
	if len(apps) != 2 || apps[0].Name != "Pages" || apps[1].Identifier != "com.example.vpn" || apps[1].Version != "2.1" {
		t.Errorf("apps, by name: %+v", apps)
	}
	for id, want := range map[string]string{"iPhone15,2": "iPhone 14 Pro", "MacBookPro18,3": "MacBook Pro (14-inch, 2021)", "Surface Pro 9": "Surface Pro 9"} {
		if got := inventory.ModelName(id); got != want {
			t.Errorf("ModelName(%s) = %q; want %q", id, got, want)
		}
	}
}
