package mdmstore_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/nanomdm/test/e2e"

	"github.com/tridentmdm/trident/internal/lastseen"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// nanomdmDir is nanomdm's module folder, whose testdata the conformance
// suite reads.
func nanomdmDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/micromdm/nanomdm").Output()
	if err != nil {
		t.Fatalf("find nanomdm's module: %v", err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("find nanomdm's module: %v %s", err, out)
	}
	return m.Dir
}

// TestNanoMDMConformance runs nanomdm's own storage suite (test/e2e)
// against Trident's storage, for two tenants in turn on one database: the
// second passes exactly as the first, which it could not if the first
// tenant's rows leaked into it (the suite enrolls the same device ids).
func TestNanoMDMConformance(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := seal.NewRandomKey()
	store := mdmstore.New(db, seal.NewKeyring(key))

	// The suite opens its fixtures at ../../mdm/testdata and
	// ../../test/e2e/testdata, relative to the directory it runs in (it
	// expects to run two levels below nanomdm's root): give it such a place.
	root := t.TempDir()
	nm := nanomdmDir(t)
	for _, d := range []string{"mdm", "test"} {
		if err := os.Symlink(filepath.Join(nm, d), filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(root, "storage", "trident")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)

	// The third tenant's store batches last-contact times, as the
	// server's does.
	batched := mdmstore.New(db, seal.NewKeyring(key), mdmstore.BatchSeen(lastseen.New(db, "apple_enrollments", mdmstore.SeenUpdate)))
	for name, s := range map[string]*mdmstore.Store{"first": store, "second": store, "batched": batched} {
		tn := testenv.Tenant(t, dir)
		t.Run(name+"-tenant", func(t *testing.T) {
			e2e.TestE2E(t, tenancy.WithTenant(context.Background(), tn.ID), s)
		})
	}
}

// With BatchSeen, an Idle only reads: the enrollment's last contact waits
// for the batch's flush.
func TestIdleLastSeenBatched(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := seal.NewRandomKey()
	batch := lastseen.New(db, "apple_enrollments", mdmstore.SeenUpdate)
	store := mdmstore.New(db, seal.NewKeyring(key), mdmstore.BatchSeen(batch))
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	r := mdm.NewRequestWithContext(ctx, nil)
	r.EnrollID = &mdm.EnrollID{Type: mdm.Device, ID: "UDID-1"}
	tok := mdm.TokenUpdate{Enrollment: mdm.Enrollment{UDID: "UDID-1"}, MessageType: mdm.MessageType{MessageType: "TokenUpdate"},
		Push: mdm.Push{Topic: "com.apple.mgmt.test", PushMagic: "magic", Token: []byte{1, 2, 3}}, Raw: []byte("<plist/>")}
	if err := store.StoreAuthenticate(r, &mdm.Authenticate{Enrollment: tok.Enrollment, SerialNumber: "C02", Raw: []byte("<plist/>")}); err != nil {
		t.Fatal(err)
	}
	if err := store.StoreTokenUpdate(r, &tok); err != nil {
		t.Fatal(err)
	}
	lastSeen := func() (ts time.Time) {
		t.Helper()
		if err := db.Tx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT last_seen_at FROM apple_enrollments WHERE id = 'UDID-1'`).Scan(&ts)
		}); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE apple_enrollments SET last_seen_at = now() - interval '5 minutes'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := lastSeen()
	if err := store.StoreCommandReport(r, &mdm.CommandResults{Status: "Idle"}); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(before) || batch.Pending() != 1 {
		t.Fatalf("after an Idle: last seen %s (was %s), %d pending; want unchanged and 1", got, before, batch.Pending())
	}
	if err := batch.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); time.Since(got) > time.Minute {
		t.Fatalf("after the flush: last seen %s", got)
	}
}

// Without a tenant in the context, every call fails: nothing is global.
func TestNoTenantNoData(t *testing.T) {
	db := testenv.DB(t)
	key, _, _ := seal.NewRandomKey()
	store := mdmstore.New(db, seal.NewKeyring(key))
	_, err := store.RetrievePushInfo(context.Background(), []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "no tenant") {
		t.Fatalf("RetrievePushInfo without a tenant: %v", err)
	}
	if _, err := store.EnrollmentFromHash(context.Background(), strings.Repeat("a", 64)); err == nil {
		t.Fatal("EnrollmentFromHash without a tenant succeeded")
	}
}
