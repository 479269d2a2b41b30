package apple

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"

	"github.com/tridentmdm/trident/services/pki"
)

// Issuer is what SCEP needs from services/pki.
type Issuer interface {
	CA(ctx context.Context) (*pki.CA, error)
	Issue(ctx context.Context, req pki.IssueRequest) (*x509.Certificate, pki.Binding, error)
}

// SCEP serves RFC 8894 on a tenant's hostname: GetCACaps, GetCACert and
// PKIOperation (PKCSReq with a one-time challenge, RenewalReq signed with
// the certificate being renewed), by GET and POST.
type SCEP struct {
	pki   Issuer
	log   *slog.Logger
	slots chan struct{}
}

// NewSCEP returns the SCEP handler. Mount it behind the tenant Host
// middleware.
//
// At most one issuance per processor runs at a time; the others wait
// for a slot before they take a connection. An issuance is three RSA
// private-key operations (the envelope, the certificate, the answer), and
// a burst of enrolling devices would otherwise share the processors
// evenly with the check-ins of devices already enrolled, whose latency
// then follows the burst's (loadtest/RESULTS.md). Waiting does not lower
// the issuance rate: the processors are what limit it.
func NewSCEP(p Issuer, log *slog.Logger) *SCEP {
	return &SCEP{pki: p, log: log, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// maxSCEPMessage bounds a PKIOperation body: a CSR in a signed, enveloped
// PKCS#7 is a few kilobytes.
const maxSCEPMessage = 64 << 10

// caCaps are the capabilities RFC 8894 section 3.5.2 lets a CA announce.
const caCaps = "Renewal\nSHA-256\nSHA-512\nAES\nPOSTPKIOperation\nSCEPStandard\n"

func (s *SCEP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch op := r.URL.Query().Get("operation"); op {
	case "GetCACaps":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, caCaps)
	case "GetCACert":
		ca, err := s.pki.CA(r.Context())
		if err != nil {
			s.fail(w, r, http.StatusServiceUnavailable, "the tenant's CA is unavailable", err)
			return
		}
		w.Header().Set("Content-Type", "application/x-x509-ca-cert")
		w.Write(ca.Cert.Raw)
	case "PKIOperation":
		s.pkiOperation(w, r)
	case "":
		http.Error(w, "SCEP: the operation parameter is missing", http.StatusBadRequest)
	default:
		http.Error(w, "SCEP: unsupported operation "+strings.Trim(op, "\x00"), http.StatusBadRequest)
	}
}

// readMessage returns the PKIOperation message: the POST body, or the GET
// message parameter in base64 (RFC 8894 section 4.1).
func readMessage(r *http.Request) ([]byte, error) {
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxSCEPMessage+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxSCEPMessage {
			return nil, errors.New("message larger than 64 KiB")
		}
		return b, nil
	}
	if r.Method != http.MethodGet {
		return nil, errors.New("PKIOperation takes GET or POST")
	}
	m := r.URL.Query().Get("message")
	if len(m) > maxSCEPMessage*4/3+4 {
		return nil, errors.New("message larger than 64 KiB")
	}
	// '+' may arrive as ' ' when a client did not escape the query.
	return base64.StdEncoding.DecodeString(strings.ReplaceAll(m, " ", "+"))
}

func (s *SCEP) pkiOperation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw, err := readMessage(r)
	if err != nil {
		http.Error(w, "SCEP: "+err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := parsePKIOperation(raw)
	if err != nil {
		http.Error(w, "SCEP: "+err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return // the device gave up waiting
	}
	var (
		ca      *pki.CA
		cert    *x509.Certificate
		refusal error
	)
	// The CA first, in a transaction of its own; the envelope is decrypted
	// outside any (an RSA private-key operation holds no connection).
	ca, err = s.pki.CA(ctx)
	if err == nil {
		refusal = msg.DecryptPKIEnvelope(ca.Cert, ca.Key)
	}
	if err == nil && refusal == nil {
		cert, refusal, err = s.issue(ctx, msg, raw)
	}
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "the tenant's CA is unavailable", err)
		return
	}
	var resp *scep.PKIMessage
	if refusal != nil {
		// A refusal is a SCEP answer (CertRep with status FAILURE), not an
		// HTTP error: RFC 8894 section 3.3.2.
		s.log.InfoContext(ctx, "SCEP request refused", "type", msg.MessageType.String(), "reason", refusal)
		resp, err = msg.Fail(ca.Cert, ca.Key, scep.BadRequest)
	} else {
		resp, err = msg.Success(ca.Cert, ca.Key, cert)
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "cannot build the SCEP answer", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pki-message")
	w.Write(resp.Raw)
}

// issue checks the request's challenge (or the certificate it renews) and
// issues the certificate; a request Trident refuses is a refusal, and
// changes nothing.
func (s *SCEP) issue(ctx context.Context, msg *scep.PKIMessage, raw []byte) (cert *x509.Certificate, refusal, err error) {
	req := pki.IssueRequest{CSR: msg.CSR, Challenge: msg.ChallengePassword}
	if msg.MessageType == scep.RenewalReq {
		if req.Renewing, err = signer(raw); err != nil {
			return nil, err, nil
		}
	}
	cert, _, err = s.pki.Issue(ctx, req)
	if errors.Is(err, pki.ErrChallenge) || errors.Is(err, pki.ErrCSR) || errors.Is(err, pki.ErrCertificate) {
		return nil, err, nil
	}
	return cert, nil, err
}

// parsePKIOperation parses a device's PKIOperation message and accepts
// the request types Trident serves.
func parsePKIOperation(raw []byte) (*scep.PKIMessage, error) {
	msg, err := scep.ParsePKIMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("not a signed PKI message: %w", err)
	}
	if msg.MessageType != scep.PKCSReq && msg.MessageType != scep.RenewalReq {
		return nil, fmt.Errorf("message type %s is not supported", msg.MessageType)
	}
	return msg, nil
}

// signer is the certificate that signed a RenewalReq: the one it renews.
func signer(raw []byte) (*x509.Certificate, error) {
	p7, err := pkcs7.Parse(raw)
	if err != nil {
		return nil, err
	}
	if c := p7.GetOnlySigner(); c != nil {
		return c, nil
	}
	return nil, errors.New("the renewal request has no single signer")
}

func (s *SCEP) fail(w http.ResponseWriter, r *http.Request, code int, msg string, err error) {
	s.log.ErrorContext(r.Context(), "SCEP", "err", err)
	http.Error(w, "SCEP: "+msg, code)
}
