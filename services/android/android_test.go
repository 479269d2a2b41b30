package android_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/api/option"

	"github.com/tridentmdm/trident/internal/fakeamapi"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	t      *testing.T
	ctx    context.Context
	db     *tenancy.DB
	google *fakeamapi.Server
	svc    *android.Service
	cmds   *commands.Queue
	inv    *inventory.Inventory
	ent    string
	pushes []fakeamapi.Notification
}

// setup binds a tenant's enterprise through the signup flow.
func setup(t *testing.T) *fixture { return setupWith(t, nil) }

// setupWith is setup with the service's options changed by opts.
func setupWith(t *testing.T, opts func(*android.Options)) *fixture {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	google := fakeamapi.New()
	t.Cleanup(google.Close)
	rc, err := river.NewClient(riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema})
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(rc)
	inv := inventory.New(db, pub)
	key, _, _ := seal.NewRandomKey()
	cmds := commands.New(db, inv, pub, commands.WithChecker(inventory.Android, android.Dispatcher{}), commands.WithSecrets(seal.NewKeyring(key)))
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	o := android.Options{Project: "p", Topic: "projects/p/topics/t",
		Client: []option.ClientOption{option.WithEndpoint(google.URL + "/"), option.WithoutAuthentication()},
		CallbackURL: func(context.Context, uuid.UUID) (string, error) {
			return "https://t.trident.test/android/callback", nil
		},
		Log: testenv.Logger(t)}
	if opts != nil {
		opts(&o)
	}
	svc, err := android.New(ctx, db, pub, rc, inv, cmds, o)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, db: db, google: google, svc: svc, cmds: cmds, inv: inv}
	google.Notify = func(n fakeamapi.Notification) { f.pushes = append(f.pushes, n) }
	signup, err := svc.Signup(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := google.CompleteSignup(signup)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	if _, err := svc.CompleteSignup(ctx, "forged", u.Query().Get("enterpriseToken"), "T"); !errors.Is(err, android.ErrSignup) {
		t.Fatalf("a forged state: %v", err)
	}
	e, err := svc.CompleteSignup(ctx, u.Query().Get("state"), u.Query().Get("enterpriseToken"), "T")
	if err != nil {
		t.Fatal(err)
	}
	f.ent = e.Name
	return f
}

func (f *fixture) tx(fn func(tx pgx.Tx) error) {
	f.t.Helper()
	if err := f.db.Tx(f.ctx, fn); err != nil {
		f.t.Fatal(err)
	}
}

// push delivers the notifications the fake published since the last call.
func (f *fixture) push() {
	f.t.Helper()
	for i, n := range f.pushes {
		body, _ := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(n.Data),
			"attributes": map[string]string{"notificationType": n.Type}, "messageId": uuid.NewString()}})
		if err := f.svc.Notify(f.ctx, body); err != nil {
			f.t.Fatalf("notification %d (%s): %v", i, n.Type, err)
		}
	}
	f.pushes = nil
}

func (f *fixture) policy(set android.PolicySettings, group *uuid.UUID) android.Policy {
	f.t.Helper()
	var p android.Policy
	f.tx(func(tx pgx.Tx) (err error) {
		p, err = f.svc.SavePolicy(f.ctx, uuid.Nil, uuid.NewString(), group, set)
		return err
	})
	p, err := f.svc.Publish(f.ctx, p.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) device(name string) inventory.Device {
	f.t.Helper()
	var d inventory.Device
	f.tx(func(tx pgx.Tx) error {
		var id uuid.UUID
		if err := tx.QueryRow(f.ctx, `SELECT id FROM devices WHERE identifier = $1`, name).Scan(&id); err != nil {
			return err
		}
		var err error
		d, err = f.inv.Get(f.ctx, id)
		return err
	})
	return d
}

func TestQuotaIsWaitedOut(t *testing.T) {
	f := setup(t)
	var p android.Policy
	f.tx(func(tx pgx.Tx) (err error) {
		p, err = f.svc.SavePolicy(f.ctx, uuid.Nil, "q", nil, android.PolicySettings{PasswordMinLength: 6})
		return err
	})
	f.google.QuotaExceeded(1)
	_, err := f.svc.Publish(f.ctx, p.ID)
	var ge *android.GoogleError
	if !errors.As(err, &ge) || ge.Code != 429 || ge.RetryAfter != time.Second {
		t.Fatalf("quota: %v", err)
	}
	var snooze *river.JobSnoozeError
	if !errors.As(android.Snooze(err), &snooze) {
		t.Fatalf("a quota answer is not a snooze: %v", android.Snooze(err))
	}
	// Noted for the console, and the answer passed on as it was.
	if e, _ := f.svc.Enterprise(f.ctx); e.QuotaAt != nil {
		t.Fatalf("quota noted before NoteQuota: %v", e.QuotaAt)
	}
	if got := f.svc.NoteQuota(f.ctx, err); got != err {
		t.Fatalf("NoteQuota changed the error: %v", got)
	}
	if e, _ := f.svc.Enterprise(f.ctx); e.QuotaAt == nil || time.Since(*e.QuotaAt) > time.Minute {
		t.Fatalf("the quota answer is not noted: %+v", e)
	}
	if p, err = f.svc.Publish(f.ctx, p.ID); err != nil || p.Version != 1 {
		t.Fatalf("after the quota: %+v %v", p, err)
	}
	// Google refuses a bad policy: said on the policy, not retried.
	f.tx(func(tx pgx.Tx) (err error) {
		_, err = f.svc.SavePolicy(f.ctx, p.ID, "q", nil, android.PolicySettings{PasswordMinLength: 16, PasswordQuality: "COMPLEX"})
		return err
	})
	f.tx(func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `UPDATE android_policies SET settings = jsonb_set(settings, '{password_min_length}', '20') WHERE id = $1`, p.ID)
		return err
	})
	if _, err := f.svc.Publish(f.ctx, p.ID); !errors.As(err, &ge) || ge.Retryable() {
		t.Fatalf("a refused policy: %v", err)
	}
	f.tx(func(tx pgx.Tx) (err error) { p, err = f.svc.Policy(f.ctx, p.ID); return err })
	if !strings.Contains(p.PublishError, "password_minimum_length") || p.Version != 1 {
		t.Fatalf("policy after refusal: %+v", p)
	}
}

func TestSyncGroupsAndCommands(t *testing.T) {
	f := setup(t)
	base := f.policy(android.PolicySettings{}, nil)
	tok, err := f.svc.CreateEnrollmentToken(f.ctx, base.ID, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateEnrollmentToken(f.ctx, base.ID, time.Second, false); err == nil {
		t.Fatal("a one-second token was accepted")
	}
	// Five devices enroll while Trident hears nothing: the sync finds
	// them all, across pages.
	var names []string
	for i := range 5 {
		d, err := f.google.Enroll(tok.Value, fmt.Sprint("S", i))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, d.Name)
	}
	f.pushes = nil
	if n, err := f.svc.Sync(f.ctx); err != nil || n != 5 {
		t.Fatalf("sync: %d %v", n, err)
	}
	if d := f.device(names[3]); d.Status != inventory.Enrolled || d.SerialNumber != "S3" || d.OSVersion != "15" {
		t.Fatalf("synced device: %+v", d)
	}

	// A policy for a group moves the group's devices to it.
	group := uuid.New()
	f.tx(func(tx pgx.Tx) error {
		if _, err := tx.Exec(f.ctx, `INSERT INTO device_groups (id, name) VALUES ($1, 'kiosks')`, group); err != nil {
			return err
		}
		for _, n := range names[:2] {
			if _, err := tx.Exec(f.ctx, `INSERT INTO device_group_members (group_id, device_id) SELECT $1, id FROM devices WHERE identifier = $2`, group, n); err != nil {
				return err
			}
		}
		return nil
	})
	kiosk := f.policy(android.PolicySettings{CameraDisabled: true}, &group)
	if n, err := f.svc.Apply(f.ctx, kiosk.ID); err != nil || n != 2 {
		t.Fatalf("apply: %d %v", n, err)
	}
	if d := f.google.Device(names[0]); !strings.HasSuffix(d.PolicyName, kiosk.ID.String()) {
		t.Fatalf("group device's policy %s", d.PolicyName)
	}
	if d := f.google.Device(names[2]); strings.HasSuffix(d.PolicyName, kiosk.ID.String()) {
		t.Fatal("a device outside the group was moved")
	}
	if n, _ := f.svc.Apply(f.ctx, kiosk.ID); n != 0 {
		t.Fatalf("a second apply moved %d devices again", n)
	}

	// Commands: a password reset goes through issueCommand; device
	// information answers at once; erase deletes the device.
	d := f.device(names[4])
	queue := func(kind string, payload map[string]any) commands.Command {
		var c commands.Command
		f.tx(func(tx pgx.Tx) (err error) {
			c, err = f.cmds.Enqueue(f.ctx, commands.NewCommand{DeviceID: d.ID, Kind: kind, Payload: payload})
			return err
		})
		return c
	}
	f.tx(func(tx pgx.Tx) error {
		_, err := f.cmds.Enqueue(f.ctx, commands.NewCommand{DeviceID: d.ID, Kind: "shutdown"})
		var verr *fault.Error
		if !errors.As(err, &verr) || verr.Code != fault.Invalid {
			return fmt.Errorf("shutdown on Android: %v", err)
		}
		return nil
	})
	reset := queue("clear_passcode", map[string]any{"new_password": "1234abcd"})
	info := queue("device_information", nil)
	f.google.QuotaExceeded(1) // the first call fails: the command waits, NotNow
	waker := android.Waker{S: f.svc}
	if err := waker.Wake(f.ctx, d); err != nil {
		t.Fatal(err)
	}
	status := func(c commands.Command) commands.Command {
		f.tx(func(tx pgx.Tx) (err error) { c, err = f.cmds.Get(f.ctx, c.ID); return err })
		return c
	}
	if c := status(reset); c.Status != commands.NotNow {
		t.Fatalf("after a quota answer: %+v", c)
	}
	if e, _ := f.svc.Enterprise(f.ctx); e.QuotaAt == nil {
		t.Fatal("a command's quota answer is not noted for the console")
	}
	if c := status(info); c.Status != commands.Queued {
		t.Fatalf("device information was sent into the quota: %+v", c)
	}
	if err := waker.Wake(f.ctx, d); err != nil {
		t.Fatal(err)
	}
	if c := status(info); c.Status != commands.Acknowledged {
		t.Fatalf("device information: %+v", c)
	}
	ops := f.google.Operations(d.Identifier)
	if len(ops) != 1 || status(reset).Status != commands.Sent {
		t.Fatalf("reset not issued: %v %+v", ops, status(reset))
	}
	f.google.Finish(ops[0], "")
	f.push()
	if c := status(reset); c.Status != commands.Acknowledged {
		t.Fatalf("reset after its notification: %+v", c)
	}
	// A device name that climbs out of the enterprise is refused, and
	// nothing is stored.
	climb, _ := json.Marshal(map[string]any{"name": f.ent + "/../../enterprises/B/devices/X", "state": "ACTIVE"})
	body, _ := json.Marshal(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(climb),
		"attributes": map[string]string{"notificationType": "STATUS_REPORT"}, "messageId": uuid.NewString()}})
	if err := f.svc.Notify(f.ctx, body); !errors.Is(err, android.ErrForeign) {
		t.Fatalf("a device name with ..: %v; want refused", err)
	}
	f.tx(func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(f.ctx, `SELECT count(*) FROM devices WHERE identifier LIKE '%..%'`).Scan(&n); err != nil || n != 0 {
			return fmt.Errorf("stored %d climbing names (%v)", n, err)
		}
		return nil
	})

	// A canceled lock and an expired restart are never issued.
	canceled := queue("lock", nil)
	expired := queue("restart", nil)
	f.tx(func(tx pgx.Tx) error {
		if _, err := f.cmds.Cancel(f.ctx, canceled.ID); err != nil {
			return err
		}
		_, err := tx.Exec(f.ctx, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID)
		return err
	})
	if err := waker.Wake(f.ctx, d); err != nil {
		t.Fatal(err)
	}
	if ops := f.google.Operations(d.Identifier); len(ops) != 1 || status(canceled).Status != commands.Canceled || status(expired).Status != commands.Expired {
		t.Fatalf("after a canceled and an expired command: operations %v, %s, %s", ops, status(canceled).Status, status(expired).Status)
	}
	// A COMMAND notification whose operation names another device ends
	// nothing of this one's, even when Trident's record ties them.
	lock := queue("lock", nil)
	if err := waker.Wake(f.ctx, d); err != nil {
		t.Fatal(err)
	}
	ops = f.google.Operations(d.Identifier)
	if len(ops) != 2 || status(lock).Status != commands.Sent {
		t.Fatalf("the lock: %v %s", ops, status(lock).Status)
	}
	forged := names[3] + "/operations/forged"
	f.tx(func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `INSERT INTO android_operations (name, command_id) VALUES ($1, $2)`, forged, lock.ID)
		return err
	})
	op, _ := json.Marshal(map[string]any{"name": forged, "done": true})
	f.pushes = append(f.pushes, fakeamapi.Notification{Type: "COMMAND", Data: op})
	f.push()
	if c := status(lock); c.Status != commands.Sent {
		t.Fatalf("the lock after another device's operation: %s", c.Status)
	}
	f.google.Finish(ops[1], "")
	f.push()
	if c := status(lock); c.Status != commands.Acknowledged {
		t.Fatalf("the lock after its own operation: %s", c.Status)
	}

	erase := queue("erase", nil)
	if err := waker.Wake(f.ctx, d); err != nil {
		t.Fatal(err)
	}
	if c := status(erase); c.Status != commands.Acknowledged || f.google.Device(d.Identifier) != nil || f.device(d.Identifier).Status != inventory.Unenrolled {
		t.Fatalf("erase: %+v", c)
	}

	// Unbinding deletes the enterprise and unenrolls the rest.
	if err := f.svc.Unbind(f.ctx); err != nil {
		t.Fatal(err)
	}
	if d := f.device(names[0]); d.Status != inventory.Unenrolled {
		t.Fatalf("after unbinding: %+v", d)
	}
	if _, err := f.svc.CreateEnrollmentToken(f.ctx, base.ID, time.Hour, false); !errors.Is(err, android.ErrNotBound) {
		t.Fatalf("a token after unbinding: %v", err)
	}
}

func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`{"message":{"data":"eyJuYW1lIjoiZW50ZXJwcmlzZXMvTEMxL2RldmljZXMvRDEifQ==","attributes":{"notificationType":"STATUS_REPORT"},"messageId":"1"}}`))
	f.Add([]byte(`{"message":{"data":"","attributes":{"notificationType":"test"},"messageId":"2"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, kind, data, err := android.ParsePush(b)
		if err == nil && (id == "" || kind == "" || (kind != "test" && !json.Valid(data))) {
			t.Fatalf("accepted %q: %q %q %q", b, id, kind, data)
		}
	})
}
