package wire

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A proxy's certificate header never panics the parser.
func FuzzParseCertHeader(f *testing.F) {
	f.Add(":MIIBszCCAVmgAwIBAgIB:")
	f.Add("-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A")
	f.Add("::")
	f.Fuzz(func(t *testing.T, v string) {
		ParseCertHeader(v)
	})
}

// The forms proxies send: RFC 9440, nginx's escaped PEM, and AWS ALB's
// mutual-TLS passthrough header (X-Amzn-Mtls-Clientcert: the chain as
// URL-encoded PEM, leaf first, with + = / left as they are).
func TestParseCertHeader(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var leaf *x509.Certificate
	// A certificate whose base64 has a '+', which a query unescaper would
	// turn into a space.
	for leaf == nil || !strings.Contains(base64.StdEncoding.EncodeToString(leaf.Raw), "+") {
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "device"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		leaf, _ = x509.ParseCertificate(der)
	}
	pemLeaf := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	alb := strings.NewReplacer("\n", "%0A", " ", "%20").Replace(pemLeaf + pemLeaf) // leaf, then its chain
	for name, v := range map[string]string{
		"rfc9440": ":" + base64.StdEncoding.EncodeToString(leaf.Raw) + ":",
		"nginx":   url.PathEscape(pemLeaf),
		"query":   url.QueryEscape(pemLeaf),
		"alb":     alb,
	} {
		got, err := ParseCertHeader(v)
		if err != nil || !got.Equal(leaf) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{"", ":not base64:", "garbage", url.QueryEscape("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")} {
		if _, err := ParseCertHeader(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
