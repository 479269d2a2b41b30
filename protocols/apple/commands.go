package apple

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// Commands turns Trident's platform-neutral commands into Apple MDM
// commands (Apple's "Commands and Queries" documentation) and queues them
// on the device's nanomdm queue, in the transaction that queued the
// command. The MDM command's CommandUUID is the command's id, so the
// device's answer finds its way back.
//
// What nanomdm's queue keeps is only the command's place and type: the
// command the device gets is rendered when it is handed out (handout),
// from Trident's command, so a canceled or expired one is never sent and
// a secret (a PIN, a profile, the UnlockToken) is never stored in plain.
// Waking the device is the command delivery job's (commands.DeliverArgs).
type Commands struct{}

var (
	_ commands.Dispatcher = Commands{}
	_ commands.Withdrawer = Commands{}
)

// deviceInformationQueries are what Trident keeps of a device
// (DeviceInformation queries).
var deviceInformationQueries = []string{
	"DeviceName", "OSVersion", "BuildVersion", "ModelName", "Model", "ProductName", "SerialNumber",
	"DeviceCapacity", "AvailableDeviceCapacity", "IsSupervised", "IsActivationLockEnabled",
	"WiFiMAC", "BluetoothMAC", "IMEI", "MEID", "UDID",
}

// Dispatch implements commands.Dispatcher: it checks that the command
// renders for the device, then queues its placeholder.
func (c Commands) Dispatch(ctx context.Context, tx pgx.Tx, d inventory.Device, q commands.Command) error {
	b, err := body(ctx, tx, d, q)
	if err != nil {
		return err
	}
	cmd, err := encode(q, map[string]any{"RequestType": b["RequestType"]})
	if err != nil {
		return err
	}
	return mdmstore.Enqueue(ctx, tx, []string{d.Identifier}, cmd)
}

// Withdraw implements commands.Withdrawer: a canceled or expired command
// leaves the device's nanomdm queue.
func (c Commands) Withdraw(ctx context.Context, tx pgx.Tx, d inventory.Device, q commands.Command) error {
	return mdmstore.Withdraw(ctx, tx, d.Identifier, q.ID.String())
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
			return nil, fault.InvalidField("payload.profile", "must be the .mobileconfig, in base64")
		}
		return map[string]any{"RequestType": "InstallProfile", "Payload": raw}, nil
	case "remove_profile":
		id, ok := str("identifier")
		if !ok {
			return nil, fault.InvalidField("payload.identifier", "must name the profile's PayloadIdentifier")
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
			return nil, fault.InvalidField("kind", ErrNoUnlockToken.Error())
		}
		return map[string]any{"RequestType": "ClearPasscode", "UnlockToken": tok}, nil
	}
	return nil, fault.InvalidField("kind", fmt.Sprintf("Apple devices do not support %s", c.Kind))
}
