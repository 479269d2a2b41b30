package apple

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// Commands turns Trident's platform-neutral commands into Apple MDM
// commands (Apple's "Commands and Queries" documentation) and queues them
// on the device's nanomdm queue, in the transaction that queued the
// command. The MDM command's CommandUUID is the command's id, so the
// device's answer finds its way back.
// Waking the device is the command delivery job's (commands.DeliverArgs).
type Commands struct{}

var _ commands.Dispatcher = Commands{}

// deviceInformationQueries are what Trident keeps of a device
// (DeviceInformation queries).
var deviceInformationQueries = []string{
	"DeviceName", "OSVersion", "BuildVersion", "ModelName", "Model", "ProductName", "SerialNumber",
	"DeviceCapacity", "AvailableDeviceCapacity", "IsSupervised", "IsActivationLockEnabled",
	"WiFiMAC", "BluetoothMAC", "IMEI", "MEID", "UDID",
}

type command struct {
	CommandUUID string
	Command     map[string]any
}

// Dispatch implements commands.Dispatcher.
func (c Commands) Dispatch(ctx context.Context, tx pgx.Tx, d inventory.Device, q commands.Command) error {
	body, err := body(ctx, tx, d, q)
	if err != nil {
		return err
	}
	raw, err := plist.MarshalIndent(command{CommandUUID: q.ID.String(), Command: body}, "  ")
	if err != nil {
		return fmt.Errorf("apple: encode %s: %w", q.Kind, err)
	}
	cmd, err := mdm.DecodeCommand(raw)
	if err != nil {
		return fmt.Errorf("apple: encode %s: %w", q.Kind, err)
	}
	return mdmstore.Enqueue(ctx, tx, []string{d.Identifier}, cmd)
}

// ErrNoUnlockToken means ClearPasscode cannot be sent: the device never
// escrowed its UnlockToken.
var ErrNoUnlockToken = errors.New("the device has not escrowed an UnlockToken, which ClearPasscode needs")

func body(ctx context.Context, tx pgx.Tx, d inventory.Device, c commands.Command) (map[string]any, error) {
	var opts map[string]any
	_ = json.Unmarshal(c.Payload, &opts)
	str := func(k string) (string, bool) { v, ok := opts[k].(string); return v, ok && v != "" }
	switch c.Kind {
	case "device_information":
		return map[string]any{"RequestType": "DeviceInformation", "Queries": deviceInformationQueries}, nil
	case "lock":
		b := map[string]any{"RequestType": "DeviceLock"}
		if m, ok := str("message"); ok {
			b["Message"] = m
		}
		if p, ok := str("phone_number"); ok {
			b["PhoneNumber"] = p
		}
		if pin, ok := str("pin"); ok { // macOS locks with a six-digit PIN
			b["PIN"] = pin
		}
		return b, nil
	case "restart":
		return map[string]any{"RequestType": "RestartDevice"}, nil
	case "shutdown":
		return map[string]any{"RequestType": "ShutDownDevice"}, nil
	case "security_info":
		return map[string]any{"RequestType": "SecurityInfo"}, nil
	case "installed_applications":
		return map[string]any{"RequestType": "InstalledApplicationList", "ManagedAppsOnly": false}, nil
	case "device_configured":
		return map[string]any{"RequestType": "DeviceConfigured"}, nil
	case "profile_list":
		return map[string]any{"RequestType": "ProfileList"}, nil
	case "install_profile":
		p, ok := str("profile")
		raw, err := base64.StdEncoding.DecodeString(p)
		if !ok || err != nil || len(raw) == 0 {
			return nil, &commands.ValidationError{Field: "payload.profile", Problem: "must be the .mobileconfig, in base64"}
		}
		return map[string]any{"RequestType": "InstallProfile", "Payload": raw}, nil
	case "remove_profile":
		id, ok := str("identifier")
		if !ok {
			return nil, &commands.ValidationError{Field: "payload.identifier", Problem: "must name the profile's PayloadIdentifier"}
		}
		return map[string]any{"RequestType": "RemoveProfile", "Identifier": id}, nil
	case "erase":
		b := map[string]any{"RequestType": "EraseDevice"}
		if pin, ok := str("pin"); ok {
			b["PIN"] = pin
		}
		return b, nil
	case "clear_passcode":
		tok, err := mdmstore.UnlockToken(ctx, tx, d.Identifier)
		if err != nil {
			return nil, err
		}
		if len(tok) == 0 {
			return nil, &commands.ValidationError{Field: "kind", Problem: ErrNoUnlockToken.Error()}
		}
		return map[string]any{"RequestType": "ClearPasscode", "UnlockToken": tok}, nil
	}
	return nil, &commands.ValidationError{Field: "kind", Problem: fmt.Sprintf("Apple devices do not support %s", c.Kind)}
}
