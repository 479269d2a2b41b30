package apple

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	nlog "github.com/micromdm/nanolib/log"
	"github.com/micromdm/nanomdm/cryptoutil"
	httpmdm "github.com/micromdm/nanomdm/http/mdm"
	"github.com/micromdm/nanomdm/service"
	"github.com/micromdm/nanomdm/service/certauth"
	"github.com/micromdm/nanomdm/service/nanomdm"

	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/pki"
)

// Identity says where a device's identity certificate comes from.
type Identity string

const (
	// FromSignature reads the Mdm-Signature header: the enrollment
	// profile sets SignMessage, so no TLS client certificates are needed
	// (and a load balancer may terminate TLS). The default.
	FromSignature Identity = "signature"
	// FromTLS takes the TLS client certificate (Trident terminates TLS).
	FromTLS Identity = "tls"
	// FromHeader trusts a proxy that verified the client certificate and
	// forwards it in an RFC 9440 Client-Cert header.
	FromHeader Identity = "header"
)

// CertVerifier is what check-ins need from services/pki.
type CertVerifier interface {
	Verify(ctx context.Context, cert *x509.Certificate) (pki.Binding, error)
}

// MDMOptions tune the MDM endpoint.
type MDMOptions struct {
	Identity Identity
	Header   string // for FromHeader; default Client-Cert
}

// Transactions is what the MDM endpoint needs of tenancy.DB: Within, to
// make a whole request one transaction.
type Transactions interface {
	Within(ctx context.Context, fn func(ctx context.Context) error) error
}

// maxCheckin bounds a check-in or command report: InstalledApplicationList
// and ProfileList answers from a full Mac run to megabytes.
const maxCheckin = 20 << 20

// NewMDM builds the MDM endpoint (check-ins and commands, on one URL) for
// tenant hostnames, as nanomdm's chain: certificate extraction, then
// verification that the tenant's own CA issued the certificate and it is
// bound to the tenant, then nanomdm's certauth (one certificate per
// enrollment), then nanomdm's core followed, in order, by Trident's service
// (see inOrder). It never answers 401, on which a device would unenroll.
//
// Each request is one tenant transaction (see oneTransaction), however
// many of those parts read or write.
func NewMDM(db Transactions, store *mdmstore.Store, certs CertVerifier, svc *Service, o MDMOptions, log *slog.Logger) (http.Handler, error) {
	logger := nanoLogger{log}
	core := nanomdm.New(handout{Store: store, svc: svc}, nanomdm.WithLogger(logger), nanomdm.WithDeclarativeManagement(DDM{status: svc.ddmStatus}))
	var chain service.CheckinAndCommandService = inOrder{core: core, side: svc, log: log}
	chain = certauth.New(chain, store, certauth.WithLogger(logger))
	chain = deviceFaults{next: chain}
	h := http.Handler(httpmdm.CheckinAndCommandHandler(chain, logger))
	h = httpmdm.CertVerifyMiddleware(h, tenantCerts{certs}, logger)
	switch o.Identity {
	case FromSignature, "":
		h = httpmdm.CertExtractMdmSignatureMiddleware(h, httpmdm.MdmSignatureVerifierFunc(cryptoutil.VerifyMdmSignature),
			httpmdm.SigLogWithLogger(logger))
	case FromTLS:
		h = httpmdm.CertExtractTLSMiddleware(h, logger)
	case FromHeader:
		header := o.Header
		if header == "" {
			header = "Client-Cert"
		}
		h = httpmdm.CertExtractPEMHeaderMiddleware(h, header, logger)
	default:
		return nil, fmt.Errorf("apple: unknown device identity source %q (signature, tls or header)", o.Identity)
	}
	return oneTransaction(db, h, log), nil
}

// errRefused rolls back a request that h answered with an error.
var errRefused = errors.New("apple: request refused")

// oneTransaction reads the request's body (bounded; before any connection
// is taken, so a slow device holds none) and runs h in one tenant
// transaction: the certificate check, nanomdm's storage calls and
// Trident's service join it (tenancy.DB.Within), so an Idle costs one
// BEGIN and one COMMIT instead of one of each per part. The answer is held
// until the commit: a device never hears of a change that is then lost,
// an answer of 400 or more rolls everything back, and a failed commit (or
// a part that failed where the chain went on) is answered 500, so the
// device tries again.
func oneTransaction(db Transactions, h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCheckin))
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				http.Error(w, "check-in too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the request failed", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		held := &heldResponse{header: http.Header{}, status: http.StatusOK}
		err = db.Within(r.Context(), func(ctx context.Context) error {
			h.ServeHTTP(held, r.WithContext(ctx))
			if held.status >= 400 {
				return errRefused
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRefused) {
			if r.Context().Err() != nil {
				// The device hung up; it will come back.
				log.InfoContext(r.Context(), "device left before its request committed", "err", err)
				return
			}
			log.ErrorContext(r.Context(), "MDM request not committed", "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		for k, v := range held.header {
			w.Header()[k] = v
		}
		w.WriteHeader(held.status)
		_, _ = w.Write(held.body.Bytes())
	})
}

// heldResponse keeps an answer until its transaction commits.
type heldResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if !h.wrote {
		h.status, h.wrote = status, true
	}
}

func (h *heldResponse) Write(b []byte) (int, error) {
	h.wrote = true
	return h.body.Write(b)
}

// tenantCerts verifies device certificates in the request's tenant.
type tenantCerts struct{ pki CertVerifier }

func (v tenantCerts) Verify(ctx context.Context, cert *x509.Certificate) error {
	if cert == nil {
		return fmt.Errorf("no device certificate")
	}
	_, err := v.pki.Verify(ctx, cert)
	return err
}

// nanoLogger adapts slog to nanomdm's logger: key-value pairs, with "msg"
// as the message. Every value is cut to maxLogValue (nanomdm logs the
// whole body of a message it cannot parse), and a refused request is
// logged as a warning (a device's fault, 4xx) or an error (5xx).
type nanoLogger struct{ l *slog.Logger }

// maxLogValue bounds each value of a nanomdm log line.
const maxLogValue = 512

func (n nanoLogger) log(level slog.Level, kv ...interface{}) {
	msg := "nanomdm"
	var args []any
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v := kv[i+1]
		switch code, isInt := v.(int); {
		case k == "msg":
			msg = fmt.Sprint(v)
			continue
		case k == "http_status" && isInt && code >= 500:
			level = max(level, slog.LevelError)
		case k == "http_status" && isInt && code >= 400:
			level = max(level, slog.LevelWarn)
		}
		switch v.(type) {
		case string, error, fmt.Stringer, []byte:
			v = cut(fmt.Sprintf("%s", v), maxLogValue)
		}
		args = append(args, kv[i], v)
	}
	n.l.Log(context.Background(), level, msg, args...)
}

func (n nanoLogger) Info(kv ...interface{})  { n.log(slog.LevelInfo, kv...) }
func (n nanoLogger) Debug(kv ...interface{}) { n.log(slog.LevelDebug, kv...) }
func (n nanoLogger) With(kv ...interface{}) nlog.Logger {
	return nanoLogger{n.l.With(kv...)}
}
