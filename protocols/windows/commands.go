package windows

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/protocols/windows/wire"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// Commands checks, when a command is queued for a Windows device, that it
// can be sent: Windows devices take their commands in their next
// management session (Next), so there is no platform queue to fill.
type Commands struct{}

var _ commands.Checker = Commands{}

// Check implements commands.Checker.
func (Commands) Check(_ inventory.Device, c commands.Command) error {
	_, err := toWire(c)
	return err
}

// inventoryNodes are what device_information asks for, and the fact
// each answers (OMA-DM DevInfo and DevDetail, and the DeviceStatus and
// BitLocker CSPs).
var inventoryNodes = []struct{ uri, fact string }{
	{"./DevDetail/SwV", "os_version"},
	{"./DevDetail/Ext/Microsoft/DeviceName", "name"},
	{"./DevInfo/Man", "manufacturer"},
	{"./DevInfo/Mod", "model"},
	{"./DevDetail/Ext/Microsoft/SMBIOSSerialNumber", "serial_number"},
	{"./DevDetail/Ext/Microsoft/OSPlatform", "os_platform"},
	{"./DevDetail/Ext/Microsoft/LocalTime", "local_time"},
	{"./DevDetail/Ext/Microsoft/TotalStorage", "storage_capacity_mb"},
	{"./DevDetail/Ext/Microsoft/TotalRAM", "ram_mb"},
	{"./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance", "disk_encrypted"},
	{"./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus", "bitlocker_status"},
	{"./Vendor/MSFT/DeviceStatus/Firewall/Status", "firewall_status"},
	{"./Vendor/MSFT/DeviceStatus/Antivirus/Status", "antivirus_status"},
	{"./Vendor/MSFT/DeviceStatus/TPM/SpecificationVersion", "tpm_version"},
}

// securityNodes are what security_info asks for.
var securityNodes = inventoryNodes[9:]

// Settings are an apply_settings payload: a profile, as OMA-DM settings.
type Settings struct {
	Settings []Setting `json:"settings"`
	// Atomic applies all or none (SyncML Atomic); otherwise each setting
	// stands alone and reports its own status.
	Atomic bool `json:"atomic"`
}

// Setting is one OMA-DM node to set: a Policy CSP setting
// (./Device/Vendor/MSFT/Policy/Config/Area/Name) or any other CSP node.
type Setting struct {
	LocURI string `json:"loc_uri"`
	Value  string `json:"value"`
	Format string `json:"format"` // int (default), chr, bool, b64, xml, float, null
	Action string `json:"action"` // replace (default), add, delete
}

// Limits of apply_settings and query_settings payloads.
const (
	maxSettings      = 200
	maxSettingsBytes = 256 << 10
)

var formats = map[string]bool{"int": true, "chr": true, "bool": true, "b64": true, "xml": true, "float": true, "null": true, "date": true, "time": true}

func checkURI(field, uri string) error {
	if !strings.HasPrefix(uri, "./") || len(uri) > 1024 || strings.ContainsFunc(uri, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return fault.InvalidField(field, fmt.Sprintf("%q is not an OMA-DM node URI (./Device/Vendor/MSFT/...; at most 1024 characters, no spaces)", uri))
	}
	return nil
}

// toWire is the SyncML commands a Trident command becomes. Each part's
// CmdID is "<command id>.<n>" (an Atomic is "<command id>" and holds the
// parts), so the device's answers find the command.
func toWire(c commands.Command) ([]wire.Command, error) {
	id := c.ID.String()
	part := func(n int) string { return id + "." + strconv.Itoa(n) }
	exec := func(uri string) []wire.Command {
		return []wire.Command{{XMLName: xml.Name{Local: "Exec"}, CmdID: part(1), Items: []wire.Item{{Target: &wire.Loc{LocURI: uri}}}}}
	}
	gets := func(uris []string) []wire.Command {
		out := make([]wire.Command, len(uris))
		for i, u := range uris {
			out[i] = wire.Command{XMLName: xml.Name{Local: "Get"}, CmdID: part(i + 1), Items: []wire.Item{{Target: &wire.Loc{LocURI: u}}}}
		}
		return out
	}
	switch c.Kind {
	case "device_information", "security_info":
		nodes := inventoryNodes
		if c.Kind == "security_info" {
			nodes = securityNodes
		}
		uris := make([]string, len(nodes))
		for i, n := range nodes {
			uris[i] = n.uri
		}
		return gets(uris), nil
	case "lock":
		return exec("./Device/Vendor/MSFT/RemoteLock/Lock"), nil
	case "restart":
		return exec("./Device/Vendor/MSFT/Reboot/RebootNow"), nil
	case "erase":
		return exec("./Device/Vendor/MSFT/RemoteWipe/doWipe"), nil
	case "query_settings":
		var p struct {
			LocURIs []string `json:"loc_uris"`
		}
		if err := json.Unmarshal(c.Payload, &p); err != nil || len(p.LocURIs) == 0 || len(p.LocURIs) > maxSettings {
			return nil, fault.InvalidField("payload.loc_uris", fmt.Sprintf("must list 1 to %d node URIs", maxSettings))
		}
		for _, u := range p.LocURIs {
			if err := checkURI("payload.loc_uris", u); err != nil {
				return nil, err
			}
		}
		return gets(p.LocURIs), nil
	case "apply_settings":
		if len(c.Payload) > maxSettingsBytes {
			return nil, fault.InvalidField("payload", fmt.Sprintf("is larger than %d KiB", maxSettingsBytes>>10))
		}
		var p Settings
		if err := json.Unmarshal(c.Payload, &p); err != nil {
			return nil, fault.InvalidField("payload", err.Error())
		}
		if len(p.Settings) == 0 || len(p.Settings) > maxSettings {
			return nil, fault.InvalidField("payload.settings", fmt.Sprintf("must hold 1 to %d settings", maxSettings))
		}
		parts := make([]wire.Command, len(p.Settings))
		for i, s := range p.Settings {
			field := fmt.Sprintf("payload.settings[%d]", i)
			if err := checkURI(field+".loc_uri", s.LocURI); err != nil {
				return nil, err
			}
			verb := map[string]string{"": "Replace", "replace": "Replace", "add": "Add", "delete": "Delete"}[s.Action]
			if verb == "" {
				return nil, fault.InvalidField(field+".action", fmt.Sprintf("%q is not replace, add or delete", s.Action))
			}
			it := wire.Item{Target: &wire.Loc{LocURI: s.LocURI}}
			if verb != "Delete" {
				f := s.Format
				if f == "" {
					f = "int"
				}
				if !formats[f] {
					return nil, fault.InvalidField(field+".format", fmt.Sprintf("%q is not an OMA-DM format (int, chr, bool, b64, xml, float, null, date, time)", f))
				}
				if f == "int" {
					if _, err := strconv.ParseInt(s.Value, 10, 64); err != nil {
						return nil, fault.InvalidField(field+".value", fmt.Sprintf("%.64q is not an integer", s.Value))
					}
				}
				if f == "bool" && s.Value != "true" && s.Value != "false" {
					return nil, fault.InvalidField(field+".value", "must be true or false")
				}
				it.Meta = &wire.Meta{Format: f}
				if f != "null" {
					it.Data = &wire.Data{Inner: s.Value}
				}
			}
			parts[i] = wire.Command{XMLName: xml.Name{Local: verb}, CmdID: part(i + 1), Items: []wire.Item{it}}
		}
		if p.Atomic {
			return []wire.Command{{XMLName: xml.Name{Local: "Atomic"}, CmdID: id, Inner: parts}}, nil
		}
		return parts, nil
	}
	return nil, fault.InvalidField("kind", fmt.Sprintf("Windows devices do not support %s", c.Kind))
}

// answer is what the device said about one part of a command.
type answer struct {
	cmd    string // the part's verb, as the Status names it
	code   int
	values map[string]string // Results: node -> value
}

// statusText names a SyncML status code.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 202:
		return "accepted for processing"
	case 215:
		return "not executed"
	case 216:
		return "atomic roll back OK"
	case 400:
		return "bad request"
	case 401:
		return "invalid credentials"
	case 403:
		return "forbidden"
	case 404:
		return "not found"
	case 405:
		return "command not allowed"
	case 406:
		return "optional feature not supported"
	case 415:
		return "unsupported type or format"
	case 418:
		return "already exists"
	case 425:
		return "permission denied"
	case 500:
		return "command failed"
	case 507:
		return "atomic failed"
	case 516:
		return "atomic roll back failed"
	}
	return "status " + strconv.Itoa(code)
}

func ok(code int) bool { return code >= 200 && code < 300 && code != 215 && code != 216 }

// PartResult is the outcome of one node of a command.
type PartResult struct {
	LocURI string `json:"loc_uri"`
	Status int    `json:"status"`
	Value  string `json:"value,omitempty"`
	Error  string `json:"error,omitempty"`
}

// outcome turns the device's answers to a command's parts into the
// command's outcome, and for inventory queries the facts learned.
func outcome(c commands.Command, parts []wire.Command, answers map[string]answer) (commands.Outcome, *inventory.Report) {
	var results []PartResult
	failed := 0
	flat := parts
	atomic, atomicSeen := answer{}, false
	if len(parts) == 1 && parts[0].XMLName.Local == "Atomic" {
		flat = parts[0].Inner
		atomic, atomicSeen = answers[parts[0].CmdID]
	}
	values := map[string]string{}
	for _, p := range flat {
		uri := ""
		if len(p.Items) > 0 && p.Items[0].Target != nil {
			uri = p.Items[0].Target.LocURI
		}
		a, seen := answers[p.CmdID]
		if !seen && atomicSeen && a.code == 0 {
			// A device may answer an Atomic only as a whole (OMA-DM 1.2
			// 6.6.3): its status stands for every part it holds.
			a.code, seen = atomic.code, true
		}
		r := PartResult{LocURI: uri, Status: a.code}
		switch {
		case !seen:
			r.Error = "the device sent no status"
		case !ok(a.code):
			r.Error = statusText(a.code)
		}
		if v, found := a.values[uri]; found {
			r.Value = v
			values[uri] = v
		}
		if r.Error != "" {
			failed++
		}
		results = append(results, r)
	}
	var atomicFail string
	if len(parts) == 1 && parts[0].XMLName.Local == "Atomic" {
		if a, seen := answers[parts[0].CmdID]; seen && !ok(a.code) {
			atomicFail = "the settings were rolled back: " + statusText(a.code)
		}
	}
	var rep *inventory.Report
	switch c.Kind {
	case "device_information", "security_info":
		rep = report(values)
		if failed == len(flat) {
			return commands.Outcome{Status: commands.Error, Result: map[string]any{"nodes": results},
				Error: "the device answered none of the inventory queries: " + results[0].Error}, nil
		}
		// Nodes a device lacks (404: no TPM, no BitLocker) are normal.
		return commands.Outcome{Status: commands.Acknowledged, Result: map[string]any{"nodes": results}}, rep
	case "query_settings":
		out := map[string]any{"nodes": results}
		if failed == len(flat) {
			return commands.Outcome{Status: commands.Error, Result: out, Error: "the device answered none of the queries"}, nil
		}
		return commands.Outcome{Status: commands.Acknowledged, Result: out}, nil
	case "apply_settings":
		out := map[string]any{"settings": results}
		if atomicFail != "" {
			return commands.Outcome{Status: commands.Error, Result: out, Error: atomicFail}, nil
		}
		if failed > 0 {
			var bad []string
			for _, r := range results {
				if r.Error != "" {
					bad = append(bad, r.LocURI+": "+r.Error)
				}
			}
			return commands.Outcome{Status: commands.Error, Result: out,
				Error: fmt.Sprintf("%d of %d settings failed: %s", failed, len(results), strings.Join(bad, "; "))}, nil
		}
		return commands.Outcome{Status: commands.Acknowledged, Result: out}, nil
	}
	// Exec commands: one part.
	r := results[0]
	if r.Error != "" {
		return commands.Outcome{Status: commands.Error, Result: map[string]any{"status": r.Status}, Error: r.Error}, nil
	}
	return commands.Outcome{Status: commands.Acknowledged, Result: map[string]any{"status": r.Status}}, nil
}

// report turns inventory answers into an inventory report.
func report(values map[string]string) *inventory.Report {
	rep := &inventory.Report{Platform: inventory.Windows, Facts: map[string]any{}}
	for _, n := range inventoryNodes {
		v, found := values[n.uri]
		if !found {
			continue
		}
		switch n.fact {
		case "os_version":
			rep.OSVersion = v
		case "name":
			rep.Name = v
		case "model":
			rep.Model = v
		case "serial_number":
			rep.SerialNumber = v
		case "disk_encrypted":
			rep.Facts[n.fact] = v == "1" || strings.EqualFold(v, "true")
		case "storage_capacity_mb", "ram_mb", "bitlocker_status", "firewall_status", "antivirus_status":
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				rep.Facts[n.fact] = i
			} else {
				rep.Facts[n.fact] = v
			}
		default:
			rep.Facts[n.fact] = v
		}
	}
	return rep
}

// partIDs lists every CmdID a command's parts answer to.
func partIDs(parts []wire.Command) []string {
	var ids []string
	for _, p := range parts {
		ids = append(ids, p.CmdID)
		ids = append(ids, partIDs(p.Inner)...)
	}
	sort.Strings(ids)
	return ids
}
