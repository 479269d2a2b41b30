package main

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// examplePayloads are valid payloads of the kinds that need one.
var examplePayloads = map[string]map[string]any{
	"install_profile": {"profile": base64.StdEncoding.EncodeToString([]byte(`<?xml version="1.0"?><plist version="1.0"><dict>` +
		`<key>PayloadType</key><string>Configuration</string><key>PayloadContent</key><array/></dict></plist>`))},
	"remove_profile": {"identifier": "com.example.wifi"},
	"apply_settings": {"settings": []any{map[string]any{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": "0"}}},
	"query_settings": {"loc_uris": []any{"./DevDetail/SwV"}},
	"clear_passcode": {"new_password": "123456"},
}

// Every command kind, on every platform it names, has a translator in the
// server's wiring that accepts it; on every other platform it is refused
// as unsupported. A kind added without its platform's translation fails
// here, not on a device.
func TestEveryKindHasATranslator(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	key, _, _ := seal.NewRandomKey()
	q := commands.New(db, inv, pub, append(platformCommands(), commands.WithSecrets(seal.NewKeyring(key)))...)
	devices := map[inventory.Platform]inventory.Device{}
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		for p, id := range map[inventory.Platform]string{inventory.Apple: "KINDS-UDID", inventory.Windows: "KINDS-WIN",
			inventory.Android: "enterprises/e/devices/kinds"} {
			d, err := inv.RecordTx(ctx, tx, inventory.Report{Platform: p, Identifier: id, Status: inventory.Enrolled})
			if err != nil {
				return err
			}
			devices[p] = d
		}
		// ClearPasscode needs the UnlockToken an enrolled Apple device escrows.
		_, err := tx.Exec(ctx, `INSERT INTO apple_devices (id, authenticate, authenticate_at, unlock_token) VALUES ('KINDS-UDID', '<plist/>', now(), 'token')`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO apple_enrollments (id, device_id, type, topic, push_magic, token_hex, last_seen_at)
VALUES ('KINDS-UDID', 'KINDS-UDID', 'Device', 't', 'm', '00', now())`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range commands.Kinds() {
		for _, p := range []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android} {
			err := db.Tx(ctx, func(tx pgx.Tx) error {
				_, err := q.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: devices[p].ID, Kind: k.Name, Payload: examplePayloads[k.Name]})
				return err
			})
			var verr *fault.Error
			switch {
			case slices.Contains(k.Platforms, p) && err != nil:
				t.Errorf("%s on %s: %v", k.Name, p, err)
			case !slices.Contains(k.Platforms, p) && (!errors.As(err, &verr) || verr.Code != fault.Invalid || verr.Fields[0].Name != "kind"):
				t.Errorf("%s on %s, which it does not name: %v; want refused as unsupported", k.Name, p, err)
			}
		}
	}
}
