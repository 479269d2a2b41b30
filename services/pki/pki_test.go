package pki

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A new tenant's first burst of requests makes one CA key, not one per
// request: they wait for the first and use its CA.
func TestConcurrentFirstRequestsMakeOneCA(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := seal.NewRandomKey()
	p := New(seal.NewKeyring(k))
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	const n = 8
	ids := make([]uuid.UUID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Tx(ctx, func(tx pgx.Tx) error {
				ca, err := p.CA(ctx, tx)
				if err == nil {
					ids[i] = ca.ID
				}
				return err
			})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: CA %s, %v; want %s", i, ids[i], errs[i], ids[0])
		}
	}
	if made := p.made.Load(); made != 1 {
		t.Errorf("%d CA keys made for one tenant; want 1", made)
	}
}
