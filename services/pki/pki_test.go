package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/tridentmdm/trident/services/events"

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
	p := New(db, events.NewPublisher(nil), seal.NewKeyring(k))
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)
	const n = 8
	ids := make([]uuid.UUID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Tx(ctx, func(tx pgx.Tx) error {
				ca, err := p.CATx(ctx, tx)
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

// issue makes a device certificate of the tenant in ctx.
func issue(t testing.TB, db *tenancy.DB, p *PKI, ctx context.Context) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	var cert *x509.Certificate
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		secret, _, err := p.NewChallengeTx(ctx, tx, "apple-enrollment", time.Hour)
		if err != nil {
			return err
		}
		cert, _, err = p.IssueTx(ctx, tx, IssueRequest{CSR: csr, Challenge: secret})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return cert
}

// A device's check-in verifying its certificate, over and over, inside
// one transaction (the database part is one indexed read).
func BenchmarkVerify(b *testing.B) {
	db := testenv.DB(b)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		b.Fatal(err)
	}
	k, _, _ := seal.NewRandomKey()
	p := New(db, events.NewPublisher(nil), seal.NewKeyring(k))
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(b, dir).ID)
	cert := issue(b, db, p, ctx)
	err = db.Tx(ctx, func(tx pgx.Tx) error {
		for b.Loop() {
			if _, err := p.VerifyTx(ctx, tx, cert); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
