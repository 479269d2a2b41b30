// Package fakeapns is a local server speaking Apple's APNs provider API
// (HTTP/2 over TLS with a client certificate: POST /3/device/{token}, the
// apns-* headers, JSON reasons on failure), for tests of the real apns2
// client. Apple's service cannot be reached from tests.
package fakeapns

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Push is one notification the server received.
type Push struct {
	Token      string
	Topic      string
	PushType   string
	Priority   string
	Body       []byte
	ClientCert *x509.Certificate
}

// Server is a running fake APNs.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	pushes  []Push
	reasons map[string]string // token -> failure reason
	got     chan Push
	count   bool // only count pushes (a long-running load test's server)
	n       int64
}

// New starts a server; Close it when done.
func New() *Server {
	return start(&Server{reasons: map[string]string{}, got: make(chan Push, 1000)}, nil)
}

// start serves s over HTTP/2 with TLS, asking for any client certificate
// (APNs's provider authentication), on l or a new loopback listener.
func start(s *Server, l net.Listener) *Server {
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if l != nil {
		s.Listener.Close()
		s.Listener = l
	}
	s.EnableHTTP2 = true
	s.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	s.StartTLS()
	return s
}

// Serve runs a server on l that only counts the pushes it accepts (for
// `trident loadtest apns`, which runs as long as a load test does).
func Serve(l net.Listener) *Server {
	return start(&Server{reasons: map[string]string{}, got: make(chan Push), count: true}, l)
}

// Count is how many pushes the server accepted.
func (s *Server) Count() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Fail makes pushes to token fail with an APNs reason (Unregistered answers
// 410, TooManyRequests 429, InternalServerError 500, the rest 400).
func (s *Server) Fail(token, reason string) {
	s.mu.Lock()
	s.reasons[token] = reason
	s.mu.Unlock()
}

// Pushes is what was received so far.
func (s *Server) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

// Next waits for the next received push.
func (s *Server) Next(d time.Duration) (Push, bool) {
	select {
	case p := <-s.got:
		return p, true
	case <-time.After(d):
		return Push{}, false
	}
}

// TLSConfig trusts the server, for the client under test.
func (s *Server) TLSConfig(c *tls.Config) {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	c.RootCAs = pool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if r.Method != http.MethodPost || !ok || token == "" {
		reply(w, http.StatusNotFound, "BadPath")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 5000))
	p := Push{Token: token, Topic: r.Header.Get("apns-topic"), PushType: r.Header.Get("apns-push-type"),
		Priority: r.Header.Get("apns-priority"), Body: body}
	if len(r.TLS.PeerCertificates) > 0 {
		p.ClientCert = r.TLS.PeerCertificates[0]
	}
	if p.Topic == "" {
		reply(w, http.StatusBadRequest, "MissingTopic")
		return
	}
	s.mu.Lock()
	reason := s.reasons[token]
	if reason == "" {
		s.n++
		if !s.count {
			s.pushes = append(s.pushes, p)
		}
	}
	s.mu.Unlock()
	switch reason {
	case "":
		w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
		w.WriteHeader(http.StatusOK)
		if !s.count {
			s.got <- p
		}
	case "Unregistered":
		reply(w, http.StatusGone, reason)
	case "TooManyRequests":
		reply(w, http.StatusTooManyRequests, reason)
	case "InternalServerError":
		reply(w, http.StatusInternalServerError, reason)
	default:
		reply(w, http.StatusBadRequest, reason)
	}
}

func reply(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"reason": reason, "timestamp": time.Now().UnixMilli()})
}

// PushCertificate issues what Apple's Push Certificates Portal would for
// pub (a new key when nil): an MDM push certificate with topic in its
// subject's UID. It returns the certificate and, for a new key, the key,
// both PEM.
func PushCertificate(topic string, pub crypto.PublicKey) (certPEM, keyPEM []byte, err error) {
	var key *rsa.PrivateKey
	if pub == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, nil, err
		}
		pub = &key.PublicKey
	}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Apple Application Integration 2 (fake)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(400 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
	uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{CommonName: "APSP:" + topic, ExtraNames: []pkix.AttributeTypeAndValue{{Type: uid, Value: topic}}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if key != nil {
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	}
	return certPEM, keyPEM, nil
}
