package mdmstore_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/micromdm/nanomdm/test/e2e"

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

	for _, name := range []string{"first", "second"} {
		tn := testenv.Tenant(t, dir)
		t.Run(name+"-tenant", func(t *testing.T) {
			e2e.TestE2E(t, tenancy.WithTenant(context.Background(), tn.ID), store)
		})
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
