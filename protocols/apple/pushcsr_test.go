package apple_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/protocols/apple"
)

// With a vendor certificate, the request file is Apple's format: a base64
// plist holding the CSR, the vendor's chain and the vendor's SHA-256 RSA
// signature of the CSR.
func TestVendorSignedPushRequest(t *testing.T) {
	e := setupMDM(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "MDM Vendor: Trident Test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "vendor.pem"), filepath.Join(dir, "vendor.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	vendor, err := apple.LoadVendor(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	req, err := apple.NewPushRequests(e.store, vendor).Request(e.ctx(e.a), e.a)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(req.RequestFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ PushCertRequestCSR, PushCertCertificateChain, PushCertSignature string }
	if err := plist.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	csr, _ := base64.StdEncoding.DecodeString(file.PushCertRequestCSR)
	sig, _ := base64.StdEncoding.DecodeString(file.PushCertSignature)
	sum := sha256.Sum256(csr)
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("vendor signature: %v", err)
	}
	if b, _ := pem.Decode([]byte(file.PushCertCertificateChain)); b == nil {
		t.Fatal("no vendor chain")
	}
	if _, err := x509.ParseCertificateRequest(csr); err != nil {
		t.Fatal(err)
	}
	if _, err := apple.LoadVendor(certFile, certFile); err == nil {
		t.Fatal("a certificate accepted as the vendor key")
	}
}
