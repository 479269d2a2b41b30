package apple

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Service is Trident's own check-in and command service in nanomdm's
// chain, after nanomdm's core (which stores the protocol state and
// answers): it records what devices report in the inventory, follows
// answers to Trident's commands, and so publishes device.* and command.*
// events.
type Service struct {
	db    TxRunner
	inv   *inventory.Inventory
	cmds  *commands.Queue
	log   *slog.Logger
	certs Identities
}

// Identities binds device certificates to devices and revokes them
// (services/pki).
type Identities interface {
	Bind(ctx context.Context, tx pgx.Tx, cert *x509.Certificate, device uuid.UUID) error
	RevokeDevice(ctx context.Context, tx pgx.Tx, device uuid.UUID) (int, error)
}

// WithIdentities makes Authenticate bind the device's identity
// certificate to it, and CheckOut revoke it.
func (s *Service) WithIdentities(c Identities) *Service { s.certs = c; return s }

// NewService returns Trident's MDM service.
func NewService(db TxRunner, inv *inventory.Inventory, cmds *commands.Queue, log *slog.Logger) *Service {
	return &Service{db: db, inv: inv, cmds: cmds, log: log}
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
	return s.db.Tx(r.Context(), func(tx pgx.Tx) error {
		_, err := s.inv.RecordTx(r.Context(), tx, rep)
		return err
	})
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

// Authenticate records a device starting to enroll.
func (s *Service) Authenticate(r *mdm.Request, m *mdm.Authenticate) error {
	f, err := parseFacts(m.Raw)
	if err != nil {
		return err
	}
	if r.ParentID != "" || s.certs == nil || r.Certificate == nil {
		return s.record(r, f.report(r.ID, inventory.Pending))
	}
	return s.db.Tx(r.Context(), func(tx pgx.Tx) error {
		d, err := s.inv.RecordTx(r.Context(), tx, f.report(r.ID, inventory.Pending))
		if err != nil {
			return err
		}
		return s.certs.Bind(r.Context(), tx, r.Certificate, d.ID)
	})
}

// SetupCommands are what a device enrolling through ADE and waiting in
// Setup Assistant (AwaitingConfiguration) is sent before DeviceConfigured
// releases it: its facts, so compliance and the inventory know it from
// the start.
var SetupCommands = []string{"device_information", "security_info", "installed_applications"}

// TokenUpdate completes a device's enrollment. A device that says it is
// AwaitingConfiguration (ADE with await_device_configured) gets the setup
// commands and then DeviceConfigured, queued in that order.
func (s *Service) TokenUpdate(r *mdm.Request, m *mdm.TokenUpdate) error {
	rep := inventory.Report{Platform: inventory.Apple, Identifier: r.ID, Status: inventory.Enrolled}
	var awaiting struct{ AwaitingConfiguration bool }
	_ = plist.Unmarshal(m.Raw, &awaiting)
	if r.ParentID != "" || !awaiting.AwaitingConfiguration {
		return s.record(r, rep)
	}
	return s.db.Tx(r.Context(), func(tx pgx.Tx) error {
		d, err := s.inv.RecordTx(r.Context(), tx, rep)
		if err != nil {
			return err
		}
		if open, err := s.cmds.HasOpen(r.Context(), tx, d.ID, "device_configured", ""); err != nil || open {
			return err // a repeated TokenUpdate: the release is already queued
		}
		for _, kind := range append(SetupCommands, "device_configured") {
			if _, err := s.cmds.EnqueueTx(r.Context(), tx, commands.NewCommand{DeviceID: d.ID, Kind: kind, CreatedBy: "ade-setup"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// CheckOut records that the device removed its MDM profile.
func (s *Service) CheckOut(r *mdm.Request, m *mdm.CheckOut) error {
	rep := inventory.Report{Platform: inventory.Apple, Identifier: r.ID, Status: inventory.Unenrolled}
	if r.ParentID != "" || s.certs == nil {
		return s.record(r, rep)
	}
	// The device removed its MDM profile: its identity is no one's now.
	return s.db.Tx(r.Context(), func(tx pgx.Tx) error {
		d, err := s.inv.RecordTx(r.Context(), tx, rep)
		if err != nil {
			return err
		}
		_, err = s.certs.RevokeDevice(r.Context(), tx, d.ID)
		return err
	})
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
	ctx := r.Context()
	err := s.db.Tx(ctx, func(tx pgx.Tx) error {
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
		if r.ParentID != "" {
			return nil // a user channel: Trident queues no commands there
		}
		// An Idle or an answer without news only marks the device seen.
		var dev *inventory.Device
		seen := false
		if rep.SerialNumber == "" && rep.OSVersion == "" && rep.Model == "" && rep.Name == "" && rep.Facts == nil {
			var err error
			if seen, err = s.inv.Seen(ctx, tx, inventory.Apple, r.ID); err != nil {
				return err
			}
		}
		if !seen {
			d, err := s.inv.RecordTx(ctx, tx, rep)
			if err != nil {
				return err
			}
			dev = &d
		}
		id, err := uuid.Parse(res.CommandUUID)
		status, known := outcomes[res.Status]
		if res.CommandUUID == "" || err != nil || !known {
			return nil // Idle, or a command Trident did not queue
		}
		if dev == nil {
			d, err := s.inv.ByIdentifier(ctx, tx, inventory.Apple, r.ID)
			if err != nil {
				return fmt.Errorf("apple: the answering device: %w", err)
			}
			dev = &d
		}
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
		_, err = s.cmds.CompleteTx(ctx, tx, dev.ID, id, commands.Outcome{Status: status, Result: result, Error: strings.Join(problem, "; ")})
		switch {
		case errors.Is(err, commands.ErrForeign):
			s.log.WarnContext(ctx, "ignored an answer to another device's command", "enrollment", r.ID, "command", id)
			return nil
		case errors.Is(err, tenancy.ErrNotFound), errors.Is(err, commands.ErrState):
			s.log.InfoContext(ctx, "answer to an unknown or finished command", "command", id, "status", res.Status)
			return nil
		}
		return err
	})
	return nil, err
}
