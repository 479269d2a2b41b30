package apple_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/services/push"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/tenancy/jobs"
	"github.com/tridentmdm/trident/workers"
)

const topic = "com.apple.mgmt.External.0a1b2c3d-0000-4000-8000-000000000001"

// pushCert is an MDM push certificate for topic, and its key.
func pushCert(t testing.TB, topic string) (certPEM, keyPEM []byte) {
	certPEM, keyPEM, err := fakeapns.PushCertificate(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// mdmEnv is a tenant-hostname server with SCEP and the MDM endpoint, as
// serve mounts them.
type mdmEnv struct {
	jobs  *jobs.Client
	apns  *fakeapns.Server
	store *mdmstore.Store
	db    *tenancy.DB
	pki   *pki.PKI
	inv   *inventory.Inventory
	cmds  *commands.Queue
	base  string
	dir   *tenancy.Directory
	a, b  tenancy.Tenant
}

func setupMDM(t testing.TB) *mdmEnv { return setupMDMLog(t, testenv.Logger(t)) }

// setupMDMLog is setupMDM logging to log (a fuzz target may not log to
// its testing.F).
func setupMDMLog(t testing.TB, log *slog.Logger) *mdmEnv {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := seal.NewRandomKey()
	keys := seal.NewKeyring(key)
	store := mdmstore.New(db, keys)
	// Commands are delivered by River jobs that wake devices through a
	// local APNs.
	fake := fakeapns.New()
	t.Cleanup(fake.Close)
	late := &jobs.Late{}
	pub := events.NewPublisher(late)
	e := &mdmEnv{dir: dir, apns: fake, store: store, db: db, pki: pki.New(db, events.NewPublisher(nil), keys), inv: inventory.New(db, pub), a: testenv.Tenant(t, dir), b: testenv.Tenant(t, dir)}
	e.cmds = commands.New(db, e.inv, pub, commands.WithDispatcher(inventory.Apple, apple.Dispatcher()), commands.WithDelivery(late), commands.WithSecrets(keys))
	jobs, err := workers.New(workers.Deps{DB: db, Directory: dir, Events: events.NewStore(db), Log: log,
		Webhooks: events.NewSender(db, events.SenderOptions{}), Commands: e.cmds, Inventory: e.inv,
		Wakers: map[inventory.Platform]commands.Waker{inventory.Apple: push.AppleWaker{APNs: push.NewAPNs(store, push.WithHost(fake.URL, fake.TLSConfig))}}},
		workers.Config{Schema: migrations.RiverSchema, EventRetention: time.Hour, SweepInterval: time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	late.Set(jobs)
	e.jobs = jobs
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jobs.Stop(context.Background()) })
	h, err := apple.NewMDM(db, store, e.pki, apple.NewService(enrollment.NewApple(db, e.pki, e.inv, e.cmds, pub), e.inv, log), apple.MDMOptions{}, log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scep", apple.NewSCEP(e.pki, log))
	mux.Handle("/mdm", h)
	srv := httptest.NewServer(tenancy.NewResolver(dir).Middleware(log, mux))
	t.Cleanup(srv.Close)
	e.base = srv.URL
	return e
}

func (e *mdmEnv) ctx(tn tenancy.Tenant) context.Context {
	return tenancy.WithTenant(context.Background(), tn.ID)
}

// enroll takes a simulated device through SCEP in tenant tn.
func (e *mdmEnv) enroll(t testing.TB, tn tenancy.Tenant) *devicesim.AppleDevice {
	t.Helper()
	ctx := e.ctx(tn)
	var secret string
	if err := e.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		secret, _, err = e.pki.NewChallengeTx(ctx, tx, "apple-enrollment", time.Hour)
		return
	}); err != nil {
		t.Fatal(err)
	}
	host := tn.Slug + ".trident.test"
	sc := &devicesim.SCEPClient{URL: e.base + "/scep", Host: host}
	key, cert, err := sc.Enroll(context.Background(), secret, "device")
	if err != nil {
		t.Fatal(err)
	}
	return devicesim.NewAppleDevice(e.base+"/mdm", host, topic, key, cert)
}

// device waits for the inventory to show d as want (Trident's service runs
// beside nanomdm's core, after the answer).
func (e *mdmEnv) device(t testing.TB, tn tenancy.Tenant, udid string, ok func(inventory.Device) bool) inventory.Device {
	t.Helper()
	ctx := e.ctx(tn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var p inventory.Page
		err := e.db.Within(ctx, func(ctx context.Context) (err error) {
			p, err = e.inv.List(ctx, inventory.Query{Search: udid, Limit: 1})
			return
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Devices) == 1 && ok(p.Devices[0]) {
			return p.Devices[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s never reached the expected state: %+v", udid, p.Devices)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *mdmEnv) command(t *testing.T, tn tenancy.Tenant, id uuid.UUID, want commands.Status) commands.Command {
	t.Helper()
	ctx := e.ctx(tn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var c commands.Command
		if err := e.db.Within(ctx, func(ctx context.Context) (err error) { c, err = e.cmds.Get(ctx, id); return }); err != nil {
			t.Fatal(err)
		}
		if c.Status == want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("command %s is %s, want %s", id, c.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushFor waits for APNs to receive a push for d (pushes for other devices
// may come first: each command queued pushes its device).
func (e *mdmEnv) pushFor(t *testing.T, d *devicesim.AppleDevice) fakeapns.Push {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p, ok := e.apns.Next(time.Until(deadline)); ok && p.Token == hex.EncodeToString(d.Token) {
			return p
		}
	}
	t.Fatalf("no push for device %s", d.UDID)
	return fakeapns.Push{}
}

func (e *mdmEnv) queue(t testing.TB, tn tenancy.Tenant, device uuid.UUID, kind string) commands.Command {
	t.Helper()
	ctx := e.ctx(tn)
	var c commands.Command
	if err := e.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		c, err = e.cmds.EnqueueTx(ctx, tx, commands.NewCommand{DeviceID: device, Kind: kind})
		return
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// Two tenants each enroll a simulated device end to end: SCEP,
// Authenticate, TokenUpdate, commands answered Acknowledged, NotNow and
// Error, DeviceInformation into the inventory, CheckOut.
func TestAppleEnrollmentAndCommands(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	for _, tn := range []tenancy.Tenant{e.a, e.b} {
		t.Run(tn.Slug, func(t *testing.T) {
			certPEM, keyPEM := pushCert(t, topic)
			if err := e.store.StorePushCert(e.ctx(tn), certPEM, keyPEM); err != nil {
				t.Fatal(err)
			}
			d := e.enroll(t, tn)
			if err := d.Authenticate(ctx); err != nil {
				t.Fatal(err)
			}
			e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Pending })
			if err := d.TokenUpdate(ctx); err != nil {
				t.Fatal(err)
			}
			dev := e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
			if dev.SerialNumber != d.SerialNumber || dev.OSVersion != "17.5" || dev.Model != "iPhone15,2" {
				t.Fatalf("inventory after enrollment: %+v", dev)
			}
			if c, err := d.Idle(ctx); err != nil || c != nil {
				t.Fatalf("idle with an empty queue: %v %v", c, err)
			}

			lock := e.queue(t, tn, dev.ID, "lock")
			// The device is woken through APNs with its own token, topic
			// and push magic, under its tenant's push certificate.
			p := e.pushFor(t, d)
			if p.Topic != topic || p.PushType != "mdm" || string(p.Body) != `{"mdm":"`+d.PushMagic+`"}` {
				t.Fatalf("push: %+v", p)
			}
			c, err := d.Idle(ctx)
			if err != nil || c == nil || c.CommandUUID != lock.ID.String() || c.Command.RequestType != "DeviceLock" {
				t.Fatalf("the lock did not arrive: %+v %v", c, err)
			}
			if next, err := d.Answer(ctx, c, "Acknowledged"); err != nil || next != nil {
				t.Fatalf("after acknowledging: %v %v", next, err)
			}
			e.command(t, tn, lock.ID, commands.Acknowledged)

			// NotNow: the device is asked again at its next contact.
			restart := e.queue(t, tn, dev.ID, "restart")
			c, _ = d.Idle(ctx)
			if c == nil || c.Command.RequestType != "RestartDevice" {
				t.Fatalf("restart: %+v", c)
			}
			if next, err := d.Answer(ctx, c, "NotNow"); err != nil || next != nil {
				t.Fatalf("after NotNow the same session gets nothing more: %v %v", next, err)
			}
			e.command(t, tn, restart.ID, commands.NotNow)
			c, _ = d.Idle(ctx)
			if c == nil || c.CommandUUID != restart.ID.String() {
				t.Fatalf("the NotNow command did not come back: %+v", c)
			}
			d.Answer(ctx, c, "Error")
			if got := e.command(t, tn, restart.ID, commands.Error); got.Error != "Simulated failure" {
				t.Fatalf("error text %q", got.Error)
			}

			// DeviceInformation updates the inventory.
			d.OSVersion = "17.6"
			info := e.queue(t, tn, dev.ID, "device_information")
			c, _ = d.Idle(ctx)
			if c == nil || c.Command.RequestType != "DeviceInformation" {
				t.Fatalf("device information: %+v", c)
			}
			d.Answer(ctx, c, "Acknowledged")
			e.command(t, tn, info.ID, commands.Acknowledged)
			got := e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.OSVersion == "17.6" })
			if string(got.Facts) == "{}" {
				t.Fatalf("no facts recorded: %s", got.Facts)
			}

			// Queries fill the inventory: security state, apps, profiles.
			for _, kind := range []string{"security_info", "installed_applications", "profile_list", "shutdown"} {
				q := e.queue(t, tn, dev.ID, kind)
				c, _ = d.Idle(ctx)
				if c == nil || c.CommandUUID != q.ID.String() {
					t.Fatalf("%s: %+v", kind, c)
				}
				d.Answer(ctx, c, "Acknowledged")
				e.command(t, tn, q.ID, commands.Acknowledged)
			}
			got = e.device(t, tn, d.UDID, func(x inventory.Device) bool { return strings.Contains(string(x.Facts), "installed_apps") })
			var facts struct {
				Firewall      bool             `json:"firewall_enabled"`
				DiskEncrypted bool             `json:"disk_encrypted"`
				Passcode      bool             `json:"passcode_present"`
				Apps          []map[string]any `json:"installed_apps"`
				Profiles      []map[string]any `json:"profiles"`
			}
			if err := json.Unmarshal(got.Facts, &facts); err != nil || !facts.DiskEncrypted || !facts.Passcode || !facts.Firewall || len(facts.Apps) != 2 || len(facts.Profiles) != 1 {
				t.Fatalf("facts after the queries: %s", got.Facts)
			}
			// Installing and removing a profile.
			var inst commands.Command
			err = e.db.Tx(e.ctx(tn), func(tx pgx.Tx) (err error) {
				inst, err = e.cmds.EnqueueTx(e.ctx(tn), tx, commands.NewCommand{DeviceID: dev.ID, Kind: "install_profile",
					Payload: map[string]any{"profile": base64.StdEncoding.EncodeToString([]byte("<plist/>"))}})
				return
			})
			if err != nil {
				t.Fatal(err)
			}
			c, _ = d.Idle(ctx)
			if c == nil || c.CommandUUID != inst.ID.String() || c.Command.RequestType != "InstallProfile" {
				t.Fatalf("install profile: %+v", c)
			}
			d.Answer(ctx, c, "Acknowledged")
			err = e.db.Tx(e.ctx(tn), func(tx pgx.Tx) error {
				_, err := e.cmds.EnqueueTx(e.ctx(tn), tx, commands.NewCommand{DeviceID: dev.ID, Kind: "remove_profile"})
				return err
			})
			var verr *fault.Error
			if !errors.As(err, &verr) || verr.Code != fault.Invalid {
				t.Fatalf("remove_profile without an identifier: %v", err)
			}

			// Declarative Management: tokens and declaration items agree;
			// status reports land in the facts.
			tokens, err := d.Declarative(ctx, "tokens", nil)
			if err != nil {
				t.Fatal(err)
			}
			items, err := d.Declarative(ctx, "declaration-items", nil)
			if err != nil {
				t.Fatal(err)
			}
			var tk struct {
				SyncTokens struct{ DeclarationsToken string }
			}
			var it struct{ DeclarationsToken string }
			json.Unmarshal(tokens, &tk)
			json.Unmarshal(items, &it)
			if tk.SyncTokens.DeclarationsToken == "" || tk.SyncTokens.DeclarationsToken != it.DeclarationsToken {
				t.Fatalf("DDM tokens %s / items %s", tokens, items)
			}
			if _, err := d.Declarative(ctx, "status", []byte(`{"StatusItems":{"device":{"identifier":{"udid":"x"}}}}`)); err != nil {
				t.Fatal(err)
			}
			e.device(t, tn, d.UDID, func(x inventory.Device) bool { return strings.Contains(string(x.Facts), "ddm_status") })
			if _, err := d.Declarative(ctx, "status", []byte(`not json`)); err == nil {
				t.Fatal("a malformed status report was accepted")
			}

			// ClearPasscode uses the UnlockToken escrowed at TokenUpdate.
			clear := e.queue(t, tn, dev.ID, "clear_passcode")
			c, _ = d.Idle(ctx)
			if c == nil || c.CommandUUID != clear.ID.String() {
				t.Fatalf("clear passcode: %+v", c)
			}
			d.Answer(ctx, c, "Acknowledged")

			if err := d.CheckOut(ctx); err != nil {
				t.Fatal(err)
			}
			e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Unenrolled })
			// CheckOut revoked the identity: it opens nothing again.
			if _, err := d.Idle(ctx); err == nil {
				t.Fatal("a check-in after CheckOut with the same identity was served")
			}
		})
	}
}

// A device of tenant A cannot check in on tenant B's hostname, and B sees
// nothing of it; a bad or unsigned body is refused, never with 401.
func TestAppleCrossTenantAndBadInput(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	d := e.enroll(t, e.a)
	d.Host = e.b.Slug + ".trident.test"
	var herr *devicesim.HTTPError
	if err := d.Authenticate(ctx); !errors.As(err, &herr) || herr.Status != http.StatusBadRequest {
		t.Fatalf("A's device at B: %v; want 400", err)
	}
	var n int
	bctx := e.ctx(e.b)
	if err := e.db.Tx(bctx, func(tx pgx.Tx) error {
		return tx.QueryRow(bctx, `SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM apple_devices)`).Scan(&n)
	}); err != nil || n != 0 {
		t.Fatalf("tenant B holds %d device rows (%v)", n, err)
	}

	// Two devices of A cannot share one certificate (nanomdm's certauth).
	d.Host = e.a.Slug + ".trident.test"
	if err := d.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	twin := *d
	twin.UDID = "TWIN-" + d.UDID
	if err := twin.Authenticate(ctx); !errors.As(err, &herr) || herr.Status == http.StatusUnauthorized {
		t.Fatalf("a second device with the first's certificate: %v", err)
	}

	for name, req := range map[string]*http.Request{
		"unsigned": mustRequest(t, "PUT", e.base+"/mdm", "<plist/>", "application/x-apple-aspen-mdm-checkin", ""),
		"garbage signature": mustRequest(t, "PUT", e.base+"/mdm", "<plist/>", "application/x-apple-aspen-mdm-checkin",
			"bm90IGEgc2lnbmF0dXJl"),
	} {
		req.Host = e.a.Slug + ".trident.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode < 400 {
			t.Errorf("%s: %d; want a 4xx other than 401", name, resp.StatusCode)
		}
	}
}

func mustRequest(t *testing.T, method, url, body, contentType, sig string) *http.Request {
	req, err := http.NewRequest(method, url, stringsReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if sig != "" {
		req.Header.Set("Mdm-Signature", sig)
	}
	return req
}

// Behind a TLS-terminating proxy, the identity may come in an RFC 9440
// header instead; a server not configured for that ignores the header, so
// a device cannot claim an identity without proving it.
func TestAppleIdentityFromProxyHeader(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	d := e.enroll(t, e.a)
	d.CertHeader = "Client-Cert"
	var herr *devicesim.HTTPError
	if err := d.Authenticate(ctx); !errors.As(err, &herr) || herr.Status != http.StatusBadRequest {
		t.Fatalf("header identity at a signature-mode server: %v; want 400", err)
	}

	log := testenv.Logger(t)
	h, err := apple.NewMDM(e.db, e.store, e.pki, apple.NewService(enrollment.NewApple(e.db, e.pki, e.inv, e.cmds, events.NewPublisher(nil)), e.inv, log),
		apple.MDMOptions{Identity: apple.FromHeader, Header: "Client-Cert"}, log)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := tenancy.NewDirectory(e.db, "trident.test")
	srv := httptest.NewServer(tenancy.NewResolver(dir).Middleware(log, h))
	defer srv.Close()
	d.URL = srv.URL + "/mdm"
	if err := d.Authenticate(ctx); err != nil {
		t.Fatalf("Authenticate through the proxy header: %v", err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	e.device(t, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	if _, err := apple.NewMDM(e.db, e.store, e.pki, nil, apple.MDMOptions{Identity: "telepathy"}, log); err == nil {
		t.Fatal("an unknown identity source was accepted")
	}
}

// When APNs fails, transiently or for good, the command is not lost: the
// device takes it at its own next check-in.
func TestAppleCommandsSurviveFailedPushes(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	certPEM, keyPEM := pushCert(t, topic)
	if err := e.store.StorePushCert(e.ctx(e.a), certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	d := e.enroll(t, e.a)
	if err := d.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	dev := e.device(t, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	token := hex.EncodeToString(d.Token)
	for _, reason := range []string{"InternalServerError", "Unregistered"} {
		e.apns.Fail(token, reason)
		c := e.queue(t, e.a, dev.ID, "restart")
		got, err := d.Idle(ctx) // the device comes back on its own
		if err != nil || got == nil || got.CommandUUID != c.ID.String() {
			t.Fatalf("after a %s push: %+v %v", reason, got, err)
		}
		d.Answer(ctx, got, "Acknowledged")
		e.command(t, e.a, c.ID, commands.Acknowledged)
	}
}

// Devices silent for a day are woken by the hourly sweep.
func TestAppleSilentDevicesAreWoken(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	certPEM, keyPEM := pushCert(t, topic)
	if err := e.store.StorePushCert(e.ctx(e.a), certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	quiet, chatty := e.enroll(t, e.a), e.enroll(t, e.a)
	for _, d := range []*devicesim.AppleDevice{quiet, chatty} {
		if err := d.Authenticate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.TokenUpdate(ctx); err != nil {
			t.Fatal(err)
		}
		e.device(t, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	}
	tctx := e.ctx(e.a)
	if err := e.db.Tx(tctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(tctx, `UPDATE devices SET last_seen_at = now() - interval '2 days' WHERE identifier = $1`, quiet.UDID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.jobs.Insert(ctx, commands.WakeSilentArgs{TenantID: e.a.ID}, nil); err != nil {
		t.Fatal(err)
	}
	p := e.pushFor(t, quiet)
	if p.Topic != topic {
		t.Fatalf("push %+v", p)
	}
	for _, got := range e.apns.Pushes() {
		if got.Token == hex.EncodeToString(chatty.Token) {
			t.Fatal("a device seen recently was woken")
		}
	}
}

// An answer whose recording fails in Trident's service is not half kept:
// the device hears 500, nanomdm's record of the answer is rolled back with
// the rest of the request's one transaction, and the device, asking again,
// gets the same command and completes it.
func TestAppleFailedAnswerKeepsNothing(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	certPEM, keyPEM := pushCert(t, topic)
	if err := e.store.StorePushCert(e.ctx(e.a), certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	d := e.enroll(t, e.a)
	if err := d.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	dev := e.device(t, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	lock := e.queue(t, e.a, dev.ID, "lock")
	c, err := d.Idle(ctx)
	if err != nil || c == nil || c.CommandUUID != lock.ID.String() {
		t.Fatalf("the lock did not arrive: %+v %v", c, err)
	}

	// The commands table refuses this one command's completion.
	su := Superuser(t)
	if _, err := su.Exec(ctx, `
CREATE FUNCTION refuse_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
CREATE TRIGGER refuse_lock BEFORE UPDATE ON commands FOR EACH ROW
WHEN (OLD.id = '`+lock.ID.String()+`') EXECUTE FUNCTION refuse_lock()`); err != nil {
		t.Fatal(err)
	}
	var herr *devicesim.HTTPError
	if _, err := d.Answer(ctx, c, "Acknowledged"); !errors.As(err, &herr) || herr.Status != http.StatusInternalServerError {
		t.Fatalf("answer while its recording fails: %v; want 500", err)
	}
	var results int
	actx := e.ctx(e.a)
	if err := e.db.Tx(actx, func(tx pgx.Tx) error {
		return tx.QueryRow(actx, `SELECT count(*) FROM apple_command_results WHERE command_uuid = $1`, lock.ID.String()).Scan(&results)
	}); err != nil || results != 0 {
		t.Fatalf("nanomdm kept %d results of the failed answer (%v)", results, err)
	}
	if got := e.command(t, e.a, lock.ID, commands.Sent); got.Attempts != 1 || got.SentAt == nil {
		t.Fatalf("the lock handed out once: %+v", got)
	}

	if _, err := su.Exec(ctx, `DROP TRIGGER refuse_lock ON commands; DROP FUNCTION refuse_lock()`); err != nil {
		t.Fatal(err)
	}
	c, err = d.Idle(ctx)
	if err != nil || c == nil || c.CommandUUID != lock.ID.String() {
		t.Fatalf("the lock was not asked again: %+v %v", c, err)
	}
	if _, err := d.Answer(ctx, c, "Acknowledged"); err != nil {
		t.Fatal(err)
	}
	if got := e.command(t, e.a, lock.ID, commands.Acknowledged); got.Attempts != 2 {
		t.Fatalf("the lock handed out twice: %+v", got)
	}
}

// Superuser is testenv.Superuser, to install a failure no API can cause.
func Superuser(t *testing.T) *pgx.Conn { return testenv.Superuser(t) }

// A check-in over the size bound is refused before a transaction begins.
func TestAppleCheckinTooLarge(t *testing.T) {
	e := setupMDM(t)
	req := mustRequest(t, "PUT", e.base+"/mdm", strings.Repeat("x", 21<<20), "application/x-apple-aspen-mdm-checkin", "")
	req.Host = e.a.Slug + ".trident.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 21 MiB check-in: %d; want 413", resp.StatusCode)
	}
}
