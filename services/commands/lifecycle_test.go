package commands_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
)

func (f fixture) device(t testing.TB, p inventory.Platform, id string) inventory.Device {
	t.Helper()
	var d inventory.Device
	f.tx(t, func(tx pgx.Tx) (err error) {
		d, err = f.inv.Record(f.ctx, inventory.Report{Platform: p, Identifier: id, Status: inventory.Enrolled})
		return
	})
	return d
}

// A cancel and a hand-out racing for the same command, each in its own
// transaction: exactly one wins, every time, and the loser changes
// nothing. Before transitions were conditional, both could succeed: the
// device got the command the API said was canceled.
func TestCancelRacesHandOut(t *testing.T) {
	f := setup(t)
	dev := f.device(t, inventory.Windows, "W-race")
	for i := range 60 {
		var c commands.Command
		f.tx(t, func(tx pgx.Tx) (err error) {
			c, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "erase"})
			return
		})
		var wg sync.WaitGroup
		var handErr, cancelErr error
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			handErr = f.db.Tx(f.ctx, func(tx pgx.Tx) error {
				if _, err := f.q.Hand(f.ctx, tx, dev.ID, c.ID); err != nil {
					return err
				}
				if i%2 == 0 {
					time.Sleep(time.Millisecond) // the device's answer is still being written
				}
				return nil
			})
		}()
		go func() {
			defer wg.Done()
			<-start
			cancelErr = f.db.Within(f.ctx, func(ctx context.Context) error { _, err := f.q.Cancel(f.ctx, c.ID); return err })
		}()
		close(start)
		wg.Wait()
		var now commands.Command
		f.tx(t, func(tx pgx.Tx) (err error) { now, err = f.q.Get(f.ctx, c.ID); return })
		switch {
		case handErr == nil && cancelErr == nil:
			t.Fatalf("round %d: both the hand-out and the cancel succeeded; the command is %s", i, now.Status)
		case handErr == nil:
			if !errors.Is(cancelErr, commands.ErrState) || now.Status != commands.Sent {
				t.Fatalf("round %d: handed out, cancel %v, command %s", i, cancelErr, now.Status)
			}
		case cancelErr == nil:
			if !errors.Is(handErr, commands.ErrState) || now.Status != commands.Canceled || now.Attempts != 0 {
				t.Fatalf("round %d: canceled, hand-out %v, command %s after %d attempts", i, handErr, now.Status, now.Attempts)
			}
		default:
			t.Fatalf("round %d: neither won: hand-out %v, cancel %v", i, handErr, cancelErr)
		}
		// Finish it, so the next round's command is the only one waiting.
		if now.Status == commands.Sent {
			f.tx(t, func(tx pgx.Tx) error {
				_, err := f.q.CompleteTx(f.ctx, tx, dev.ID, c.ID, commands.Outcome{Status: commands.Acknowledged})
				return err
			})
		}
	}
}

// An open transaction that handed the command out holds it: a cancel
// waits for it and then fails, instead of overwriting sent with canceled.
func TestCancelWaitsForAnOpenHandOut(t *testing.T) {
	f := setup(t)
	dev := f.device(t, inventory.Windows, "W-open")
	var c commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) {
		c, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: "erase"})
		return
	})
	handed := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.db.Tx(f.ctx, func(tx pgx.Tx) error {
			n, err := f.q.NextTx(f.ctx, tx, dev.ID)
			if err != nil || n == nil || n.ID != c.ID {
				return errors.New("the erase was not handed out")
			}
			close(handed)
			<-release
			return nil
		})
	}()
	<-handed
	cancel := make(chan error, 1)
	go func() {
		cancel <- f.db.Within(f.ctx, func(ctx context.Context) error { _, err := f.q.Cancel(f.ctx, c.ID); return err })
	}()
	time.Sleep(50 * time.Millisecond) // the cancel is now waiting on the row
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-cancel; !errors.Is(err, commands.ErrState) {
		t.Fatalf("cancel after the hand-out committed: %v; want a conflict", err)
	}
}

// Answers change only the answering device's command, and only one that
// was sent; a command's life follows the one table.
func TestAnswersAndTransitions(t *testing.T) {
	f := setup(t)
	a := f.device(t, inventory.Windows, "W-a")
	b := f.device(t, inventory.Windows, "W-b")
	var lock commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) {
		lock, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: b.ID, Kind: "lock"})
		return
	})
	complete := func(dev inventory.Device, o commands.Outcome) error {
		return f.db.Tx(f.ctx, func(tx pgx.Tx) error { _, err := f.q.CompleteTx(f.ctx, tx, dev.ID, lock.ID, o); return err })
	}
	if err := complete(b, commands.Outcome{Status: commands.Acknowledged}); !errors.Is(err, commands.ErrState) {
		t.Fatalf("an answer to a command never sent: %v; want a conflict", err)
	}
	f.tx(t, func(tx pgx.Tx) error { _, err := f.q.NextTx(f.ctx, tx, b.ID); return err })
	if err := complete(a, commands.Outcome{Status: commands.Acknowledged, Result: "forged"}); !errors.Is(err, commands.ErrForeign) {
		t.Fatalf("another device's answer: %v; want ErrForeign", err)
	}
	if err := complete(b, commands.Outcome{Status: commands.Acknowledged, Result: "real"}); err != nil {
		t.Fatal(err)
	}
	var got commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) { got, err = f.q.Get(f.ctx, lock.ID); return })
	if got.Status != commands.Acknowledged || string(got.Result) != `"real"` {
		t.Fatalf("after the real answer: %s %s", got.Status, got.Result)
	}
	for _, s := range []commands.Status{commands.Acknowledged, commands.Error, commands.Expired, commands.Canceled} {
		for _, to := range []commands.Status{commands.Sent, commands.Acknowledged, commands.Canceled, commands.Expired} {
			if s.CanBecome(to) {
				t.Errorf("a finished command (%s) may become %s", s, to)
			}
		}
	}
	if commands.Sent.CanBecome(commands.Canceled) {
		t.Error("a command the device has may be canceled")
	}
}

// Secret payload fields are sealed at rest: the row holds them redacted,
// every read shows them redacted, and only the hand-out to the device
// opens them. A server without a key refuses such a command.
func TestSecretsSealedAndRedacted(t *testing.T) {
	f := setup(t)
	key, _, _ := seal.NewRandomKey()
	q := commands.New(f.db, f.inv, events.NewPublisher(nil), commands.WithSecrets(seal.NewKeyring(key)))
	win := f.device(t, inventory.Windows, "W-secret")
	andr := f.device(t, inventory.Android, "enterprises/e/devices/secret")
	var settings, passcode commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) {
		if settings, err = q.Enqueue(f.ctx, commands.NewCommand{DeviceID: win.ID, Kind: "apply_settings", Payload: map[string]any{
			"settings": []any{map[string]any{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": "hunter2-value", "format": "chr"}},
		}}); err != nil {
			return err
		}
		passcode, err = q.Enqueue(f.ctx, commands.NewCommand{DeviceID: andr.ID, Kind: "clear_passcode",
			Payload: map[string]any{"new_password": "s3cret-pass"}})
		return err
	})
	for _, c := range []commands.Command{settings, passcode} {
		if strings.Contains(string(c.Payload), "hunter2") || strings.Contains(string(c.Payload), "s3cret") ||
			!strings.Contains(string(c.Payload), commands.Redacted) {
			t.Fatalf("enqueue answered %s", c.Payload)
		}
	}
	var stored string
	f.tx(t, func(tx pgx.Tx) error {
		return tx.QueryRow(f.ctx, `SELECT string_agg(payload::text || coalesce(encode(payload_sealed, 'escape'), ''), ' ') FROM commands`).Scan(&stored)
	})
	if strings.Contains(stored, "hunter2") || strings.Contains(stored, "s3cret") {
		t.Fatalf("a secret is stored in plain text: %s", stored)
	}
	var list []commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) { list, err = q.ListForDevice(f.ctx, win.ID, [16]byte{}, 10); return })
	if len(list) != 1 || strings.Contains(string(list[0].Payload), "hunter2") || !strings.Contains(string(list[0].Payload), "AllowCamera") {
		t.Fatalf("the list shows %s", list[0].Payload)
	}
	var handed *commands.Command
	f.tx(t, func(tx pgx.Tx) (err error) { handed, err = q.NextTx(f.ctx, tx, win.ID); return })
	if handed == nil || !strings.Contains(string(handed.Payload), "hunter2-value") {
		t.Fatalf("the device gets %v", handed)
	}
	err := f.db.Within(f.ctx, func(ctx context.Context) error {
		_, err := f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: andr.ID, Kind: "clear_passcode", Payload: map[string]any{"new_password": "x"}})
		return err
	})
	if !errors.Is(err, commands.ErrNoKey) {
		t.Fatalf("a secret without a key: %v; want ErrNoKey", err)
	}
}

func profile(payloadTypes ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>PayloadType</key><string>Configuration</string><key>PayloadContent</key><array>`)
	for _, p := range payloadTypes {
		b.WriteString(`<dict><key>PayloadType</key><string>` + p + `</string></dict>`)
	}
	b.WriteString(`</array></dict></plist>`)
	return base64.StdEncoding.EncodeToString([]byte(b.String()))
}

// The one policy: operators send commands, but what destroys, locks out
// for good, or hands the device to someone else needs an admin.
func TestAuthorize(t *testing.T) {
	setting := func(uri string) map[string]any {
		return map[string]any{"settings": []any{map[string]any{"loc_uri": uri, "value": "1"}}}
	}
	for _, c := range []struct {
		kind    string
		payload map[string]any
		admin   bool
	}{
		{"lock", nil, false},
		{"restart", nil, false},
		{"device_information", nil, false},
		{"erase", nil, true},
		{"clear_passcode", map[string]any{"new_password": "x"}, true},
		{"apply_settings", setting("./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera"), false},
		{"apply_settings", setting("./Vendor/MSFT/DMClient/Provider/MS DM Server/ManagementServiceAddress"), true},
		{"apply_settings", setting("./Device/Vendor/MSFT/DMClient/Provider/x/ManagementServiceAddress"), true},
		{"apply_settings", setting("./device/vendor/msft//dmclient/./Provider/x"), true},
		{"apply_settings", setting("./Device/Vendor/MSFT/RootCATrustedCertificates/Root/ABCDEF/EncodedCertificate"), true},
		{"apply_settings", setting("./User/Vendor/MSFT/RootCATrustedCertificates/CA/ABCDEF/EncodedCertificate"), true},
		{"apply_settings", setting("./Device/Vendor/MSFT/Accounts/Users/helpdesk/Password"), true},
		{"apply_settings", setting("./Device/Vendor/MSFT/Policy/Config/LocalUsersAndGroups/Configure"), true},
		{"apply_settings", setting("./Vendor/MSFT/DMAcc/x/AppAddr/1/Addr"), true},
		{"query_settings", map[string]any{"loc_uris": []any{"./Vendor/MSFT/DMClient/Provider"}}, false},
		{"install_profile", map[string]any{"profile": profile("com.apple.wifi.managed")}, false},
		{"install_profile", map[string]any{"profile": profile("com.apple.wifi.managed", "com.apple.mdm")}, true},
		{"install_profile", map[string]any{"profile": profile("com.apple.security.root")}, true},
		{"install_profile", map[string]any{"profile": profile("com.apple.security.pkcs12")}, true},
		{"install_profile", map[string]any{"profile": base64.StdEncoding.EncodeToString([]byte("\x30\x82garbage"))}, true},
		{"remove_profile", map[string]any{"identifier": "com.example.wifi"}, false},
		{"remove_profile", map[string]any{"identifier": "com.trident.acme.enrollment"}, true},
	} {
		err := commands.Authorize(identity.Operator, c.kind, c.payload)
		if c.admin != (err != nil) {
			t.Errorf("operator, %s %v: %v; want refused: %v", c.kind, c.payload, err, c.admin)
		}
		var fb *commands.Forbidden
		if err != nil && (!errors.Is(err, commands.ErrForbidden) || !errors.As(err, &fb) || fb.Reason == "") {
			t.Errorf("%s: the refusal %v gives no reason", c.kind, err)
		}
		if err := commands.Authorize(identity.Admin, c.kind, c.payload); err != nil {
			t.Errorf("admin, %s: %v", c.kind, err)
		}
		if err := commands.Authorize(identity.Viewer, c.kind, c.payload); err == nil {
			t.Errorf("viewer, %s: allowed", c.kind)
		}
	}
}

// An acknowledged erase runs its hook in the answer's transaction (the
// server revokes the device's identity there); other kinds, and an erase
// that failed, do not; a hook's failure rolls the answer back.
func TestAcknowledgedHook(t *testing.T) {
	f := setup(t)
	var ran []string
	fail := false
	f.q = commands.New(f.db, f.inv, events.NewPublisher(nil), commands.WithAcknowledged("erase", func(ctx context.Context, tx pgx.Tx, c commands.Command) error {
		if fail {
			return errors.New("revocation failed")
		}
		ran = append(ran, c.Kind+" "+string(c.Status))
		return nil
	}))
	dev := f.device(t, inventory.Windows, "W-hook")
	answer := func(kind string, o commands.Outcome) error {
		var c commands.Command
		f.tx(t, func(tx pgx.Tx) (err error) {
			if c, err = f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: dev.ID, Kind: kind}); err != nil {
				return err
			}
			_, err = f.q.Hand(f.ctx, tx, dev.ID, c.ID)
			return err
		})
		return f.db.Tx(f.ctx, func(tx pgx.Tx) error { _, err := f.q.CompleteTx(f.ctx, tx, dev.ID, c.ID, o); return err })
	}
	if err := answer("restart", commands.Outcome{Status: commands.Acknowledged}); err != nil {
		t.Fatal(err)
	}
	if err := answer("erase", commands.Outcome{Status: commands.Error, Error: "no"}); err != nil {
		t.Fatal(err)
	}
	if err := answer("erase", commands.Outcome{Status: commands.Acknowledged}); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || ran[0] != "erase acknowledged" {
		t.Fatalf("the hook ran for %v; want the acknowledged erase only", ran)
	}
	fail = true
	if err := answer("erase", commands.Outcome{Status: commands.Acknowledged}); err == nil {
		t.Fatal("a failing hook did not fail the answer")
	}
}
