package apple

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/inventory"
)

// Service is Trident's own check-in and command service in nanomdm's
// chain, after nanomdm's core (which stores the protocol state and
// answers): it translates what devices report into the use cases of
// enrollment.Apple (the inventory, the device's identity, Trident's
// command queue), which publish device.* and command.* events.
type Service struct {
	apple *enrollment.Apple
	inv   *inventory.Inventory
	log   *slog.Logger
}

// NewService returns Trident's MDM service.
func NewService(apple *enrollment.Apple, inv *inventory.Inventory, log *slog.Logger) *Service {
	return &Service{apple: apple, inv: inv, log: log}
}

// deviceFacts are the fields of Authenticate and DeviceInformation that
// Trident keeps.
type deviceFacts struct {
	UDID, SerialNumber, DeviceName, OSVersion, BuildVersion, Model, ModelName, ProductName, IMEI, MEID string
	DeviceCapacity, AvailableDeviceCapacity                                                            float64
	IsSupervised, IsActivationLockEnabled                                                              bool
	WiFiMAC, BluetoothMAC                                                                              string
}

func (f deviceFacts) report(id string, status inventory.Status) inventory.Report {
	model := f.ProductName
	if model == "" {
		model = f.Model
	}
	facts := map[string]any{}
	for k, v := range map[string]string{"build_version": f.BuildVersion, "model_name": f.ModelName, "model_number": f.Model,
		"imei": f.IMEI, "meid": f.MEID, "wifi_mac": f.WiFiMAC, "bluetooth_mac": f.BluetoothMAC} {
		if v != "" {
			facts[k] = v
		}
	}
	if f.DeviceCapacity > 0 {
		facts["storage_capacity_gb"] = f.DeviceCapacity
		facts["storage_available_gb"] = f.AvailableDeviceCapacity
		facts["supervised"] = f.IsSupervised
		facts["activation_lock"] = f.IsActivationLockEnabled
	}
	return inventory.Report{Platform: inventory.Apple, Identifier: id, SerialNumber: f.SerialNumber, Name: f.DeviceName,
		Model: model, OSVersion: f.OSVersion, Status: status, Facts: facts}
}

func (s *Service) record(r *mdm.Request, rep inventory.Report) error {
	if r.ParentID != "" {
		return nil // a user channel; the device channel carries the device
	}
	_, err := s.inv.Record(r.Context(), rep)
	return err
}

// parseFacts reads what an Authenticate check-in says about the device.
func parseFacts(raw []byte) (deviceFacts, error) {
	var f deviceFacts
	err := plist.Unmarshal(raw, &f)
	return f, err
}

// answer is what Trident reads of a command report: the answers to the
// queries it sends (Apple's DeviceInformation, SecurityInfo,
// InstalledApplicationList and ProfileList responses).
type answer struct {
	QueryResponses *deviceFacts
	SecurityInfo   *struct {
		FDE_Enabled                      *bool
		HardwareEncryptionCaps           *int
		PasscodePresent                  *bool
		PasscodeCompliant                *bool
		SystemIntegrityProtectionEnabled *bool
		FirewallSettings                 *struct{ FirewallEnabled bool }
	}
	InstalledApplicationList []struct {
		Identifier, Name, ShortVersion, Version string
		BundleSize                              int64
	}
	ProfileList []struct {
		PayloadIdentifier, PayloadDisplayName, PayloadOrganization string
		IsManaged                                                  bool
	}
}

// facts is what an answer adds to the inventory, by fact name.
func (a answer) facts() map[string]any {
	f := map[string]any{}
	if si := a.SecurityInfo; si != nil {
		// Macs report FileVault; iOS devices encrypt when a passcode is set
		// and the hardware can (HardwareEncryptionCaps 3: block and file).
		switch {
		case si.FDE_Enabled != nil:
			f["disk_encrypted"] = *si.FDE_Enabled
		case si.HardwareEncryptionCaps != nil && si.PasscodePresent != nil:
			f["disk_encrypted"] = *si.HardwareEncryptionCaps&3 == 3 && *si.PasscodePresent
		}
		if si.PasscodePresent != nil {
			f["passcode_present"] = *si.PasscodePresent
		}
		if si.PasscodeCompliant != nil {
			f["passcode_compliant"] = *si.PasscodeCompliant
		}
		if si.SystemIntegrityProtectionEnabled != nil {
			f["sip_enabled"] = *si.SystemIntegrityProtectionEnabled
		}
		if si.FirewallSettings != nil { // macOS only
			f["firewall_enabled"] = si.FirewallSettings.FirewallEnabled
		}
	}
	if a.InstalledApplicationList != nil {
		apps := make([]map[string]any, 0, len(a.InstalledApplicationList))
		for _, app := range a.InstalledApplicationList {
			v := app.ShortVersion
			if v == "" {
				v = app.Version
			}
			apps = append(apps, map[string]any{"identifier": app.Identifier, "name": app.Name, "version": v})
		}
		f["installed_apps"] = apps
	}
	if a.ProfileList != nil {
		profiles := make([]map[string]any, 0, len(a.ProfileList))
		for _, p := range a.ProfileList {
			profiles = append(profiles, map[string]any{"identifier": p.PayloadIdentifier, "name": p.PayloadDisplayName,
				"organization": p.PayloadOrganization, "managed": p.IsManaged})
		}
		f["profiles"] = profiles
	}
	return f
}

// parseAnswer reads a command report's DeviceInformation answer, if any.
func parseAnswer(raw []byte) (answer, error) {
	var a answer
	err := plist.Unmarshal(raw, &a)
	return a, err
}

// Authenticate records a device starting to enroll, and binds its
// identity certificate to it.
// Admit refuses a device whose first message would take the tenant past
// its device limit (enrollment.Apple.Admit); a user channel is its
// device's. It runs before nanomdm's core names the enrollment, so it
// reads the message's (the core names a device by its channel's id).
func (s *Service) Admit(r *mdm.Request, e *mdm.Enrollment) error {
	id := e.Resolved()
	if id == nil || id.IsUserChannel {
		return nil
	}
	return s.apple.Admit(r.Context(), id.DeviceChannelID)
}

func (s *Service) Authenticate(r *mdm.Request, m *mdm.Authenticate) error {
	f, err := parseFacts(m.Raw)
	if err != nil || r.ParentID != "" {
		return err
	}
	return s.apple.Authenticated(r.Context(), f.report(r.ID, inventory.Pending), r.Certificate)
}

// TokenUpdate completes a device's enrollment. A device that says it is
// AwaitingConfiguration (ADE with await_device_configured) gets the setup
// commands and then DeviceConfigured (enrollment.SetupCommands).
func (s *Service) TokenUpdate(r *mdm.Request, m *mdm.TokenUpdate) error {
	if r.ParentID != "" {
		// A user channel: someone signed in on the device (a Mac's user,
		// a User Enrollment's Managed Apple ID). They are its user.
		if name := userName(m.UserLongName, m.UserShortName); name != "" {
			return s.inv.SetUser(r.Context(), inventory.Apple, r.ParentID, name)
		}
		return nil
	}
	var awaiting struct{ AwaitingConfiguration bool }
	_ = plist.Unmarshal(m.Raw, &awaiting)
	return s.apple.TokenUpdated(r.Context(), r.ID, awaiting.AwaitingConfiguration)
}

// userName is how a user channel names its person: "Ana Lima (ana)",
// or whichever of the two it sends.
func userName(long, short string) string {
	switch {
	case long != "" && short != "" && long != short:
		return long + " (" + short + ")"
	case long != "":
		return long
	}
	return short
}

// CheckOut records that the device removed its MDM profile.
func (s *Service) CheckOut(r *mdm.Request, m *mdm.CheckOut) error {
	if r.ParentID != "" {
		return nil
	}
	return s.apple.CheckedOut(r.Context(), r.ID)
}

// ddmStatus keeps a device's latest Declarative Management status report
// among its facts.
func (s *Service) ddmStatus(r *mdm.Request, report json.RawMessage) {
	if r.ParentID != "" {
		return
	}
	var v any
	if json.Unmarshal(report, &v) != nil {
		return
	}
	if err := s.record(r, inventory.Report{Platform: inventory.Apple, Identifier: r.ID, Facts: map[string]any{"ddm_status": v}}); err != nil {
		s.log.WarnContext(r.Context(), "record a DDM status report", "device", r.ID, "err", err)
	}
}

// The core answers these; Trident has nothing to add yet.
func (s *Service) SetBootstrapToken(*mdm.Request, *mdm.SetBootstrapToken) error { return nil }
func (s *Service) GetBootstrapToken(*mdm.Request, *mdm.GetBootstrapToken) (*mdm.BootstrapToken, error) {
	return nil, nil
}
func (s *Service) UserAuthenticate(*mdm.Request, *mdm.UserAuthenticate) ([]byte, error) {
	return nil, nil
}
func (s *Service) DeclarativeManagement(*mdm.Request, *mdm.DeclarativeManagement) ([]byte, error) {
	return nil, nil
}
func (s *Service) GetToken(*mdm.Request, *mdm.GetToken) (*mdm.GetTokenResponse, error) {
	return nil, nil
}

// outcomes maps Apple's command statuses to Trident's.
var outcomes = map[string]commands.Status{
	"Acknowledged": commands.Acknowledged, "Error": commands.Error,
	"CommandFormatError": commands.Error, "NotNow": commands.NotNow,
}

// CommandAndReportResults marks the device seen and, when it answers one
// of Trident's commands, records the answer (and what a query's answer
// says about the device). Only a command of the answering device is
// completed (commands.ErrForeign otherwise; nanomdm's storage already
// refuses an answer to a command never queued for the enrollment).
func (s *Service) CommandAndReportResults(r *mdm.Request, res *mdm.CommandResults) (*mdm.Command, error) {
	if r.ParentID != "" {
		return nil, nil // a user channel: Trident queues no commands there
	}
	ctx := r.Context()
	rep := inventory.Report{Platform: inventory.Apple, Identifier: r.ID}
	var ans answer
	if res.Status == "Acknowledged" {
		if a, err := parseAnswer(res.Raw); err == nil {
			ans = a
			if q := a.QueryResponses; q != nil {
				rep = q.report(r.ID, "")
			}
			if extra := a.facts(); len(extra) > 0 {
				if rep.Facts == nil {
					rep.Facts = map[string]any{}
				}
				for k, v := range extra {
					rep.Facts[k] = v
				}
			}
		}
	}
	var done *enrollment.Answer
	id, err := uuid.Parse(res.CommandUUID)
	if status, known := outcomes[res.Status]; res.CommandUUID != "" && err == nil && known {
		var problem []string
		for _, e := range res.ErrorChain {
			problem = append(problem, e.LocalizedDescription)
		}
		var result any
		if ans.QueryResponses != nil {
			result = ans.QueryResponses
		} else if f := ans.facts(); len(f) > 0 {
			result = f
		}
		done = &enrollment.Answer{Command: id, Outcome: commands.Outcome{Status: status, Result: result, Error: strings.Join(problem, "; ")}}
	} // else an Idle, or a command Trident did not queue
	ignored, err := s.apple.Reported(ctx, rep, done)
	switch {
	case errors.Is(ignored, commands.ErrForeign):
		s.log.WarnContext(ctx, "ignored an answer to another device's command", "enrollment", r.ID, "command", id)
	case ignored != nil:
		s.log.InfoContext(ctx, "answer to an unknown or finished command", "command", id, "status", res.Status)
	}
	return nil, err
}
