package windows

import (
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tridentmdm/trident/protocols/windows/wire"

	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/internal/egress"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/oidclogin"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// Paths of the device endpoints, on every tenant hostname (including
// enterpriseenrollment.{customer domain} registered to the tenant, which
// Windows' automatic discovery tries first).
const (
	DiscoveryPath  = "/EnrollmentServer/Discovery.svc"
	PolicyPath     = "/EnrollmentServer/Policy.svc"
	EnrollmentPath = "/EnrollmentServer/Enrollment.svc"
	AuthPath       = "/EnrollmentServer/Auth"
	ManagementPath = "/ManagementServer/MDM.svc"
)

// TxRunner runs fn within one transaction of the context's tenant: the
// services fn calls join it (tenancy.DB.Within).
type TxRunner interface {
	Within(ctx context.Context, fn func(ctx context.Context) error) error
}

// Identity says where a device's enrollment certificate comes from in a
// management session.
type Identity string

const (
	// FromTLS reads the client certificate of the TLS connection: Trident
	// terminates TLS, or a load balancer passes TCP through (an NLB).
	FromTLS Identity = "tls"
	// FromHeader trusts a proxy that terminated mutual TLS and forwards
	// the certificate in a header (RFC 9440 Client-Cert, or URL-escaped
	// PEM as nginx's $ssl_client_escaped_cert). The proxy must drop the
	// header from clients: anyone can present a certificate they do not
	// hold the key of.
	FromHeader Identity = "header"
)

// Options configure the Windows endpoints.
type Options struct {
	Scheme   string   // how devices reach tenant hostnames: https, or http in development
	Identity Identity // where session certificates come from
	Header   string   // for FromHeader; default Client-Cert
	// Poll is how often enrolled devices start a session on their own
	// (DMClient's scheduled retries); default 15 minutes. Without WNS,
	// it bounds how long a command waits for its device.
	Poll time.Duration
	// Keys seal the federated sign-in's state cookie; without them the
	// Federated policy is not offered.
	Keys *seal.Keyring
	// Egress is what the federated sign-in may reach at the tenant's
	// provider (discovery, keys, tokens): the egress guard's policy, by
	// default https to public addresses only.
	Egress egress.Policy
	// ServerName is the name the tenant in ctx gives its management
	// server (its branding's display name), which Windows shows for the
	// work account; "" or nil: Trident.
	ServerName func(ctx context.Context) string
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Handler serves Windows discovery, enrollment and management.
type Handler struct {
	db     TxRunner
	enroll *enrollment.Windows
	inv    *inventory.Inventory
	cmds   *commands.Queue
	certs  *pki.PKI
	opts   Options
	log    *slog.Logger

	providers oidclogin.Providers // the tenants' OIDC providers, for Federated sign-in
	outbound  *http.Client        // the egress guard's client, for everything sent to them
}

// New returns the Windows handler.
func New(db TxRunner, enroll *enrollment.Windows, certs *pki.PKI, inv *inventory.Inventory, cmds *commands.Queue, o Options, log *slog.Logger) (*Handler, error) {
	if o.Scheme == "" {
		o.Scheme = "https"
	}
	if o.Poll == 0 {
		o.Poll = 15 * time.Minute
	}
	if o.Poll < time.Minute || o.Poll > 24*time.Hour {
		return nil, fmt.Errorf("windows: a poll interval of %s is not between a minute and a day", o.Poll)
	}
	if o.Header == "" {
		o.Header = "Client-Cert"
	}
	if o.Identity != FromTLS && o.Identity != FromHeader {
		return nil, fmt.Errorf("windows: unknown device identity source %q (tls or header)", o.Identity)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Egress.Redirects = max(o.Egress.Redirects, 2)
	return &Handler{db: db, enroll: enroll, certs: certs, inv: inv, cmds: cmds, opts: o, log: log, outbound: o.Egress.Client()}, nil
}

// Routes adds the endpoints to a tenant-host mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		// Windows checks that the service exists before it POSTs.
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST "+DiscoveryPath, h.soap(h.discover))
	mux.HandleFunc("POST "+PolicyPath, h.soap(h.policies))
	mux.HandleFunc("POST "+EnrollmentPath, h.soap(h.rst))
	mux.HandleFunc("POST "+ManagementPath, h.manage)
	if h.opts.Keys != nil {
		mux.HandleFunc("GET "+AuthPath, h.authStart)
		mux.HandleFunc("GET "+AuthPath+"/callback", h.authCallback)
	}
}

// url is the absolute URL of path on the host the device used.
func (h *Handler) url(r *http.Request, path string) string {
	return h.opts.Scheme + "://" + r.Host + path
}

const maxSOAP = 1 << 20

// soap reads a SOAP request, runs fn and writes its answer or fault.
func (h *Handler) soap(fn func(r *http.Request, env *wire.Envelope) (action, body string, security bool, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		b, err := io.ReadAll(io.LimitReader(r.Body, maxSOAP+1))
		if err != nil {
			return
		}
		if len(b) > maxSOAP {
			h.fault(w, r, wire.SenderFault("s:MessageFormat", "the request is larger than 1 MiB"), "")
			return
		}
		env, err := wire.ParseEnvelope(b)
		if err != nil {
			h.fault(w, r, wire.AsFault(err), "")
			return
		}
		action, body, security, err := fn(r, env)
		if errors.Is(err, inventory.ErrDeviceLimit) {
			// MS-MDE2's DeviceCapReached: Windows tells the person the
			// organization has enrolled as many devices as it may.
			err = wire.SenderFault("s:DeviceCapReached", err.Error())
		}
		if err != nil {
			h.fault(w, r, wire.AsFault(err), env.Header.MessageID)
			if f := (*wire.Fault)(nil); !errors.As(err, &f) {
				h.log.ErrorContext(r.Context(), "windows enrollment failed", "path", r.URL.Path, "err", err)
			}
			return
		}
		whole(w, http.StatusOK, wire.Response(action, env.Header.MessageID, body, security))
	}
}

// whole writes b as one message with its Content-Length: Windows'
// enrollment client wants no chunked answers (MS-MDE2 and Microsoft's
// enrollment documentation: "the HTTP server response must not be
// chunked; it must be sent as one message"), and Go's server chunks
// anything larger than its write buffer unless told the length.
func whole(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func (h *Handler) fault(w http.ResponseWriter, r *http.Request, f *wire.Fault, relatesTo string) {
	code := http.StatusInternalServerError
	if f.Sender {
		code = http.StatusBadRequest
		h.log.InfoContext(r.Context(), "windows enrollment refused", "path", r.URL.Path, "subcode", f.Subcode, "reason", f.Reason)
	}
	whole(w, code, wire.FaultResponse(f, relatesTo))
}

// discover answers MS-MDE2's Discover: where the policy and enrollment
// services are, and how to authenticate to them.
func (h *Handler) discover(r *http.Request, env *wire.Envelope) (string, string, bool, error) {
	d := env.Body.Discover
	if env.Header.Action != wire.ActionDiscover || d == nil {
		return "", "", false, wire.SenderFault("s:MessageFormat", "expected a Discover request")
	}
	version := "4.0"
	if v, err := strconv.ParseFloat(d.RequestVersion, 64); err == nil && v >= 5 {
		version = "5.0"
	}
	offers := func(p string) bool {
		for _, a := range d.AuthPolicies {
			if strings.EqualFold(strings.TrimSpace(a), p) {
				return true
			}
		}
		return len(d.AuthPolicies) == 0 && p == "OnPremise"
	}
	federated := false
	if h.opts.Keys != nil && offers("Federated") {
		_, err := h.federation(r.Context())
		if err != nil && !errors.Is(err, enrollment.ErrNoFederation) {
			return "", "", false, err
		}
		federated = err == nil
	}
	var res strings.Builder
	switch {
	case federated:
		res.WriteString(`<AuthPolicy>Federated</AuthPolicy>`)
		res.WriteString(`<AuthenticationServiceUrl>` + wire.Esc(h.url(r, AuthPath)) + `</AuthenticationServiceUrl>`)
	case offers("OnPremise"):
		res.WriteString(`<AuthPolicy>OnPremise</AuthPolicy>`)
	default:
		return "", "", false, wire.SenderFault("s:Authentication", "this server offers the OnPremise policy (an enrollment token as the password); the device did not offer it")
	}
	body := `<DiscoverResponse xmlns="` + wire.NsEnrollment + `"><DiscoverResult>` + res.String() +
		`<EnrollmentVersion>` + version + `</EnrollmentVersion>` +
		`<EnrollmentPolicyServiceUrl>` + wire.Esc(h.url(r, PolicyPath)) + `</EnrollmentPolicyServiceUrl>` +
		`<EnrollmentServiceUrl>` + wire.Esc(h.url(r, EnrollmentPath)) + `</EnrollmentServiceUrl>` +
		`</DiscoverResult></DiscoverResponse>`
	return wire.ActionDiscoverResponse, body, false, nil
}

// checkToken refuses a request whose token would not enroll.
func (h *Handler) checkToken(ctx context.Context, env *wire.Envelope) (string, error) {
	tok, err := wire.Token(env)
	if err != nil {
		return "", err
	}
	err = h.enroll.CheckToken(ctx, tok)
	if errors.Is(err, enrollment.ErrToken) {
		return "", wire.SenderFault("s:Authentication", err.Error())
	}
	return tok, err
}

// policies answers MS-XCEP's GetPolicies: one policy, for the key the
// device makes and the hash it signs its request with.
func (h *Handler) policies(r *http.Request, env *wire.Envelope) (string, string, bool, error) {
	if env.Header.Action != wire.ActionGetPolicies || env.Body.GetPolicies == nil {
		return "", "", false, wire.SenderFault("s:MessageFormat", "expected a GetPolicies request")
	}
	if _, err := h.checkToken(r.Context(), env); err != nil {
		return "", "", false, err
	}
	nil_ := ` xsi:nil="true"`
	body := `<GetPoliciesResponse xmlns="` + wire.NsPolicy + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><response>` +
		`<policyID/><policyFriendlyName` + nil_ + `/><nextUpdateHours` + nil_ + `/><policiesNotChanged` + nil_ + `/>` +
		`<policies><policy><policyOIDReference>0</policyOIDReference><cAs` + nil_ + `/><attributes>` +
		`<commonName>Trident</commonName><policySchema>3</policySchema>` +
		`<certificateValidity><validityPeriodSeconds>` + strconv.Itoa(int(pki.DeviceLifetime/time.Second)) + `</validityPeriodSeconds>` +
		`<renewalPeriodSeconds>` + strconv.Itoa(RenewPeriodDays*24*3600) + `</renewalPeriodSeconds></certificateValidity>` +
		`<permission><enroll>true</enroll><autoEnroll>false</autoEnroll></permission>` +
		`<privateKeyAttributes><minimalKeyLength>2048</minimalKeyLength><keySpec` + nil_ + `/><keyUsageProperty` + nil_ + `/>` +
		`<permissions` + nil_ + `/><algorithmOIDReference` + nil_ + `/>` +
		// The TPM's key storage provider first, so the key cannot leave
		// the device; the software one where there is no TPM.
		`<cryptoProviders><provider>` + TPMProvider + `</provider><provider>` + SoftwareProvider + `</provider></cryptoProviders></privateKeyAttributes>` +
		`<revision><majorRevision>101</majorRevision><minorRevision>0</minorRevision></revision>` +
		`<supersededPolicies` + nil_ + `/><privateKeyFlags` + nil_ + `/><subjectNameFlags` + nil_ + `/><enrollmentFlags` + nil_ + `/>` +
		`<generalFlags` + nil_ + `/><hashAlgorithmOIDReference>0</hashAlgorithmOIDReference><rARequirements` + nil_ + `/>` +
		`<keyArchivalAttributes` + nil_ + `/><extensions` + nil_ + `/></attributes></policy></policies></response>` +
		`<cAs` + nil_ + `/><oIDs><oID><value>2.16.840.1.101.3.4.2.1</value><group>1</group><oIDReferenceID>0</oIDReferenceID>` +
		`<defaultName>szOID_NIST_sha256</defaultName></oID></oIDs></GetPoliciesResponse>`
	return wire.ActionGetPoliciesResp, body, false, nil
}

// rst answers MS-WSTEP's RequestSecurityToken: the token enrolls the
// device, its CSR is signed by the tenant's CA, and the answer is the
// provisioning document that installs the certificates and the
// management account.
func (h *Handler) rst(r *http.Request, env *wire.Envelope) (string, string, bool, error) {
	req := env.Body.RST
	if env.Header.Action != wire.ActionRST || req == nil {
		return "", "", false, wire.SenderFault("s:MessageFormat", "expected a RequestSecurityToken request")
	}
	if req.TokenType == wire.TokenTypeEnrollment && req.RequestType == wire.RequestTypeRenew {
		return h.renew(r, req)
	}
	if req.TokenType != wire.TokenTypeEnrollment || (req.RequestType != "" && req.RequestType != wire.RequestTypeIssue) {
		return "", "", false, wire.SenderFault("s:MessageFormat", "expected a DeviceEnrollmentToken Issue or Renew request")
	}
	bst := req.BinarySecurityToken
	if bst == nil || bst.ValueType != wire.ValueTypePKCS10 {
		return "", "", false, wire.SenderFault("s:CertificateRequest", "the request carries no PKCS#10 certificate request")
	}
	der, err := tokenDER(bst)
	if err != nil {
		return "", "", false, err
	}
	csr, err := parseCSR(der)
	if err != nil {
		return "", "", false, err
	}
	tok, err := wire.Token(env)
	if err != nil {
		return "", "", false, err
	}
	dev := enrollment.Device{DeviceID: req.Context("DeviceID"), HWDevID: req.Context("HWDevID"), DeviceType: req.Context("DeviceType"),
		OSEdition: req.Context("OSEdition"), OSVersion: req.Context("OSVersion"), Name: req.Context("DeviceName"),
		EnrollType: req.Context("EnrollmentType"), Application: req.Context("ApplicationVersion")}
	var cert, ca *x509.Certificate
	err = h.db.Within(r.Context(), func(ctx context.Context) error {
		var err error
		if cert, _, err = h.enroll.Enroll(ctx, tok, csr, dev); err != nil {
			return err
		}
		c, err := h.certs.CA(ctx)
		if err == nil {
			ca = c.Cert
		}
		return err
	})
	switch {
	case errors.Is(err, enrollment.ErrToken):
		return "", "", false, wire.SenderFault("s:Authentication", err.Error())
	case errors.Is(err, pki.ErrCSR):
		return "", "", false, wire.SenderFault("s:CertificateRequest", err.Error())
	case fault.Is(err, fault.Invalid):
		return "", "", false, wire.SenderFault("s:MessageFormat", err.Error())
	case err != nil:
		return "", "", false, err
	}
	tenant, _ := tenancy.FromContext(r.Context())
	h.log.InfoContext(r.Context(), "windows device enrolled", "tenant", tenant, "device_id", dev.DeviceID)
	return wire.ActionRSTRC, rstrc(h.provisioningDoc(r, ca, cert, dev, false)), true, nil
}

// tokenDER is a request's BinarySecurityToken decoded (whitespace, which
// Microsoft's samples put around it, ignored), or the fault that says why
// not.
func tokenDER(bst *wire.BinaryToken) ([]byte, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(bst.Value), ""))
	if err != nil {
		return nil, wire.SenderFault("s:CertificateRequest", "the certificate request is not base64")
	}
	return der, nil
}

// parseCSR reads a PKCS#10, or answers the fault that says why not.
func parseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, wire.SenderFault("s:CertificateRequest", "the certificate request does not parse: "+err.Error())
	}
	return csr, nil
}

// rstrc is the RequestSecurityTokenResponseCollection carrying a
// provisioning document.
func rstrc(doc []byte) string {
	return `<RequestSecurityTokenResponseCollection xmlns="` + wire.NsTrust + `"><RequestSecurityTokenResponse>` +
		`<TokenType>` + wire.TokenTypeEnrollment + `</TokenType>` +
		`<DispositionMessage xmlns="` + wire.NsPKIEnroll + `"/>` +
		`<RequestedSecurityToken><BinarySecurityToken ValueType="` + wire.TokenTypeProvision + `" EncodingType="` + wire.EncodingBase64 +
		`" xmlns="` + wire.NsSecExt + `">` + base64.StdEncoding.EncodeToString(doc) + `</BinarySecurityToken></RequestedSecurityToken>` +
		`<RequestID xmlns="` + wire.NsPKIEnroll + `">0</RequestID>` +
		`</RequestSecurityTokenResponse></RequestSecurityTokenResponseCollection>`
}

// Renewal timing, told to Windows in the provisioning document
// (CertificateStore/My/WSTEP/Renew): start renewing this long before the
// certificate expires, and retry this often until it works.
const (
	RenewPeriodDays   = 60
	RetryIntervalDays = 7
)

// renew answers MS-WSTEP's renewal (RequestType Renew, Windows' "ROBO"):
// no enrollment token, the device's current certificate is the
// credential: the TLS client certificate (or the trusted proxy's header),
// and, when the request is a PKCS#7, its signer (both, when both are
// there, must be the same certificate). The new certificate is the
// tenant CA's, for the same enrollment and subject; the old one keeps
// working until it expires.
func (h *Handler) renew(r *http.Request, req *wire.RSTRequest) (string, string, bool, error) {
	bst := req.BinarySecurityToken
	if bst == nil || (bst.ValueType != wire.ValueTypePKCS10 && bst.ValueType != wire.ValueTypePKCS7) {
		return "", "", false, wire.SenderFault("s:CertificateRequest", "a renewal carries a PKCS#10 or PKCS#7 certificate request")
	}
	der, err := tokenDER(bst)
	if err != nil {
		return "", "", false, err
	}
	var signer *x509.Certificate
	if bst.ValueType == wire.ValueTypePKCS7 {
		p7, err := pkcs7.Parse(der)
		if err != nil {
			return "", "", false, wire.SenderFault("s:CertificateRequest", "the PKCS#7 does not parse: "+err.Error())
		}
		if err := p7.Verify(); err != nil {
			return "", "", false, wire.SenderFault("s:Authentication", "the PKCS#7's signature does not verify")
		}
		if signer = p7.GetOnlySigner(); signer == nil {
			return "", "", false, wire.SenderFault("s:Authentication", "the PKCS#7 has no single signer")
		}
		der = p7.Content
	}
	csr, err := parseCSR(der)
	if err != nil {
		return "", "", false, err
	}
	cert, _ := h.deviceCert(r)
	switch {
	case cert != nil && signer != nil && !cert.Equal(signer):
		return "", "", false, wire.SenderFault("s:Authentication", "the PKCS#7 is signed with another certificate than the one presented")
	case cert == nil && signer == nil:
		return "", "", false, wire.SenderFault("s:Authentication", "a renewal is authenticated by the device's current certificate (TLS client certificate or PKCS#7 signer)")
	case cert == nil:
		cert = signer
	}
	var next, ca *x509.Certificate
	var e enrollment.Enrollment
	err = h.db.Within(r.Context(), func(ctx context.Context) error {
		var err error
		if next, e, err = h.enroll.Renew(ctx, cert, csr); err != nil {
			return err
		}
		c, err := h.certs.CA(ctx)
		if err == nil {
			ca = c.Cert
		}
		return err
	})
	switch {
	case errors.Is(err, enrollment.ErrNotEnrolled):
		return "", "", false, wire.SenderFault("s:Authorization", err.Error())
	case errors.Is(err, pki.ErrCSR):
		return "", "", false, wire.SenderFault("s:CertificateRequest", err.Error())
	case err != nil:
		return "", "", false, err
	}
	tenant, _ := tenancy.FromContext(r.Context())
	h.log.InfoContext(r.Context(), "windows certificate renewed", "tenant", tenant, "device_id", e.DeviceID, "not_after", next.NotAfter)
	return wire.ActionRSTRC, rstrc(h.provisioningDoc(r, ca, next, enrollment.Device{DeviceID: e.DeviceID}, true)), true, nil
}

// The key storage providers the policy asks for, in order.
const (
	TPMProvider      = "Microsoft Platform Crypto Provider"
	SoftwareProvider = "Microsoft Software Key Storage Provider"
)

// ProviderID names Trident's management account on the device: the
// APPLICATION's PROVIDER-ID and the DMClient provider must agree.
const ProviderID = "Trident"

func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// SearchCriteria is the w7 APPLICATION's SSLCLIENTCERTSEARCHCRITERIA for
// cert: "Subject=<subject>&Stores=<store>", each value URL-escaped as the
// CSP requires (the "=" and "," inside the subject too, as in its example
// Subject=CN%3DTester,O%3DMicrosoft), the subject whole as the
// certificate carries it (RFC 4514 order: CN, OU, O), and the machine's
// personal store where the provisioning document puts the certificate.
func SearchCriteria(cert *x509.Certificate) string {
	return "Subject=" + criterionEscape(cert.Subject.String()) + "&Stores=" + criterionEscape(`MY\System`)
}

// criterionEscape percent-encodes every byte but RFC 3986's unreserved
// ones: the DM client splits the criteria on "&" and "=" before it
// unescapes the values.
func criterionEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// provisioningDoc is the wap-provisioningdoc of MS-MDE2 section 2.2.9.1:
// the tenant's CA into the machine's root store, the device certificate
// into its personal store with its renewal schedule, the management server
// (w7 APPLICATION) that authenticates with it, and DMClient's polling
// schedule. A renewal's document holds the certificate stores only.
func (h *Handler) provisioningDoc(r *http.Request, ca, cert *x509.Certificate, d enrollment.Device, renewal bool) []byte {
	var b strings.Builder
	parm := func(name, value, datatype string) {
		b.WriteString(`<parm name="` + name + `"`)
		if value != "" {
			b.WriteString(` value="` + wire.Esc(value) + `"`)
		}
		if datatype != "" {
			b.WriteString(` datatype="` + datatype + `"`)
		}
		b.WriteString(`/>`)
	}
	enc := func(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }
	b.WriteString(`<wap-provisioningdoc version="1.1">`)
	b.WriteString(`<characteristic type="CertificateStore"><characteristic type="Root"><characteristic type="System">`)
	b.WriteString(`<characteristic type="` + thumbprint(ca) + `">`)
	parm("EncodedCertificate", enc(ca), "")
	b.WriteString(`</characteristic></characteristic></characteristic>`)
	b.WriteString(`<characteristic type="My"><characteristic type="System"><characteristic type="` + thumbprint(cert) + `">`)
	parm("EncodedCertificate", enc(cert), "")
	b.WriteString(`</characteristic><characteristic type="PrivateKeyContainer"/></characteristic>`)
	// Renewal (MS-WSTEP; Windows' "ROBO": renew on behalf of, with the
	// current certificate, no user needed). Where the datatypes are given
	// they must be, Microsoft says.
	b.WriteString(`<characteristic type="WSTEP"><characteristic type="Renew">`)
	parm("ServerURL", h.url(r, EnrollmentPath), "")
	parm("RenewPeriod", strconv.Itoa(RenewPeriodDays), "integer")
	parm("RetryInterval", strconv.Itoa(RetryIntervalDays), "integer")
	parm("ROBOSupport", "true", "boolean")
	b.WriteString(`</characteristic></characteristic></characteristic>`)
	b.WriteString(`</characteristic>`)
	if renewal {
		b.WriteString(`</wap-provisioningdoc>`)
		return []byte(b.String())
	}

	b.WriteString(`<characteristic type="APPLICATION">`)
	parm("APPID", "w7", "")
	parm("PROVIDER-ID", ProviderID, "")
	name := "Trident"
	if h.opts.ServerName != nil {
		name = cmp.Or(h.opts.ServerName(r.Context()), name)
	}
	parm("NAME", name, "")
	parm("ADDR", h.url(r, ManagementPath), "")
	parm("CONNRETRYFREQ", "6", "")
	parm("INITIALBACKOFFTIME", "30000", "")
	parm("MAXBACKOFFTIME", "120000", "")
	parm("BACKCOMPATRETRYDISABLED", "", "")
	parm("DEFAULTENCODING", wire.SyncMLType, "")
	parm("SSLCLIENTCERTSEARCHCRITERIA", SearchCriteria(cert), "")
	b.WriteString(`<characteristic type="APPAUTH">`)
	parm("AAUTHLEVEL", "CLIENT", "")
	parm("AAUTHTYPE", "DIGEST", "")
	parm("AAUTHSECRET", "unused", "")
	parm("AAUTHDATA", "bm9uY2U=", "")
	b.WriteString(`</characteristic><characteristic type="APPAUTH">`)
	parm("AAUTHLEVEL", "APPSRV", "")
	parm("AAUTHTYPE", "DIGEST", "")
	parm("AAUTHNAME", "unused", "")
	parm("AAUTHSECRET", "unused", "")
	parm("AAUTHDATA", "bm9uY2U=", "")
	b.WriteString(`</characteristic></characteristic>`)

	poll := int(h.opts.Poll / time.Minute)
	b.WriteString(`<characteristic type="DMClient"><characteristic type="Provider"><characteristic type="` + ProviderID + `">`)
	if d.Name != "" {
		parm("EntDeviceName", d.Name, "string")
	}
	b.WriteString(`<characteristic type="Poll">`)
	parm("NumberOfFirstRetries", "8", "integer")
	parm("IntervalForFirstSetOfRetries", "3", "integer")
	parm("NumberOfSecondRetries", "5", "integer")
	parm("IntervalForSecondSetOfRetries", "15", "integer")
	parm("NumberOfRemainingScheduledRetries", "0", "integer")
	parm("IntervalForRemainingScheduledRetries", strconv.Itoa(poll), "integer")
	parm("PollOnLogin", "true", "boolean")
	parm("AllUsersPollOnFirstLogin", "true", "boolean")
	b.WriteString(`</characteristic></characteristic></characteristic></characteristic>`)
	b.WriteString(`</wap-provisioningdoc>`)
	return []byte(b.String())
}
