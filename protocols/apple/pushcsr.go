package apple

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/tenancy"
)

// Vendor is the operator's MDM vendor identity from Apple's developer
// program: its "MDM CSR" certificate (with the chain up to Apple's root)
// and key sign tenants' push certificate requests.
type Vendor struct {
	Chain []*x509.Certificate // the vendor certificate first
	Key   crypto.Signer
}

// LoadVendor reads the vendor certificate chain and key from PEM files.
func LoadVendor(certFile, keyFile string) (*Vendor, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	v := &Vendor{}
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", certFile, err)
			}
			v.Chain = append(v.Chain, c)
		}
	}
	if len(v.Chain) == 0 {
		return nil, fmt.Errorf("%s holds no certificate", certFile)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("%s holds no PEM key", keyFile)
	}
	key, err := parseKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	v.Key = key
	return v, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("not a signing key")
	}
	return s, nil
}

// PushRequest is what an admin takes to Apple's Push Certificates Portal.
type PushRequest struct {
	// RequestFile is the signed request to upload to the portal (set when
	// a vendor certificate is configured): base64 of a plist with
	// PushCertRequestCSR, PushCertCertificateChain and PushCertSignature.
	RequestFile string
	// CSR is the certificate request in PEM, for an MDM vendor to sign
	// when this server has no vendor certificate.
	CSR string
}

// PushRequests makes tenants' push certificate requests.
type PushRequests struct {
	store  *mdmstore.Store
	vendor *Vendor // nil: hand out the CSR for signing elsewhere
}

// NewPushRequests returns the push certificate request maker.
func NewPushRequests(store *mdmstore.Store, vendor *Vendor) *PushRequests {
	return &PushRequests{store: store, vendor: vendor}
}

// Request makes a new key and certificate request for tenant t's push
// certificate, keeps the key (sealed) until Apple's certificate is
// uploaded, and signs the request as the vendor when it can.
func (p *PushRequests) Request(ctx context.Context, t tenancy.Tenant) (PushRequest, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return PushRequest{}, err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "Trident " + t.Slug, Organization: []string{t.Name}},
	}, key)
	if err != nil {
		return PushRequest{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := p.store.StorePushRequest(ctx, &key.PublicKey, keyPEM); err != nil {
		return PushRequest{}, err
	}
	out := PushRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))}
	if p.vendor == nil {
		return out, nil
	}
	sum := sha256.Sum256(csrDER)
	sig, err := p.vendor.Key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return PushRequest{}, fmt.Errorf("apple: sign the push request as the vendor: %w", err)
	}
	var chain bytes.Buffer
	for _, c := range p.vendor.Chain {
		pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	req, err := plist.MarshalIndent(map[string]string{
		"PushCertRequestCSR":       base64.StdEncoding.EncodeToString(csrDER),
		"PushCertCertificateChain": chain.String(),
		"PushCertSignature":        base64.StdEncoding.EncodeToString(sig),
	}, "  ")
	if err != nil {
		return PushRequest{}, err
	}
	out.RequestFile = base64.StdEncoding.EncodeToString(req)
	return out, nil
}
