package dep_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tridentmdm/trident/internal/fakedep"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	t     testing.TB
	db    *tenancy.DB
	dir   *tenancy.Directory
	apple *fakedep.Server
	dep   *dep.Service
	store *events.Store
}

// tenant is one tenant's view: its context and its ABM account.
type tenant struct {
	f       fixture
	ctx     context.Context
	account *fakedep.Account
	token   dep.Token
	cert    *x509.Certificate
}

func setup(t testing.TB) fixture {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	apple := fakedep.New()
	t.Cleanup(apple.Close)
	key, _, err := seal.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	// Jobs are inserted by a real, insert-only River client; tests run
	// them by hand (runJobs) to control their order.
	rc, err := river.NewClient(riverpgxv5.New(db.Writer()), &river.Config{Schema: migrations.RiverSchema})
	if err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(rc)
	svc := dep.New(db, seal.NewKeyring(key), pub, rc, dep.Options{BaseURL: apple.URL, Log: testenv.Logger(t),
		EnrollURL: func(ctx context.Context, id uuid.UUID) (string, error) {
			tn, err := dir.Tenant(ctx, id)
			return "https://" + tn.Slug + ".trident.test/ade/enroll", err
		}})
	return fixture{t: t, db: db, dir: dir, apple: apple, dep: svc, store: events.NewStore(db)}
}

func (f fixture) tx(ctx context.Context, fn func(tx pgx.Tx) error) {
	f.t.Helper()
	if err := f.db.Tx(ctx, fn); err != nil {
		f.t.Fatal(err)
	}
}

// newTenant makes a tenant with a token whose key pair is created, and an
// ABM account holding serials.
func (f fixture) newTenant(org string, serials ...string) *tenant {
	f.t.Helper()
	tn := &tenant{f: f, ctx: tenancy.WithTenant(context.Background(), testenv.Tenant(f.t, f.dir).ID)}
	var certPEM []byte
	f.tx(tn.ctx, func(tx pgx.Tx) (err error) {
		tn.token, certPEM, err = f.dep.CreateToken(tn.ctx, org+" ABM")
		return err
	})
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		f.t.Fatal(err)
	}
	tn.cert = cert
	tn.account = f.apple.NewAccount(org)
	f.apple.Add(tn.account, serials...)
	return tn
}

func (tn *tenant) upload() dep.Token {
	tn.f.t.Helper()
	p7m, err := tn.f.apple.Token(tn.account, tn.cert)
	if err != nil {
		tn.f.t.Fatal(err)
	}
	tn.f.tx(tn.ctx, func(tx pgx.Tx) (err error) {
		tn.token, err = tn.f.dep.Upload(tn.ctx, tn.token.ID, p7m)
		return err
	})
	return tn.token
}

func (tn *tenant) sync() dep.SyncResult {
	tn.f.t.Helper()
	res, err := tn.f.dep.Sync(tn.ctx, tn.token.ID)
	if err != nil {
		tn.f.t.Fatalf("sync: %v", err)
	}
	return res
}

func (tn *tenant) devices() map[string]dep.Device {
	tn.f.t.Helper()
	out := map[string]dep.Device{}
	tn.f.tx(tn.ctx, func(tx pgx.Tx) error {
		ds, err := tn.f.dep.Devices(tn.ctx, dep.DeviceQuery{Limit: 1000})
		for _, d := range ds {
			out[d.SerialNumber] = d
		}
		return err
	})
	return out
}

func (tn *tenant) tokenNow() dep.Token {
	tn.f.t.Helper()
	tn.f.tx(tn.ctx, func(tx pgx.Tx) (err error) {
		tn.token, err = tn.f.dep.Token(tn.ctx, tn.token.ID)
		return err
	})
	return tn.token
}

func (tn *tenant) cursor() string {
	tn.f.t.Helper()
	var c string
	tn.f.tx(tn.ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(tn.ctx, `SELECT cursor FROM dep_tokens WHERE id = $1`, tn.token.ID).Scan(&c)
	})
	return c
}

// jobs returns the tenant's queued jobs of kind, decoded into T, and
// marks them done (the tests are the workers).
func jobs[T any](tn *tenant, kind string) []T {
	tn.f.t.Helper()
	var out []T
	tn.f.tx(tn.ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(tn.ctx, `DELETE FROM river.river_job WHERE kind = $1 AND args->>'tenant_id' = $2 RETURNING args`,
			kind, tenantOf(tn.ctx).String())
		if err != nil {
			return err
		}
		raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		for _, raw := range raws {
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			out = append(out, v)
		}
		return err
	})
	return out
}

func (tn *tenant) events(kind string) []map[string]any {
	tn.f.t.Helper()
	evs, err := tn.f.store.Since(tn.ctx, 0, 1000)
	if err != nil {
		tn.f.t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range evs {
		if e.Kind == kind {
			var m map[string]any
			json.Unmarshal(e.Payload, &m)
			out = append(out, m)
		}
	}
	return out
}

func serials(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func TestUploadAndFullSync(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Acme", serials(7, "ACME")...)
	if tn.token.Status != dep.AwaitingToken {
		t.Fatalf("new token status %q", tn.token.Status)
	}
	// Bad files change nothing: garbage, and a token for another key.
	other := f.newTenant("Other")
	wrong, _ := f.apple.Token(tn.account, other.cert)
	for _, bad := range [][]byte{[]byte("not a token"), wrong, {}} {
		err := f.db.Within(tn.ctx, func(ctx context.Context) error { _, err := f.dep.Upload(tn.ctx, tn.token.ID, bad); return err })
		var verr *fault.Error
		if !errors.As(err, &verr) || verr.Code != fault.Invalid {
			t.Fatalf("bad upload: %v", err)
		}
	}
	if tk := tn.tokenNow(); tk.Status != dep.AwaitingToken {
		t.Fatalf("status after bad uploads %q", tk.Status)
	}
	if res, err := f.dep.Sync(tn.ctx, tn.token.ID); err != nil || res.Pages != 0 {
		t.Fatalf("sync without a server token: %+v %v", res, err)
	}

	f.apple.Update(tn.account, func(a *fakedep.Account) { a.PageSize = 3 })
	tk := tn.upload()
	if tk.Status != dep.Active || tk.AccessTokenExpiry == nil {
		t.Fatalf("uploaded token: %+v", tk)
	}
	if js := jobs[dep.SyncArgs](tn, "dep.sync"); len(js) != 1 || js[0].TokenID != tn.token.ID {
		t.Fatalf("upload queued %+v", js)
	}
	tk, err := f.dep.AccountDetails(tn.ctx, tn.token.ID)
	if err != nil || tk.Account == nil || tk.Account.OrgName != "Acme" || tk.Account.ServerName != "Acme MDM" {
		t.Fatalf("account: %+v %v", tk.Account, err)
	}

	res := tn.sync()
	// 7 devices in pages of 3: three fetch pages, then one empty sync.
	if res.Added != 7 || res.Pages != 4 {
		t.Fatalf("full sync: %+v", res)
	}
	ds := tn.devices()
	if d := ds["ACME0003"]; len(ds) != 7 || d.Model != "iPhone 16" || d.OS != "iOS" || d.TokenID != tn.token.ID || d.ProfileStatus != "empty" {
		t.Fatalf("devices: %d %+v", len(ds), d)
	}
	if tk := tn.tokenNow(); tk.SyncedAt == nil || tk.Devices != 7 || tk.SyncError != "" {
		t.Fatalf("token after sync: %+v", tk)
	}
	if c := tn.cursor(); c != "s7" {
		t.Fatalf("cursor %q", c)
	}
	if n := len(tn.events(dep.EventDevicesSynced)); n != 3 {
		t.Fatalf("%d devices_synced events", n)
	}
	// Nothing new: one sync page, nothing changed.
	if res := tn.sync(); res.Pages != 1 || res.Added+res.Modified+res.Removed != 0 {
		t.Fatalf("idle sync: %+v", res)
	}
}

func TestIncrementalSyncAndAutomaticAssignment(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Beta", serials(4, "BETA")...)
	var profile dep.Profile
	f.tx(tn.ctx, func(tx pgx.Tx) (err error) {
		if _, err = f.dep.CreateProfile(tn.ctx, "bad", dep.ProfileSettings{SkipSetupItems: []string{"Siri; DROP"}}); err == nil {
			return errors.New("a bad skip item was accepted")
		}
		if profile, err = f.dep.CreateProfile(tn.ctx, "Corporate", dep.ProfileSettings{SkipSetupItems: []string{"Siri", "Location"},
			Department: "IT"}); err != nil {
			return err
		}
		_, err = f.dep.SetTokenProfile(tn.ctx, tn.token.ID, profile.ID)
		return err
	})
	err := f.db.Within(tn.ctx, func(ctx context.Context) error {
		_, err := f.dep.CreateProfile(tn.ctx, "Corporate", dep.ProfileSettings{})
		return err
	})
	if !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("duplicate profile name: %v", err)
	}
	tn.upload()
	jobs[dep.SyncArgs](tn, "dep.sync")
	if res := tn.sync(); res.Added != 4 || res.Assigning != 4 {
		t.Fatalf("first sync: %+v", res)
	}
	as := jobs[dep.AssignArgs](tn, "dep.assign")
	if len(as) != 1 || len(as[0].Serials) != 4 || as[0].ProfileID != profile.ID {
		t.Fatalf("assign jobs %+v", as)
	}
	// One device fails at Apple: the job fails, and its retry sends only that one.
	f.apple.Update(tn.account, func(a *fakedep.Account) { a.AssignFails["BETA0002"] = true })
	res, err := f.dep.Assign(tn.ctx, as[0])
	if !errors.Is(err, dep.ErrAssignFailed) || len(res.Assigned) != 3 || !slices.Equal(res.Failed, []string{"BETA0002"}) {
		t.Fatalf("assign: %+v %v", res, err)
	}
	uuid1, defined := f.apple.Assigned(tn.account, "BETA0000")
	if uuid1 == "" || defined["url"] != "https://"+mustTenant(t, f, tn).Slug+".trident.test/ade/enroll" ||
		defined["department"] != "IT" || defined["is_supervised"] != true || defined["await_device_configured"] != true {
		t.Fatalf("profile defined at Apple: %v", defined)
	}
	if d := tn.devices()["BETA0002"]; d.AssignStatus != "failed" {
		t.Fatalf("failed device: %+v", d)
	}
	f.apple.Update(tn.account, func(a *fakedep.Account) { delete(a.AssignFails, "BETA0002") })
	res, err = f.dep.Assign(tn.ctx, as[0])
	if err != nil || !slices.Equal(res.Assigned, []string{"BETA0002"}) {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if u, _ := f.apple.Assigned(tn.account, "BETA0002"); u != uuid1 {
		t.Fatalf("the retry defined the profile again: %s vs %s", u, uuid1)
	}
	for sn, d := range tn.devices() {
		if d.AssignStatus != "assigned" || d.AppleProfileUUID != uuid1 {
			t.Fatalf("%s: %+v", sn, d)
		}
	}

	// Apple reports the assignments (modified), two new devices, a changed
	// asset tag and a removal.
	f.apple.Add(tn.account, "BETA0100", "BETA0101")
	f.apple.Modify(tn.account, "BETA0001", "TAG-1")
	f.apple.Remove(tn.account, "BETA0003")
	res2 := tn.sync()
	if res2.Added != 2 || res2.Removed != 1 || res2.Assigning != 2 || res2.Modified != 5 {
		t.Fatalf("incremental sync: %+v", res2)
	}
	ds := tn.devices()
	if _, ok := ds["BETA0003"]; ok || ds["BETA0001"].AssetTag != "TAG-1" || ds["BETA0100"].AssignStatus != "pending" || len(ds) != 5 {
		t.Fatalf("devices after sync: %+v", ds)
	}
	if as := jobs[dep.AssignArgs](tn, "dep.assign"); len(as) != 1 || !slices.Equal(as[0].Serials, []string{"BETA0100", "BETA0101"}) {
		t.Fatalf("new devices' assignment: %+v", as)
	}
	// A changed profile is defined again before the next assignment.
	f.tx(tn.ctx, func(tx pgx.Tx) error {
		_, err := f.dep.UpdateProfile(tn.ctx, profile.ID, "Corporate", dep.ProfileSettings{Department: "Sales"})
		if err != nil {
			return err
		}
		_, err = f.dep.RequestAssign(tn.ctx, profile.ID, []string{"BETA0000", "NOPE"})
		var verr *fault.Error
		if !errors.As(err, &verr) || verr.Code != fault.Invalid {
			return fmt.Errorf("assigning an unknown device: %v", err)
		}
		return nil
	})
	f.tx(tn.ctx, func(tx pgx.Tx) error {
		_, err := f.dep.RequestAssign(tn.ctx, profile.ID, []string{"BETA0000"})
		return err
	})
	as = jobs[dep.AssignArgs](tn, "dep.assign")
	if _, err := f.dep.Assign(tn.ctx, as[0]); err != nil {
		t.Fatal(err)
	}
	if u, p := f.apple.Assigned(tn.account, "BETA0000"); u == uuid1 || p["department"] != "Sales" {
		t.Fatalf("re-assignment used the old definition: %s %v", u, p)
	}
}

func mustTenant(t *testing.T, f fixture, tn *tenant) tenancy.Tenant {
	t.Helper()
	x, err := f.dir.Tenant(context.Background(), tenantOf(tn.ctx))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestEchoedCursorDoesNotLoop(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Echo", "E1", "E2")
	tn.upload()
	tn.sync()
	before := f.apple.Requests("/devices/sync")
	f.apple.Update(tn.account, func(a *fakedep.Account) { a.EchoCursor = true })
	res := tn.sync()
	if !res.Echoed || res.Pages != 1 || f.apple.Requests("/devices/sync") != before+1 {
		t.Fatalf("echoed cursor: %+v, %d requests", res, f.apple.Requests("/devices/sync")-before)
	}
	if c := tn.cursor(); c != "s2" {
		t.Fatalf("cursor %q", c)
	}
}

func TestTokenAlerts(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Gamma", "G1")

	// An expired server token: no call to Apple, status expired.
	f.apple.SetExpiry(tn.account, time.Now().Add(-time.Hour))
	if tk := tn.upload(); tk.Status != dep.Expired {
		t.Fatalf("expired upload: %+v", tk)
	}
	tn.sync()
	if n := f.apple.Requests("/session"); n != 0 {
		t.Fatalf("%d session requests with an expired token", n)
	}
	// Renewed, but expiring within 30 days: works, with a warning.
	f.apple.SetExpiry(tn.account, time.Now().Add(10*24*time.Hour))
	if tk := tn.upload(); tk.Status != dep.Expiring {
		t.Fatalf("expiring upload: %+v", tk)
	}
	if res := tn.sync(); res.Added != 1 {
		t.Fatalf("sync with an expiring token: %+v", res)
	}
	f.apple.SetExpiry(tn.account, time.Now().Add(300*24*time.Hour))
	tn.upload()

	// Terms not signed: recorded, alerted, no error for River to retry.
	f.apple.Update(tn.account, func(a *fakedep.Account) { a.TermsNotSigned = true })
	tn.sync()
	if tk := tn.tokenNow(); tk.Status != dep.TermsNotSigned || tk.SyncError == "" {
		t.Fatalf("terms: %+v", tk)
	}
	_, err := f.dep.AccountDetails(tn.ctx, tn.token.ID)
	var ae *dep.AppleError
	if !errors.As(err, &ae) || ae.Status != dep.TermsNotSigned {
		t.Fatalf("account with terms unsigned: %v", err)
	}
	f.apple.Update(tn.account, func(a *fakedep.Account) { a.TermsNotSigned = false })
	tn.sync()
	if tk := tn.tokenNow(); tk.Status != dep.Active || tk.SyncError != "" {
		t.Fatalf("after signing: %+v", tk)
	}

	// Revoked in ABM (a newer download replaced it): rejected.
	f.apple.Update(tn.account, func(a *fakedep.Account) { a.Revoked = true })
	if _, err := f.dep.Sync(tn.ctx, tn.token.ID); err != nil {
		t.Fatalf("sync with a revoked token: %v", err)
	}
	if tk := tn.tokenNow(); tk.Status != dep.Rejected {
		t.Fatalf("revoked: %+v", tk)
	}
	var statuses []string
	for _, e := range tn.events(dep.EventTokenStatus) {
		statuses = append(statuses, e["status"].(string))
	}
	want := []string{dep.Expired, dep.Expiring, dep.Active, dep.TermsNotSigned, dep.Active, dep.Rejected}
	if !slices.Equal(statuses, want) {
		t.Fatalf("status events %v, want %v", statuses, want)
	}
}

func TestFailureMidSyncLosesNothing(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Delta", "D0", "D1")
	tn.upload()
	tn.sync()
	f.apple.Update(tn.account, func(a *fakedep.Account) { a.PageSize = 2; a.FailSyncAfter = 1 })
	f.apple.Add(tn.account, "D2", "D3", "D4", "D5", "D6")

	// Apple fails the second page: the first is committed with its cursor.
	if _, err := f.dep.Sync(tn.ctx, tn.token.ID); err == nil {
		t.Fatal("a failed page did not fail the sync")
	}
	if ds := tn.devices(); len(ds) != 4 || tn.cursor() != "s4" {
		t.Fatalf("after Apple's failure: %d devices, cursor %s", len(ds), tn.cursor())
	}
	if tk := tn.tokenNow(); tk.SyncError == "" || tk.Status != dep.Active {
		t.Fatalf("token after a transient failure: %+v", tk)
	}

	// The database fails in the middle of a page: nothing of it is kept,
	// and the cursor stays before it.
	su := testenv.Superuser(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS boom_once (done boolean)`,
		`CREATE OR REPLACE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.serial_number = 'D5' AND NOT EXISTS (SELECT 1 FROM boom_once) THEN
    RAISE EXCEPTION 'simulated failure at %', NEW.serial_number;
  END IF;
  RETURN NEW;
END $$ SECURITY DEFINER`,
		`CREATE TRIGGER boom BEFORE INSERT ON dep_devices FOR EACH ROW EXECUTE FUNCTION boom()`,
	} {
		if _, err := su.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.dep.Sync(tn.ctx, tn.token.ID); err == nil {
		t.Fatal("a failed transaction did not fail the sync")
	}
	ds := tn.devices()
	if _, ok := ds["D4"]; ok || len(ds) != 4 || tn.cursor() != "s4" {
		t.Fatalf("after the database failure: %d devices (D4 of the failed page kept: %v), cursor %s", len(ds), ok, tn.cursor())
	}
	if _, err := su.Exec(ctx, `INSERT INTO boom_once VALUES (true)`); err != nil {
		t.Fatal(err)
	}
	res := tn.sync()
	if ds := tn.devices(); len(ds) != 7 || res.Added != 3 {
		t.Fatalf("after recovery: %d devices, %+v", len(ds), res)
	}
}

// A sync asked for while one runs is merged into the running one (River
// keeps one sync job per token), so the run must cover what changed in
// ABM before the ask, not end with the page it had. TestABMThroughTheServer
// lost ACME0004 this way when its "sync now" met the upload's sync.
func TestSyncAskedForDuringARunIsNotLost(t *testing.T) {
	f := setup(t)
	tn := f.newTenant("Echo", "E0")
	tn.upload()
	var once sync.Once
	f.apple.AfterSync = func() {
		once.Do(func() {
			f.apple.Add(tn.account, "E1")
			if err := f.db.Within(tn.ctx, func(ctx context.Context) error { return f.dep.EnqueueSync(tn.ctx, tn.token.ID) }); err != nil {
				t.Error(err)
			}
		})
	}
	res := tn.sync()
	if ds := tn.devices(); len(ds) != 2 || res.Added != 2 {
		t.Fatalf("the run ended without the device added before the second ask: %d devices %v, %+v", len(ds), slices.Collect(maps.Keys(ds)), res)
	}
	// With no ask meanwhile, a run makes one pass.
	f.apple.AfterSync = nil
	before := f.apple.Requests("/devices/sync")
	tn.sync()
	if n := f.apple.Requests("/devices/sync") - before; n != 1 {
		t.Fatalf("a quiet sync asked Apple %d times", n)
	}
}

func TestTenantsSeeOnlyTheirDevices(t *testing.T) {
	f := setup(t)
	a := f.newTenant("TenantA", "A1", "A2", "SHARED")
	b := f.newTenant("TenantB", "B1")
	a.upload()
	b.upload()
	a.sync()
	b.sync()
	if da, db := a.devices(), b.devices(); len(da) != 3 || len(db) != 1 || db["B1"].TokenID != b.token.ID {
		t.Fatalf("devices: A %v, B %v", da, db)
	}
	// B cannot reach A's token, nor enroll A's device.
	if _, err := f.dep.Sync(b.ctx, a.token.ID); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("B syncing A's token: %v", err)
	}
	err := f.db.Within(b.ctx, func(ctx context.Context) error {
		if _, err := f.dep.Token(b.ctx, a.token.ID); !errors.Is(err, tenancy.ErrNotFound) {
			return fmt.Errorf("B reading A's token: %v", err)
		}
		if _, err := f.dep.Enrolling(b.ctx, "A1", "udid"); !errors.Is(err, dep.ErrNotADEDevice) {
			return fmt.Errorf("B enrolling A's device: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.tx(a.ctx, func(tx pgx.Tx) error {
		_, err := f.dep.Enrolling(a.ctx, "A1", "udid")
		return err
	})
	if d := a.devices()["A1"]; d.EnrolledAt == nil {
		t.Fatalf("A1 not marked enrolling: %+v", d)
	}
}

func tenantOf(ctx context.Context) uuid.UUID {
	id, _ := tenancy.FromContext(ctx)
	return id
}

// A job's arguments name the tenant outside any transaction, where RLS
// cannot catch a missing one: asking without a tenant queues nothing.
func TestEnqueueSyncNeedsATenant(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	tx, err := f.db.Writer().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := f.dep.EnqueueSync(ctx, uuid.New()); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Fatalf("EnqueueSync without a tenant: %v", err)
	}
}
