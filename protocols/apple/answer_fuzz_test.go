package apple_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/micromdm/plist"
	bplist "howett.net/plist"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/services/inventory"
)

// FuzzAppleAnswer sends command reports, XML and binary property lists as
// an enrolled device signs them, to the MDM endpoint with a real
// PostgreSQL behind it: whatever the body, the device is never answered
// 500 (it would retry the same request forever) or 401 (it would
// unenroll). Run with -fuzz FuzzAppleAnswer; the seeds run in every test.
func FuzzAppleAnswer(f *testing.F) {
	e := setupMDMLog(f, slog.New(slog.DiscardHandler))
	d := e.enroll(f, e.a)
	ctx := context.Background()
	if err := d.Authenticate(ctx); err != nil {
		f.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		f.Fatal(err)
	}
	dev := e.device(f, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	info := e.queue(f, e.a, dev.ID, "device_information")
	known := info.ID.String()
	reports := []map[string]any{
		{"UDID": d.UDID, "Status": "Idle"},
		{"UDID": d.UDID, "Status": "Acknowledged", "CommandUUID": known,
			"QueryResponses": map[string]any{"OSVersion": "17.5", "DeviceName": "x", "DeviceCapacity": 64.0}},
		{"UDID": d.UDID, "Status": "Acknowledged", "CommandUUID": known, "QueryResponses": map[string]any{"DeviceName": "no OS"}},
		{"UDID": d.UDID, "Status": "NotNow", "CommandUUID": known},
		{"UDID": d.UDID, "Status": "Error", "CommandUUID": known, "ErrorChain": []map[string]any{{"ErrorCode": 1, "LocalizedDescription": "x"}}},
		{"UDID": d.UDID, "Status": "Acknowledged", "CommandUUID": "00000000-0000-4000-8000-000000000000"},
		{"UDID": d.UDID, "Status": "Acknowledged", "CommandUUID": "not a uuid"},
		{"UDID": "SOMEONE-ELSE", "Status": "Idle"},
		{"Status": "Idle"},
		{"UDID": d.UDID, "Status": "Acknowledged", "CommandUUID": known, "SecurityInfo": map[string]any{"FDE_Enabled": "yes"}},
		{"UDID": d.UDID, "Status": "Acknowledged", "CommandUUID": known, "InstalledApplicationList": []any{map[string]any{"Identifier": 1}}},
	}
	for _, r := range reports {
		x, err := plist.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		b, err := bplist.Marshal(r, bplist.BinaryFormat)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(x)
		f.Add(b)
	}
	f.Add([]byte("bplist00\x00\x01\x02"))
	f.Add([]byte("<?xml version=\"1.0\"?><plist><dict><key>UDID</key><string>" + d.UDID + "</string><key>Status</key><string>Idle\x00</string></dict></plist>"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := d.PutRaw(ctx, "application/x-apple-aspen-mdm", body)
		var herr *devicesim.HTTPError
		if errors.As(err, &herr) && (herr.Status >= 500 || herr.Status == http.StatusUnauthorized) {
			t.Fatalf("%q: answered %d", body, herr.Status)
		}
		if err != nil && !errors.As(err, &herr) {
			t.Fatal(err)
		}
	})
}
