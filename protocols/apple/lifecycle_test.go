package apple_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// enrolled is a simulated device of tenant tn through Authenticate and
// TokenUpdate, with the tenant's push certificate in place.
func (e *mdmEnv) enrolled(t *testing.T, tn tenancy.Tenant, binary bool) (*devicesim.AppleDevice, inventory.Device) {
	t.Helper()
	ctx := context.Background()
	certPEM, keyPEM := pushCert(t, topic)
	if err := e.store.StorePushCert(e.ctx(tn), certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	d := e.enroll(t, tn)
	d.Binary = binary
	if err := d.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	return d, e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
}

func (e *mdmEnv) enqueue(t *testing.T, tn tenancy.Tenant, n commands.NewCommand) commands.Command {
	t.Helper()
	ctx := e.ctx(tn)
	var c commands.Command
	if err := e.db.Tx(ctx, func(tx pgx.Tx) (err error) { c, err = e.cmds.EnqueueTx(ctx, tx, n); return }); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *mdmEnv) get(t *testing.T, tn tenancy.Tenant, id uuid.UUID) commands.Command {
	t.Helper()
	ctx := e.ctx(tn)
	var c commands.Command
	if err := e.db.Within(ctx, func(ctx context.Context) (err error) { c, err = e.cmds.Get(ctx, id); return }); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var herr *devicesim.HTTPError
	if !errors.As(err, &herr) || herr.Status != status {
		t.Fatalf("answered %v; want HTTP %d", err, status)
	}
}

// A canceled erase and restart, and a lock past its deadline, are never
// handed to the device, over the MDM protocol with signed check-ins: the
// next Idle gets the command after them. The command that is delivered is
// marked sent, with attempts and sent_at, and a NotNow hands it again as
// a second attempt.
func TestAppleCanceledAndExpiredNeverDelivered(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	d, dev := e.enrolled(t, e.a, false)
	erase := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "erase"})
	restart := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "restart"})
	lock := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "lock", Lifetime: time.Minute})
	info := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "device_information"})
	actx := e.ctx(e.a)
	for _, c := range []commands.Command{erase, restart} {
		if err := e.db.Within(actx, func(ctx context.Context) error { _, err := e.cmds.Cancel(actx, c.ID); return err }); err != nil {
			t.Fatal(err)
		}
	}
	// The lock's minute passes before the device comes back (and before
	// any sweep runs).
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		_, err := tx.Exec(actx, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, lock.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var active int
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		return tx.QueryRow(actx, `SELECT count(*) FROM apple_enrollment_queue WHERE command_uuid = ANY($1) AND active`,
			[]string{erase.ID.String(), restart.ID.String()}).Scan(&active)
	}); err != nil || active != 0 {
		t.Fatalf("canceled commands still active on nanomdm's queue: %d (%v)", active, err)
	}

	c, err := d.Idle(ctx)
	if err != nil || c == nil || c.CommandUUID != info.ID.String() || c.Command.RequestType != "DeviceInformation" {
		t.Fatalf("the first command handed out: %+v %v; want the DeviceInformation after the canceled and expired ones", c, err)
	}
	for _, x := range []struct {
		c    commands.Command
		want commands.Status
	}{{erase, commands.Canceled}, {restart, commands.Canceled}, {lock, commands.Expired}} {
		if got := e.get(t, e.a, x.c.ID); got.Status != x.want || got.Attempts != 0 || got.SentAt != nil {
			t.Errorf("%s is %s after %d attempts (sent %v); want %s, never sent", x.c.Kind, got.Status, got.Attempts, got.SentAt, x.want)
		}
	}
	got := e.get(t, e.a, info.ID)
	if got.Status != commands.Sent || got.Attempts != 1 || got.SentAt == nil {
		t.Fatalf("the handed-out command: %s, %d attempts, sent_at %v; want sent once", got.Status, got.Attempts, got.SentAt)
	}
	if err := e.db.Within(actx, func(ctx context.Context) error { _, err := e.cmds.Cancel(actx, info.ID); return err }); !errors.Is(err, commands.ErrState) {
		t.Fatalf("canceling a command the device has: %v; want a conflict", err)
	}

	// NotNow: the next Idle is a second attempt.
	if next, err := d.Answer(ctx, c, "NotNow"); err != nil || next != nil {
		t.Fatalf("after NotNow: %+v %v", next, err)
	}
	e.command(t, e.a, info.ID, commands.NotNow)
	if c, err = d.Idle(ctx); err != nil || c == nil || c.CommandUUID != info.ID.String() {
		t.Fatalf("after NotNow, the Idle: %+v %v", c, err)
	}
	if got := e.get(t, e.a, info.ID); got.Status != commands.Sent || got.Attempts != 2 {
		t.Fatalf("the second attempt: %s, %d attempts", got.Status, got.Attempts)
	}
	if next, err := d.Answer(ctx, c, "Acknowledged"); err != nil || next != nil {
		t.Fatalf("after acknowledging: %+v %v", next, err)
	}
	e.command(t, e.a, info.ID, commands.Acknowledged)
	if c, err := d.Idle(ctx); err != nil || c != nil {
		t.Fatalf("an empty queue: %+v %v", c, err)
	}
}

// A suspended tenant's device checks in and gets no command: the command
// stays queued on both queues, and is the first the device gets once the
// tenant is resumed.
func TestAppleSuspendedTenantsCommandsWait(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	d, dev := e.enrolled(t, e.a, false)
	info := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "device_information"})
	if err := e.dir.SetStatus(ctx, e.a.ID, tenancy.Suspended); err != nil {
		t.Fatal(err)
	}
	if c, err := d.Idle(ctx); err != nil || c != nil {
		t.Fatalf("a suspended tenant's device's Idle: %+v %v; want served, with no command", c, err)
	}
	if got := e.get(t, e.a, info.ID); got.Status != commands.Queued || got.Attempts != 0 {
		t.Fatalf("held command: %s after %d attempts; want queued, never sent", got.Status, got.Attempts)
	}
	if err := e.dir.SetStatus(ctx, e.a.ID, tenancy.Active); err != nil {
		t.Fatal(err)
	}
	if c, err := d.Idle(ctx); err != nil || c == nil || c.CommandUUID != info.ID.String() {
		t.Fatalf("after resuming, the Idle: %+v %v; want the held command", c, err)
	}
}

// A device answering another device's command (same tenant), or a command
// that does not exist, gets 400 and changes nothing: the other device's
// command stays sent, and its own answer completes it.
func TestAppleAnswersOnlyTheirOwnCommands(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	a, _ := e.enrolled(t, e.a, false)
	b, devB := e.enrolled(t, e.a, false)
	lock := e.enqueue(t, e.a, commands.NewCommand{DeviceID: devB.ID, Kind: "lock"})
	c, err := b.Idle(ctx)
	if err != nil || c == nil || c.CommandUUID != lock.ID.String() {
		t.Fatalf("B's lock: %+v %v", c, err)
	}
	_, err = a.Report(ctx, lock.ID.String(), "Acknowledged", map[string]any{"QueryResponses": map[string]any{"OSVersion": "forged"}})
	wantStatus(t, err, http.StatusBadRequest)
	for _, bad := range []string{uuid.NewString(), "not-a-uuid", strings.Repeat("x", 5000)} {
		_, err = a.Report(ctx, bad, "Acknowledged", nil)
		wantStatus(t, err, http.StatusBadRequest)
	}
	if got := e.get(t, e.a, lock.ID); got.Status != commands.Sent || got.Result != nil {
		t.Fatalf("B's lock after A's forged answer: %s %s; want still sent, no result", got.Status, got.Result)
	}
	actx := e.ctx(e.a)
	var results int
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		return tx.QueryRow(actx, `SELECT count(*) FROM apple_command_results WHERE id = $1`, a.UDID).Scan(&results)
	}); err != nil || results != 0 {
		t.Fatalf("A's forged answers kept: %d (%v)", results, err)
	}
	if _, err := b.Answer(ctx, c, "Acknowledged"); err != nil {
		t.Fatal(err)
	}
	e.command(t, e.a, lock.ID, commands.Acknowledged)
}

// A device whose certificate is another enrollment's is refused with 400,
// never 401 or 500: a second device presenting the first's certificate
// (nanomdm's certauth), and an enrolled device's certificate under another
// enrolled device's UDID.
func TestAppleIdentityMismatchIs400(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	a, _ := e.enrolled(t, e.a, false)
	b, _ := e.enrolled(t, e.a, false)
	posing := *a
	posing.UDID = b.UDID
	_, err := posing.Idle(ctx)
	wantStatus(t, err, http.StatusBadRequest)
	twin := *a
	twin.UDID = "TWIN-" + a.UDID
	wantStatus(t, twin.Authenticate(ctx), http.StatusBadRequest)
	// A message naming no enrollment at all.
	_, err = a.PutRaw(ctx, "application/x-apple-aspen-mdm", []byte(`<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>`))
	wantStatus(t, err, http.StatusBadRequest)
}

// A device speaking binary property lists (Apple devices may) enrolls,
// takes a command and answers it; what is kept is the XML of what was
// parsed, and a DeviceInformation answer without OSVersion still updates
// the name and serial number, with its answer as the result.
func TestAppleBinaryPlistsAndPartialAnswers(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	d, dev := e.enrolled(t, e.a, true)
	info := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "device_information"})
	c, err := d.Idle(ctx)
	if err != nil || c == nil || c.CommandUUID != info.ID.String() {
		t.Fatalf("DeviceInformation: %+v %v", c, err)
	}
	if _, err := d.Report(ctx, c.CommandUUID, "Acknowledged", map[string]any{
		"QueryResponses": map[string]any{"DeviceName": "Front desk iPad", "SerialNumber": "F9FXK2ABCD", "ProductName": "iPad13,18"},
	}); err != nil {
		t.Fatal(err)
	}
	got := e.command(t, e.a, info.ID, commands.Acknowledged)
	if !strings.Contains(string(got.Result), "Front desk iPad") {
		t.Fatalf("the answer's result: %s", got.Result)
	}
	now := e.device(t, e.a, d.UDID, func(x inventory.Device) bool { return x.Name == "Front desk iPad" })
	if now.SerialNumber != "F9FXK2ABCD" || now.Model != "iPad13,18" || now.OSVersion != "17.5" {
		t.Fatalf("the device after an answer without OSVersion: %+v", now)
	}
	actx := e.ctx(e.a)
	var tokenUpdate, result string
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		return tx.QueryRow(actx, `SELECT d.token_update, r.result FROM apple_devices d
JOIN apple_command_results r ON r.id = d.id WHERE d.id = $1`, d.UDID).Scan(&tokenUpdate, &result)
	}); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"TokenUpdate": tokenUpdate, "result": result} {
		if !strings.HasPrefix(v, "<?xml") || !strings.Contains(v, "<plist") {
			t.Errorf("the %s is kept as %.40q; want an XML property list", name, v)
		}
	}
	// A binary property list that does not parse: 400, not 500.
	_, err = d.PutRaw(ctx, "application/x-apple-aspen-mdm", []byte("bplist00\x00\x01garbage"))
	wantStatus(t, err, http.StatusBadRequest)
}

// The check-ins Trident does not serve answer what Apple documents or a
// 4xx, never 500: UserAuthenticate 410 (Apple's UserAuthenticate page: a
// server that does not authenticate user channels answers 410), GetToken
// 400, an unknown Declarative Management endpoint 400 and an unknown
// declaration 404.
func TestAppleUnservedCheckinsAre4xx(t *testing.T) {
	e := setupMDM(t)
	d, _ := e.enrolled(t, e.a, false)
	ctx := context.Background()
	checkin := func(msg map[string]any) error {
		msg["UDID"], msg["Topic"] = d.UDID, d.Topic
		b, err := plist.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.PutRaw(ctx, "application/x-apple-aspen-mdm-checkin", b)
		return err
	}
	wantStatus(t, checkin(map[string]any{"MessageType": "UserAuthenticate", "UserID": "U-1", "UserShortName": "ana"}), http.StatusGone)
	wantStatus(t, checkin(map[string]any{"MessageType": "GetToken", "TokenServiceType": "com.apple.maid"}), http.StatusBadRequest)
	_, err := d.Declarative(ctx, "no-such-endpoint", nil)
	wantStatus(t, err, http.StatusBadRequest)
	_, err = d.Declarative(ctx, "declaration/configuration/nope", nil)
	wantStatus(t, err, http.StatusNotFound)
}

// nanomdm's queue keeps a command's id and RequestType only: the PIN of a
// lock reaches the device when it is handed out, and is never stored in
// nanomdm's tables.
func TestAppleQueueKeepsNoSecret(t *testing.T) {
	e := setupMDM(t)
	d, dev := e.enrolled(t, e.a, false)
	const pin = "482913"
	lock := e.enqueue(t, e.a, commands.NewCommand{DeviceID: dev.ID, Kind: "lock", Payload: map[string]any{"pin": pin}})
	actx := e.ctx(e.a)
	var stored string
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		return tx.QueryRow(actx, `SELECT command FROM apple_commands WHERE command_uuid = $1`, lock.ID.String()).Scan(&stored)
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, pin) || !strings.Contains(stored, "DeviceLock") {
		t.Fatalf("nanomdm's queue keeps %q; want the RequestType and no PIN", stored)
	}
	c, err := d.Idle(context.Background())
	if err != nil || c == nil || c.CommandUUID != lock.ID.String() || !strings.Contains(string(c.Raw), pin) {
		t.Fatalf("handed out: %+v %v; want the lock with its PIN", c, err)
	}
}

// A user channel's TokenUpdate (Apple's TokenUpdate request for a user:
// UserID, UserLongName, UserShortName besides the device's UDID) names
// the device's user in the inventory (issue 24: the device list's user
// column); a TokenUpdate for a device Trident does not have makes none.
func TestAppleUserChannelNamesTheUser(t *testing.T) {
	e := setupMDM(t)
	d, dev := e.enrolled(t, e.a, false)
	ctx := context.Background()
	b, err := plist.Marshal(map[string]any{"MessageType": "TokenUpdate", "Topic": d.Topic, "UDID": d.UDID,
		"UserID": "B6C8D1E2-0000-4000-8000-0123456789AB", "UserLongName": "Ana Lima", "UserShortName": "ana",
		"PushMagic": "1B4E2C3D-0000-4000-8000-000000000001", "Token": []byte("user-channel-token")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutRaw(ctx, "application/x-apple-aspen-mdm-checkin", b); err != nil {
		t.Fatal(err)
	}
	got, err := e.inv.Get(tenancy.WithTenant(ctx, e.a.ID), dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.User() != "Ana Lima (ana)" {
		t.Errorf("the device's user: %q, want Ana Lima (ana)", got.User())
	}
}
