package apple_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type env struct {
	db   *tenancy.DB
	pki  *pki.PKI
	url  string
	a, b tenancy.Tenant
}

func setup(t *testing.T) *env {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := seal.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, pki: pki.New(db, events.NewPublisher(nil), seal.NewKeyring(key)), a: testenv.Tenant(t, dir), b: testenv.Tenant(t, dir)}
	log := testenv.Logger(t)
	mux := http.NewServeMux()
	mux.Handle("/scep", apple.NewSCEP(e.pki, log))
	srv := httptest.NewServer(tenancy.NewResolver(dir).Middleware(log, mux))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/scep"
	return e
}

func (e *env) client(tn tenancy.Tenant) *devicesim.SCEPClient {
	return &devicesim.SCEPClient{URL: e.url, Host: tn.Slug + ".trident.test"}
}

func (e *env) challenge(t *testing.T, tn tenancy.Tenant) string {
	t.Helper()
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	var secret string
	err := e.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		secret, _, err = e.pki.NewChallengeTx(ctx, tx, "apple-enrollment", time.Hour)
		return
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (e *env) verify(tn tenancy.Tenant, cert *x509.Certificate) (pki.Binding, error) {
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	var b pki.Binding
	err := e.db.Tx(ctx, func(tx pgx.Tx) (err error) { b, err = e.pki.VerifyTx(ctx, tx, cert); return })
	return b, err
}

func TestSCEPEnrollment(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	ca := e.client(e.a)
	caps, err := ca.CACaps(ctx)
	if err != nil || !strings.Contains(caps, "Renewal") || !strings.Contains(caps, "POSTPKIOperation") {
		t.Fatalf("GetCACaps: %q %v", caps, err)
	}
	caA, err := ca.CACert(ctx)
	if err != nil {
		t.Fatal(err)
	}
	caB, err := e.client(e.b).CACert(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caA.Equal(caB) || !caA.IsCA {
		t.Fatal("tenants must have CAs of their own")
	}

	for _, get := range []bool{false, true} {
		c := e.client(e.a)
		c.UseGET = get
		secret := e.challenge(t, e.a)
		key, cert, err := c.Enroll(ctx, secret, "i-am-the-admin")
		if err != nil {
			t.Fatalf("enroll (GET=%v): %v", get, err)
		}
		if err := cert.CheckSignatureFrom(caA); err != nil {
			t.Fatal("the certificate is not from tenant A's CA")
		}
		if strings.Contains(cert.Subject.CommonName, "admin") {
			t.Fatalf("the device chose its own subject: %s", cert.Subject)
		}
		if len(cert.URIs) != 2 || cert.URIs[0].String() != "urn:trident:tenant:"+e.a.ID.String() {
			t.Fatalf("binding URIs %v", cert.URIs)
		}
		b, err := e.verify(e.a, cert)
		if err != nil || b.Tenant != e.a.ID || b.Purpose != "apple-enrollment" {
			t.Fatalf("verify in A: %+v %v", b, err)
		}
		// Tenant B knows nothing of it.
		if _, err := e.verify(e.b, cert); !errors.Is(err, pki.ErrCertificate) {
			t.Fatalf("verify in B: %v", err)
		}

		// The challenge was one-time.
		var refused *devicesim.RefusedError
		if _, _, err := c.Enroll(ctx, secret, "again"); !errors.As(err, &refused) {
			t.Fatalf("reused challenge: %v", err)
		}
		// Renewal: signed with the current certificate, no challenge, same enrollment.
		_, renewed, err := c.Renew(ctx, key, cert)
		if err != nil {
			t.Fatalf("renew: %v", err)
		}
		rb, err := e.verify(e.a, renewed)
		if err != nil || rb.ChallengeID != b.ChallengeID || renewed.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			t.Fatalf("renewed binding %+v (first %+v) %v", rb, b, err)
		}
	}

	// A's challenge means nothing on B's hostname; nor does a wrong one.
	var refused *devicesim.RefusedError
	if _, _, err := e.client(e.b).Enroll(ctx, e.challenge(t, e.a), "x"); !errors.As(err, &refused) {
		t.Fatalf("A's challenge at B: %v", err)
	}
	if _, _, err := e.client(e.a).Enroll(ctx, "guess", "x"); !errors.As(err, &refused) {
		t.Fatalf("a guessed challenge: %v", err)
	}
	// B cannot renew A's certificate either.
	key, cert, err := e.client(e.a).Enroll(ctx, e.challenge(t, e.a), "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.client(e.b).Renew(ctx, key, cert); err == nil {
		t.Fatal("tenant B renewed tenant A's certificate")
	}
}

func TestSCEPBadInput(t *testing.T) {
	e := setup(t)
	for name, c := range map[string]struct {
		method, query, body string
		want                int
	}{
		"no operation":      {"GET", "", "", 400},
		"unknown operation": {"GET", "operation=GetCRL", "", 400},
		"garbage POST":      {"POST", "operation=PKIOperation", "not pkcs7", 400},
		"garbage GET":       {"GET", "operation=PKIOperation&message=%%%", "", 400},
		"huge":              {"POST", "operation=PKIOperation", strings.Repeat("x", 70<<10), 400},
	} {
		req, _ := http.NewRequest(c.method, e.url+"?"+c.query, strings.NewReader(c.body))
		req.Host = e.a.Slug + ".trident.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, c.want)
		}
	}
	req, _ := http.NewRequest("GET", e.url+"?operation=GetCACaps", nil)
	req.Host = "nobody.trident.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("SCEP on an unknown tenant's hostname: %d", resp.StatusCode)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
