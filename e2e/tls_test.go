package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// With --tls-cert and --apple-device-identity tls, Trident terminates TLS
// itself and a device's identity is its TLS client certificate: no
// Mdm-Signature needed.
func TestMutualTLSIdentity(t *testing.T) {
	db := testenv.DB(t)
	d, _ := tenancy.NewDirectory(db, "trident.test")
	tn := testenv.Tenant(t, d)
	idp := testenv.StartIDP(t, devidp.Client{ID: "x", Secret: "s", Audience: []string{"trident-api"}})

	// A wildcard server certificate for the base domain.
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "*.trident.test"},
		DNSNames: []string{"*.trident.test", "trident.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	serverCert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)

	_, encKey, _ := seal.NewRandomKey()
	srv := start(t, idp.Issuer, "--encryption-key", encKey, "--apple-device-identity", "tls", "--device-scheme", "https",
		"--tls-cert", certFile, "--tls-key", keyFile)
	addr := fmt.Sprintf("127.0.0.1:%d", srv.Port)

	// The device's identity from the tenant's CA, as SCEP would issue it.
	devKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, devKey)
	csr, _ := x509.ParseCertificateRequest(csrDER)
	p := pki.New(db, events.NewPublisher(nil), seal.NewKeyring(mustKey(t, encKey)))
	tctx := tenancy.WithTenant(context.Background(), tn.ID)
	var devCert *x509.Certificate
	err := db.Tx(tctx, func(tx pgx.Tx) error {
		secret, _, err := p.NewChallengeTx(tctx, tx, "apple-enrollment", time.Hour)
		if err != nil {
			return err
		}
		devCert, _, err = p.IssueTx(tctx, tx, pki.IssueRequest{CSR: csr, Challenge: secret})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCert)
	host := tn.Slug + ".trident.test"
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host,
		Certificates: []tls.Certificate{{Certificate: [][]byte{devCert.Raw}, PrivateKey: devKey}}}}}
	dev := devicesim.NewAppleDevice("https://"+addr+"/mdm", host, "com.apple.mgmt.External.x", devKey, devCert)
	dev.Client, dev.Unsigned = client, true
	if err := dev.Authenticate(context.Background()); err != nil {
		t.Fatalf("Authenticate over mutual TLS, unsigned: %v", err)
	}
	// Without a client certificate there is no identity: 400, never 401.
	dev.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host}}}
	if err := dev.Authenticate(context.Background()); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("no client certificate: %v; want a 400", err)
	}

	// Windows: with Trident terminating TLS the enrollment certificate is
	// the TLS client certificate (the default when --tls-cert is set).
	var token string
	if err := db.Tx(tctx, func(tx pgx.Tx) error {
		token, _, err = p.NewChallengeTx(tctx, tx, enrollment.WindowsPurpose, time.Hour)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	win := devicesim.NewWindowsDevice("https://"+addr, host)
	win.Client = dev.Client // no client certificate while enrolling
	win.CertHeader = ""
	if err := win.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := win.Enroll(context.Background(), token, false); err != nil {
		t.Fatalf("Windows enrollment over TLS: %v", err)
	}
	if !strings.HasPrefix(win.ManagementURL, "https://"+host+"/") {
		t.Errorf("management URL %s", win.ManagementURL)
	}
	// A forged Client-Cert header is not an identity when Trident sees TLS.
	forged := *win
	forged.CertHeader = "Client-Cert"
	var refused *devicesim.ErrSessionRefused
	if _, err := forged.Session(context.Background()); !errors.As(err, &refused) || refused.Status != "403" {
		t.Fatalf("a session with the certificate only in a header: %v", err)
	}
	win.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host,
		Certificates: []tls.Certificate{{Certificate: [][]byte{win.Cert.Raw}, PrivateKey: win.Key}}}}}
	if _, err := win.Session(context.Background()); err != nil {
		t.Fatalf("a Windows session over mutual TLS: %v", err)
	}
}

func mustKey(t *testing.T, s string) seal.Key {
	k, err := seal.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
