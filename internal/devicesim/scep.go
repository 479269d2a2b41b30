package devicesim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// SCEPClient enrolls like a device: it reaches a tenant's SCEP endpoint at
// URL, sending Host when the name does not resolve (tests connect to
// 127.0.0.1).
type SCEPClient struct {
	URL    string // for example http://127.0.0.1:8080/scep
	Host   string // the tenant's hostname; "" to use URL's
	Client *http.Client
	UseGET bool // send PKIOperation by GET with a base64 message
}

func (c *SCEPClient) do(ctx context.Context, method, op string, body []byte) ([]byte, string, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, "", err
	}
	q := u.Query()
	q.Set("operation", op)
	if method == http.MethodGet && body != nil {
		q.Set("message", base64.StdEncoding.EncodeToString(body))
		body = nil
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("SCEP %s: HTTP %d: %s", op, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, resp.Header.Get("Content-Type"), nil
}

// CACaps fetches GetCACaps.
func (c *SCEPClient) CACaps(ctx context.Context) (string, error) {
	b, _, err := c.do(ctx, http.MethodGet, "GetCACaps", nil)
	return string(b), err
}

// CACert fetches the tenant's CA certificate.
func (c *SCEPClient) CACert(ctx context.Context) (*x509.Certificate, error) {
	b, ct, err := c.do(ctx, http.MethodGet, "GetCACert", nil)
	if err != nil {
		return nil, err
	}
	if ct != "application/x-x509-ca-cert" {
		return nil, fmt.Errorf("GetCACert answered %q", ct)
	}
	return x509.ParseCertificate(b)
}

// RefusedError is a SCEP CertRep with status FAILURE.
type RefusedError struct{ FailInfo scep.FailInfo }

func (e *RefusedError) Error() string { return "SCEP request refused: " + e.FailInfo.String() }

// Enroll makes a new key and gets it certified with challenge (a PKCSReq).
func (c *SCEPClient) Enroll(ctx context.Context, challenge, claimedName string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	// Before it has a certificate, a device signs with a self-signed one.
	self, err := selfSigned(key, claimedName)
	if err != nil {
		return nil, nil, err
	}
	cert, err := c.request(ctx, scep.PKCSReq, key, key, self, challenge, claimedName)
	return key, cert, err
}

// Renew gets a new key certified, signing the request with the current
// certificate and its key (a RenewalReq, no challenge).
func (c *SCEPClient) Renew(ctx context.Context, key crypto.Signer, cert *x509.Certificate) (*rsa.PrivateKey, *x509.Certificate, error) {
	next, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	got, err := c.request(ctx, scep.RenewalReq, next, key, cert, "", "renewal")
	return next, got, err
}

func (c *SCEPClient) request(ctx context.Context, typ scep.MessageType, key *rsa.PrivateKey, signerKey crypto.Signer,
	signerCert *x509.Certificate, challenge, cn string) (*x509.Certificate, error) {
	ca, err := c.CACert(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := NewRequest(ca, typ, key, signerKey, signerCert, challenge, cn)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, ca, raw, signerKey, signerCert)
}

// NewRequest builds a PKIOperation message for CA ca: a CSR for key with
// challenge, enveloped to the CA and signed by signerKey and signerCert.
func NewRequest(ca *x509.Certificate, typ scep.MessageType, key *rsa.PrivateKey, signerKey crypto.Signer,
	signerCert *x509.Certificate, challenge, cn string) ([]byte, error) {
	der, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}},
		ChallengePassword:  challenge,
	}, key)
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	msg, err := scep.NewCSRRequest(csr, &scep.PKIMessage{MessageType: typ, Recipients: []*x509.Certificate{ca},
		SignerKey: signerKey, SignerCert: signerCert})
	if err != nil {
		return nil, err
	}
	return msg.Raw, nil
}

// Prepared is a first enrollment's request built ahead (a load test's
// device does its own cryptography before the burst, as a real device
// does on its own processor, not the server's).
type Prepared struct {
	Raw  []byte            // the PKIOperation message
	Self *x509.Certificate // the self-signed certificate it is signed with
}

// Prepare builds key's first enrollment request for CA ca with challenge.
func Prepare(ca *x509.Certificate, key *rsa.PrivateKey, challenge, cn string) (Prepared, error) {
	self, err := selfSigned(key, cn)
	if err != nil {
		return Prepared{}, err
	}
	raw, err := NewRequest(ca, scep.PKCSReq, key, key, self, challenge, cn)
	return Prepared{Raw: raw, Self: self}, err
}

// EnrollPrepared sends a request built by Prepare (after GetCACert, as a
// device does) and returns the certificate.
func (c *SCEPClient) EnrollPrepared(ctx context.Context, p Prepared, key *rsa.PrivateKey) (*x509.Certificate, error) {
	ca, err := c.CACert(ctx)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, ca, p.Raw, key, p.Self)
}

func (c *SCEPClient) send(ctx context.Context, ca *x509.Certificate, raw []byte, signerKey crypto.Signer, signerCert *x509.Certificate) (*x509.Certificate, error) {
	method := http.MethodPost
	if c.UseGET {
		method = http.MethodGet
	}
	b, ct, err := c.do(ctx, method, "PKIOperation", raw)
	if err != nil {
		return nil, err
	}
	if ct != "application/x-pki-message" {
		return nil, fmt.Errorf("PKIOperation answered %q", ct)
	}
	resp, err := scep.ParsePKIMessage(b, scep.WithCACerts([]*x509.Certificate{ca}))
	if err != nil {
		return nil, fmt.Errorf("parse the CertRep: %w", err)
	}
	if resp.PKIStatus != scep.SUCCESS {
		return nil, &RefusedError{FailInfo: resp.FailInfo}
	}
	if err := resp.DecryptPKIEnvelope(signerCert, signerKey); err != nil {
		return nil, fmt.Errorf("decrypt the CertRep: %w", err)
	}
	return resp.CertRepMessage.Certificate, nil
}

func selfSigned(key *rsa.PrivateKey, cn string) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
