package dashboard

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tridentmdm/trident/services/inventory"
)

// fact is one of a device's facts, for the page.
type fact struct{ Name, Value string }

// app is an installed application, for the device page's apps table.
type app struct{ Name, Identifier, Version string }

// factNames are the facts' names as people write them; others are their
// key with spaces.
var factNames = map[string]string{
	"os_version": "OS version", "build_version": "OS build", "os_platform": "OS platform", "model_name": "Model name",
	"model_number": "Model number", "imei": "IMEI", "meid": "MEID", "wifi_mac": "Wi-Fi MAC", "bluetooth_mac": "Bluetooth MAC",
	"tpm_version": "TPM version", "bitlocker_status": "BitLocker", "firewall_status": "Firewall", "antivirus_status": "Antivirus",
	"ram_mb": "Memory", "storage_capacity_mb": "Storage", "storage_capacity_gb": "Storage", "storage_available_gb": "Storage available",
	"storage_available_mb": "Storage available",
}

// deviceStatus are Windows' DeviceStatus CSP states of the firewall and
// the antivirus (Microsoft's DeviceStatus CSP reference).
var deviceStatus = map[int]string{0: "on", 1: "off", 2: "partly off (some networks or rules)", 3: "temporarily not monitoring everything", 4: "not applicable"}

// readableFacts are the device's facts as a person reads them, by name,
// and its installed apps, by name.
func readableFacts(d inventory.Device) ([]fact, []app) {
	var m map[string]any
	_ = json.Unmarshal(d.Facts, &m)
	var apps []app
	out := make([]fact, 0, len(m))
	for k, v := range m {
		if k == "installed_apps" {
			apps = appsOf(v)
			continue
		}
		if k == inventory.UserFact {
			continue // shown as the device's user
		}
		name, ok := factNames[k]
		if !ok {
			name = capitalize(strings.ReplaceAll(k, "_", " "))
		}
		out = append(out, fact{Name: name, Value: factValue(k, v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	sort.Slice(apps, func(i, j int) bool { return strings.ToLower(apps[i].Name) < strings.ToLower(apps[j].Name) })
	return out, apps
}

func factValue(key string, v any) string {
	n, isNumber := v.(float64)
	switch {
	case key == "bitlocker_status" && isNumber:
		// BitLocker CSP, Status/DeviceEncryptionStatus: 0 is compliant;
		// anything else is a bitmask of what is not.
		if n == 0 {
			return "encrypted as the policy requires"
		}
		return fmt.Sprintf("not as the policy requires (status %d)", int(n))
	case (key == "firewall_status" || key == "antivirus_status") && isNumber:
		if s, ok := deviceStatus[int(n)]; ok {
			return s
		}
	case strings.HasSuffix(key, "_mb") && isNumber:
		return size(n / 1024)
	case strings.HasSuffix(key, "_gb") && isNumber:
		return size(n)
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case string:
		return x
	case []any:
		var names []string
		for _, e := range x {
			if o, ok := e.(map[string]any); ok {
				if s, ok := o["name"].(string); ok && s != "" {
					names = append(names, s)
					continue
				}
			}
			b, _ := json.Marshal(e)
			names = append(names, string(b))
		}
		return strings.Join(names, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// size is gigabytes as people write them: 16 GB, 1.5 GB, 2 TB.
func size(gb float64) string {
	unit := "GB"
	if gb >= 1000 {
		gb, unit = gb/1024, "TB"
	}
	s := strconv.FormatFloat(gb, 'f', 1, 64)
	if gb >= 10 {
		s = strconv.FormatFloat(gb, 'f', 0, 64)
	}
	return strings.TrimSuffix(s, ".0") + " " + unit
}

func appsOf(v any) []app {
	list, _ := v.([]any)
	out := make([]app, 0, len(list))
	for _, e := range list {
		o, _ := e.(map[string]any)
		s := func(k string) string { x, _ := o[k].(string); return x }
		a := app{Name: s("name"), Identifier: s("identifier"), Version: s("version")}
		if a.Name == "" {
			a.Name = a.Identifier
		}
		out = append(out, a)
	}
	return out
}
