package apple

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// FuzzParsePKIOperation feeds the SCEP request parser what a device could
// send: it must refuse or accept without panicking, and what it accepts is
// a request type Trident serves.
func FuzzParsePKIOperation(f *testing.F) {
	f.Add(realRequest(f))
	f.Add([]byte{})
	f.Add([]byte("0\x82\x01\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := parsePKIOperation(raw)
		if err != nil {
			return
		}
		if msg.MessageType != scep.PKCSReq && msg.MessageType != scep.RenewalReq {
			t.Fatalf("accepted message type %s", msg.MessageType)
		}
		_, _ = signer(raw)
	})
}

// realRequest is a PKCSReq as a device sends it, to a throwaway CA.
func realRequest(f *testing.F) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seed"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	csrDER, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: "seed"}}, ChallengePassword: "secret"}, key)
	if err != nil {
		f.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(csrDER)
	msg, err := scep.NewCSRRequest(csr, &scep.PKIMessage{MessageType: scep.PKCSReq, Recipients: []*x509.Certificate{cert},
		SignerKey: key, SignerCert: cert})
	if err != nil {
		f.Fatal(err)
	}
	return msg.Raw
}
