package loadgen

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// SelfIssued makes n Apple devices with certificates from a new CA, for a
// server without SCEP: nanomdm's own, which the side-by-side comparison
// runs (its -ca is the returned PEM). Their keys come from keys.
func SelfIssued(n int, host, topic string, keys []*rsa.PrivateKey) ([]byte, []Device, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Load test device CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	devices := make([]Device, n)
	for i := range devices {
		k := i % len(keys)
		c := &x509.Certificate{SerialNumber: big.NewInt(int64(i) + 2), Subject: pkix.Name{CommonName: fmt.Sprintf("loadtest device %d", i)},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		cder, err := x509.CreateCertificate(rand.Reader, c, ca, &keys[k].PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		devices[i] = Device{Platform: "apple", Tenant: "nanomdm", Host: host, Key: k, Topic: topic,
			Cert: ":" + base64.StdEncoding.EncodeToString(cder) + ":"}
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), devices, nil
}
