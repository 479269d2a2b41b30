package apple

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// Service is Trident's own check-in and command service in nanomdm's
// chain, beside nanomdm's core (which stores the protocol state and
// answers): it records what devices report in the inventory, follows
// answers to Trident's commands, and so publishes device.* and command.*
// events. nanomdm's multi service runs it after the core has answered.
type Service struct {
	db   TxRunner
	inv  *inventory.Inventory
	cmds *commands.Queue
	log  *slog.Logger
}

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
		_, err := s.inv.Record(r.Context(), tx, rep)
		return err
	})
}

// parseFacts reads what an Authenticate check-in says about the device.
func parseFacts(raw []byte) (deviceFacts, error) {
	var f deviceFacts
	err := plist.Unmarshal(raw, &f)
	return f, err
}

// answer is what Trident reads of a command report.
type answer struct {
	QueryResponses deviceFacts
	RequestType    string
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
	return s.record(r, f.report(r.ID, inventory.Pending))
}

// TokenUpdate completes a device's enrollment.
func (s *Service) TokenUpdate(r *mdm.Request, m *mdm.TokenUpdate) error {
	return s.record(r, inventory.Report{Platform: inventory.Apple, Identifier: r.ID, Status: inventory.Enrolled})
}

// CheckOut records that the device removed its MDM profile.
func (s *Service) CheckOut(r *mdm.Request, m *mdm.CheckOut) error {
	return s.record(r, inventory.Report{Platform: inventory.Apple, Identifier: r.ID, Status: inventory.Unenrolled})
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
// of Trident's commands, records the answer (and what a DeviceInformation
// answer says about the device).
func (s *Service) CommandAndReportResults(r *mdm.Request, res *mdm.CommandResults) (*mdm.Command, error) {
	ctx := r.Context()
	err := s.db.Tx(ctx, func(tx pgx.Tx) error {
		rep := inventory.Report{Platform: inventory.Apple, Identifier: r.ID}
		var ans answer
		if res.Status == "Acknowledged" {
			if a, err := parseAnswer(res.Raw); err == nil && a.QueryResponses.OSVersion != "" {
				ans = a
				rep = a.QueryResponses.report(r.ID, "")
			}
		}
		if r.ParentID == "" {
			if _, err := s.inv.Record(ctx, tx, rep); err != nil {
				return err
			}
		}
		id, err := uuid.Parse(res.CommandUUID)
		status, known := outcomes[res.Status]
		if res.CommandUUID == "" || err != nil || !known {
			return nil // Idle, or a command Trident did not queue
		}
		var problem []string
		for _, e := range res.ErrorChain {
			problem = append(problem, e.LocalizedDescription)
		}
		var result any
		if ans.QueryResponses.OSVersion != "" {
			result = ans.QueryResponses
		}
		_, err = s.cmds.Complete(ctx, tx, id, commands.Outcome{Status: status, Result: result, Error: strings.Join(problem, "; ")})
		if errors.Is(err, commands.ErrNotFound) || errors.Is(err, commands.ErrConflict) {
			s.log.InfoContext(ctx, "answer to an unknown or finished command", "command", id, "status", res.Status)
			return nil
		}
		return err
	})
	return nil, err
}
