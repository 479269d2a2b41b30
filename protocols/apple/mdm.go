package apple

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"
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
	Verify(ctx context.Context, tx pgx.Tx, cert *x509.Certificate) (pki.Binding, error)
}

// MDMOptions tune the MDM endpoint.
type MDMOptions struct {
	Identity Identity
	Header   string // for FromHeader; default Client-Cert
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
func NewMDM(db TxRunner, store *mdmstore.Store, certs CertVerifier, svc *Service, o MDMOptions, log *slog.Logger) (http.Handler, error) {
	logger := nanoLogger{log}
	core := nanomdm.New(store, nanomdm.WithLogger(logger), nanomdm.WithDeclarativeManagement(DDM{status: svc.ddmStatus}))
	var chain service.CheckinAndCommandService = inOrder{core: core, side: svc, log: log}
	chain = certauth.New(chain, store, certauth.WithLogger(logger))
	h := http.Handler(httpmdm.CheckinAndCommandHandler(chain, logger))
	h = httpmdm.CertVerifyMiddleware(h, tenantCerts{db: db, pki: certs}, logger)
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxCheckin)
		h.ServeHTTP(w, r)
	}), nil
}

// tenantCerts verifies device certificates in the request's tenant.
type tenantCerts struct {
	db  TxRunner
	pki CertVerifier
}

func (v tenantCerts) Verify(ctx context.Context, cert *x509.Certificate) error {
	if cert == nil {
		return fmt.Errorf("no device certificate")
	}
	return v.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := v.pki.Verify(ctx, tx, cert)
		return err
	})
}

// nanoLogger adapts slog to nanomdm's logger: key-value pairs, with "msg"
// as the message.
type nanoLogger struct{ l *slog.Logger }

func (n nanoLogger) log(level slog.Level, kv ...interface{}) {
	msg := "nanomdm"
	var args []any
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && k == "msg" {
			msg = fmt.Sprint(kv[i+1])
			continue
		}
		args = append(args, kv[i], kv[i+1])
	}
	n.l.Log(context.Background(), level, msg, args...)
}

func (n nanoLogger) Info(kv ...interface{})  { n.log(slog.LevelInfo, kv...) }
func (n nanoLogger) Debug(kv ...interface{}) { n.log(slog.LevelDebug, kv...) }
func (n nanoLogger) With(kv ...interface{}) nlog.Logger {
	return nanoLogger{n.l.With(kv...)}
}
