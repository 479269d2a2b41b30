package apple

import (
	"testing"

	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"
)

func seedPlist(f *testing.F, v any) {
	b, err := plist.Marshal(v)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// FuzzCheckin feeds check-in and command report bodies, as a device could
// send them, to nanomdm's decoders and to Trident's own readers of them:
// no input may panic them.
func FuzzCheckin(f *testing.F) {
	seedPlist(f, map[string]any{"MessageType": "Authenticate", "UDID": "X", "Topic": "t", "SerialNumber": "S", "OSVersion": "17.5"})
	seedPlist(f, map[string]any{"MessageType": "TokenUpdate", "UDID": "X", "Topic": "t", "PushMagic": "m", "Token": []byte{1, 2}})
	seedPlist(f, map[string]any{"UDID": "X", "Status": "Acknowledged", "CommandUUID": "c",
		"QueryResponses": map[string]any{"OSVersion": "17.5", "DeviceCapacity": 128.0, "IsSupervised": true}})
	seedPlist(f, map[string]any{"UDID": "X", "Status": "Error", "ErrorChain": []map[string]any{{"ErrorCode": 1}}})
	f.Add([]byte("<?xml version=\"1.0\"?><plist><dict><key>UDID</key><integer>1</integer></dict></plist>"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = mdm.DecodeCheckin(raw)
		_, _ = mdm.DecodeCommandResults(raw)
		if facts, err := parseFacts(raw); err == nil {
			_ = facts.report("X", "")
		}
		_, _ = parseAnswer(raw)
	})
}
