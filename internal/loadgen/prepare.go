package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// PrepareOptions say what fleet to prepare.
type PrepareOptions struct {
	MSP      string // the MSP's slug (made if missing)
	Tenants  int    // tenants lt-0001… (reused if they exist)
	Apple    int    // Apple devices, spread evenly over the tenants
	Windows  int    // Windows devices, likewise
	Keys     int    // size of the key pool (default 32)
	HostPort string // ":8080" to add to tenants' hostnames; "" for none
	// ChallengeLifetime bounds how long the burst may wait (default 24h).
	ChallengeLifetime time.Duration
}

// Prepare makes the tenants, gives each a push certificate (from a local
// "Apple", for a local APNs: the load test's pushes must not reach Apple),
// and makes one enrollment challenge per device. It answers the devices
// to enroll and the key pool.
func Prepare(ctx context.Context, db *tenancy.DB, dir *tenancy.Directory, pk *pki.PKI, store *mdmstore.Store, win *enrollment.Windows,
	o PrepareOptions) ([]Device, []*rsa.PrivateKey, error) {
	if o.Tenants < 1 || o.Apple < 0 || o.Windows < 0 {
		return nil, nil, errors.New("loadgen: at least one tenant, and no negative device counts")
	}
	if o.Keys <= 0 {
		o.Keys = 32
	}
	if o.ChallengeLifetime == 0 {
		o.ChallengeLifetime = 24 * time.Hour
	}
	keys, err := MakeKeys(o.Keys)
	if err != nil {
		return nil, nil, err
	}
	msp, err := dir.MSPBySlug(ctx, o.MSP)
	if errors.Is(err, tenancy.ErrNotFound) {
		msp, err = dir.CreateMSP(ctx, o.MSP, "Load test")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loadgen: MSP: %w", err)
	}
	var out []Device
	for i := range o.Tenants {
		slug := fmt.Sprintf("lt-%04d", i+1)
		t, err := dir.TenantBySlug(ctx, slug)
		if errors.Is(err, tenancy.ErrNotFound) {
			t, err = dir.CreateTenant(ctx, msp.ID, slug, fmt.Sprintf("Load test %d", i+1))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("loadgen: tenant %s: %w", slug, err)
		}
		tctx := tenancy.WithTenant(ctx, t.ID)
		certs, err := store.PushCerts(tctx)
		if err != nil {
			return nil, nil, err
		}
		topic := fmt.Sprintf("com.apple.mgmt.External.%08x-0000-4000-8000-%012d", i+1, i+1)
		if len(certs) == 0 {
			certPEM, keyPEM, err := fakeapns.PushCertificate(topic, nil)
			if err != nil {
				return nil, nil, err
			}
			if err := store.StorePushCert(tctx, certPEM, keyPEM); err != nil {
				return nil, nil, fmt.Errorf("loadgen: push certificate of %s: %w", slug, err)
			}
		} else {
			topic = certs[0].Topic
		}
		host := slug + "." + dir.BaseDomain() + o.HostPort
		var ca *pki.CA
		if err := db.Tx(tctx, func(tx pgx.Tx) (err error) { ca, err = pk.CATx(tctx, tx); return err }); err != nil {
			return nil, nil, fmt.Errorf("loadgen: CA of %s: %w", slug, err)
		}
		// One secret per device, in batches of a transaction each.
		apple, err := inBatches(tctx, db, share(o.Apple, o.Tenants, i), func(ctx context.Context) (d Device, err error) {
			d = Device{Platform: "apple", Topic: topic}
			err = db.Tx(ctx, func(tx pgx.Tx) (err error) {
				d.Secret, _, err = pk.NewChallengeTx(ctx, tx, "apple-enrollment", o.ChallengeLifetime)
				return err
			})
			return d, err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("loadgen: challenges for %s: %w", slug, err)
		}
		nw := share(o.Windows, o.Tenants, i)
		if nw > 0 && win == nil {
			return nil, nil, errors.New("loadgen: Windows devices need the Windows enrollment service")
		}
		windows, err := inBatches(tctx, db, nw, func(ctx context.Context) (Device, error) {
			tok, err := win.NewToken(ctx, o.ChallengeLifetime)
			return Device{Platform: "windows", Secret: tok.Secret}, err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("loadgen: Windows tokens for %s: %w", slug, err)
		}
		first := len(out)
		for _, d := range append(apple, windows...) {
			d.Tenant, d.Host, d.Key = slug, host, len(out)%len(keys)
			out = append(out, d)
		}
		if err := prepareRequests(out[first:first+len(apple)], ca.Cert, keys); err != nil {
			return nil, nil, err
		}
	}
	return out, keys, nil
}

// share is tenant i's part of n devices spread over tenants.
func share(n, tenants, i int) int {
	if i < n%tenants {
		return n/tenants + 1
	}
	return n / tenants
}

// inBatches makes n devices with next, a transaction per thousand
// (next's context is within it).
func inBatches(ctx context.Context, db *tenancy.DB, n int, next func(context.Context) (Device, error)) ([]Device, error) {
	out := make([]Device, 0, n)
	for len(out) < n {
		batch := min(n-len(out), 1000)
		var made []Device
		err := db.Within(ctx, func(ctx context.Context) error {
			made = made[:0]
			for range batch {
				d, err := next(ctx)
				if err != nil {
					return err
				}
				made = append(made, d)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, made...)
	}
	return out, nil
}

// prepareRequests builds each device's SCEP request on every core: the
// devices' own cryptography, done before the burst.
func prepareRequests(ds []Device, ca *x509.Certificate, keys []*rsa.PrivateKey) error {
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i := range ds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := devicesim.Prepare(ca, keys[ds[i].Key], ds[i].Secret, "loadtest")
			ds[i].SCEP, ds[i].Self, errs[i] = base64.StdEncoding.EncodeToString(p.Raw), base64.StdEncoding.EncodeToString(p.Self.Raw), err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// MakeKeys makes n RSA-2048 keys on every core.
func MakeKeys(n int) ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			keys[i], errs[i] = rsa.GenerateKey(rand.Reader, 2048)
		})
	}
	wg.Wait()
	return keys, errors.Join(errs...)
}
