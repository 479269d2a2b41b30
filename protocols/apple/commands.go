package apple

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/micromdm/nanomdm/mdm"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/commands"
)

// Dispatcher puts Trident's platform-neutral commands on the device's
// nanomdm queue (mdmstore.Queue) in the transaction that queued them,
// rendered as Apple MDM commands (Apple's "Commands and Queries"
// documentation) by Render. The MDM command's CommandUUID is the
// command's id, so the device's answer finds its way back. Waking the
// device is the command delivery job's (commands.DeliverArgs).
func Dispatcher() mdmstore.Queue { return mdmstore.Queue{Placeholder: placeholder} }

// deviceInformationQueries are what Trident keeps of a device
// (DeviceInformation queries).
var deviceInformationQueries = []string{
	"DeviceName", "OSVersion", "BuildVersion", "ModelName", "Model", "ProductName", "SerialNumber",
	"DeviceCapacity", "AvailableDeviceCapacity", "IsSupervised", "IsActivationLockEnabled",
	"WiFiMAC", "BluetoothMAC", "IMEI", "MEID", "UDID",
}

// Render is the MDM command the device gets for c, rendered when it is
// handed out. unlockToken reads the device's escrowed UnlockToken.
func Render(c commands.Command, unlockToken func() ([]byte, error)) (*mdm.Command, error) {
	b, err := body(c, unlockToken)
	if err != nil {
		return nil, err
	}
	return encode(c, b)
}

// placeholder checks that c renders and is what nanomdm's queue keeps of
// it (mdmstore.Placeholder): its id and RequestType, no secret.
func placeholder(c commands.Command, unlockToken func() ([]byte, error)) (*mdm.Command, error) {
	b, err := body(c, unlockToken)
	if err != nil {
		return nil, err
	}
	return encode(c, map[string]any{"RequestType": b["RequestType"]})
}

// ErrNoUnlockToken means ClearPasscode cannot be sent: the device never
// escrowed its UnlockToken.
var ErrNoUnlockToken = errors.New("the device has not escrowed an UnlockToken, which ClearPasscode needs")

func body(c commands.Command, unlockToken func() ([]byte, error)) (map[string]any, error) {
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
		tok, err := unlockToken()
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
