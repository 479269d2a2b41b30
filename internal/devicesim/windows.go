package devicesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/smallstep/pkcs7"
)

// WindowsDevice is a simulated Windows 10/11 PC: it discovers its tenant's
// enrollment services (MS-MDE2), asks for the certificate policy
// (MS-XCEP), enrolls with a real key and CSR (MS-WSTEP), installs the
// provisioning document, and runs OMA-DM management sessions (SyncML
// 1.2), answering Trident's commands from its own node tree.
type WindowsDevice struct {
	BaseURL string // where the tenant's hostname is reached, e.g. http://127.0.0.1:8080
	Host    string // the hostname to send, when BaseURL's does not resolve to the tenant
	Client  *http.Client

	DeviceID, HWDevID, Name, Email string

	// CertHeader, when set, sends the enrollment certificate as a proxy
	// that terminated mutual TLS would (RFC 9440 in this header);
	// otherwise Client must present it in TLS.
	CertHeader string

	Key  *rsa.PrivateKey
	Cert *x509.Certificate // the enrollment certificate, after Enroll
	CA   *x509.Certificate // the tenant's CA, from the provisioning document

	// From discovery and the provisioning document.
	AuthPolicy, PolicyURL, EnrollmentURL, AuthenticationURL string
	ManagementURL, ProviderID                               string
	PollMinutes                                             int

	// Nodes is the device's OMA-DM tree: what Get reads and Replace
	// and Add write.
	Nodes map[string]string
	// Refuse answers commands on these nodes with a status code of its
	// own (405: not supported on this edition, say).
	Refuse map[string]int
	// Executed lists the Exec commands the device ran.
	Executed []string
	// ChunkSize, when positive, splits result values larger than it
	// across messages (SyncML MoreData), as devices do with large results.
	ChunkSize int
	// Record, when set, receives every request and answer.
	Record func(kind string, request, answer []byte)
	// Largest is the size of the largest answer so far.
	Largest int
	// RenewURL, RenewPeriodDays and ROBO are the provisioning document's
	// CertificateStore/My/WSTEP/Renew; PreviousCert and PreviousKey are
	// what the last renewal replaced.
	RenewURL                   string
	RenewPeriodDays, RetryDays int
	ROBO                       bool
	PreviousCert               *x509.Certificate
	PreviousKey                *rsa.PrivateKey
	// TLSCert, when set, is presented in a renewal's TLS instead of Cert
	// (tests of a mismatched credential).
	TLSCert *x509.Certificate
	// KeyProviders are the key storage providers the policy asked for,
	// in order (Windows tries them in turn).
	KeyProviders []string
	// PollOnFirstLogin is the provisioning document's
	// AllUsersPollOnFirstLogin.
	PollOnFirstLogin bool
	// CertNotFound says the provisioning document's
	// SSLCLIENTCERTSEARCHCRITERIA matched no certificate in the store it
	// named: sessions then present none, as Windows would.
	CertNotFound bool

	session int // sessions so far: a device runs one at a time
}

// NewWindowsDevice returns a device with a fresh id and the usual nodes.
func NewWindowsDevice(baseURL, host string) *WindowsDevice {
	b := make([]byte, 16)
	rand.Read(b)
	id := fmt.Sprintf("%X", b)
	return &WindowsDevice{BaseURL: baseURL, Host: host, Client: http.DefaultClient, CertHeader: "Client-Cert",
		DeviceID: id, HWDevID: fmt.Sprintf("%X", b[:8]) + "HW", Name: "DESKTOP-" + id[:7], Email: "user@example.com",
		Nodes: map[string]string{
			"./DevInfo/DevId":                      id,
			"./DevInfo/Man":                        "Contoso",
			"./DevInfo/Mod":                        "Surface Laptop 5",
			"./DevInfo/DmV":                        "1.3",
			"./DevInfo/Lang":                       "en-US",
			"./DevDetail/SwV":                      "10.0.22631.4460",
			"./DevDetail/Ext/Microsoft/DeviceName": "DESKTOP-" + id[:7],
			"./DevDetail/Ext/Microsoft/SMBIOSSerialNumber":                        "SN" + id[:10],
			"./DevDetail/Ext/Microsoft/OSPlatform":                                "Windows 11 Pro",
			"./DevDetail/Ext/Microsoft/LocalTime":                                 "2026-11-25T03:00:00.0000000-00:00",
			"./DevDetail/Ext/Microsoft/TotalStorage":                              "487234",
			"./DevDetail/Ext/Microsoft/TotalRAM":                                  "16384",
			"./Vendor/MSFT/DeviceStatus/Compliance/EncryptionCompliance":          "1",
			"./Device/Vendor/MSFT/BitLocker/Status/DeviceEncryptionStatus":        "0",
			"./Vendor/MSFT/DeviceStatus/Firewall/Status":                          "0",
			"./Vendor/MSFT/DeviceStatus/Antivirus/Status":                         "0",
			"./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera":               "1",
			"./Device/Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordEnabled": "1",
		},
		Refuse: map[string]int{"./Vendor/MSFT/DeviceStatus/TPM/SpecificationVersion": 404},
	}
}

const (
	soapNS       = "http://www.w3.org/2003/05/soap-envelope"
	addressingNS = "http://www.w3.org/2005/08/addressing"
	secExtNS     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
)

func (d *WindowsDevice) post(ctx context.Context, kind, url, contentType string, body []byte, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if d.Host != "" {
		req.Host = d.Host
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "ENROLLClient")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if d.Record != nil {
		d.Record(kind, body, b)
	}
	// Windows' enrollment and DM clients read one message of a known
	// length; a chunked answer fails there.
	if resp.ContentLength < 0 || len(resp.TransferEncoding) > 0 {
		return b, fmt.Errorf("%s: the answer is chunked (%v, no Content-Length): Windows wants one message", kind, resp.TransferEncoding)
	}
	if resp.ContentLength != int64(len(b)) {
		return b, fmt.Errorf("%s: Content-Length %d for %d bytes", kind, resp.ContentLength, len(b))
	}
	d.Largest = max(d.Largest, len(b))
	if resp.StatusCode != http.StatusOK {
		return b, &HTTPError{Status: resp.StatusCode, Body: string(b)}
	}
	return b, nil
}

// local turns a URL the server gave on the tenant's hostname into one
// this process can reach (BaseURL's address).
func (d *WindowsDevice) local(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if j := strings.Index(rest, "/"); j >= 0 {
			return strings.TrimRight(d.BaseURL, "/") + rest[j:]
		}
	}
	return u
}

func soapRequest(action, to, security, body string) []byte {
	return []byte(`<s:Envelope xmlns:a="` + addressingNS + `" xmlns:s="` + soapNS + `" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsse="` + secExtNS + `">` +
		`<s:Header><a:Action s:mustUnderstand="1">` + action + `</a:Action><a:MessageID>urn:uuid:` + uuid.NewString() + `</a:MessageID>` +
		`<a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>` +
		`<a:To s:mustUnderstand="1">` + xmlText(to) + `</a:To>` + security + `</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// SOAPFault is the server's SOAP fault.
type SOAPFault struct {
	HTTPStatus    int
	Code, Subcode string
	Reason        string
}

func (f *SOAPFault) Error() string {
	return fmt.Sprintf("SOAP fault (HTTP %d) %s/%s: %s", f.HTTPStatus, f.Code, f.Subcode, f.Reason)
}

type soapAnswer struct {
	Header struct {
		Action    string `xml:"Action"`
		RelatesTo string `xml:"RelatesTo"`
	} `xml:"Header"`
	Body struct {
		Inner string `xml:",innerxml"`
		Fault *struct {
			Code    string `xml:"Code>Value"`
			Subcode string `xml:"Code>Subcode>Value"`
			Reason  string `xml:"Reason>Text"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

func (d *WindowsDevice) soap(ctx context.Context, kind, url string, req []byte, wantAction string, header http.Header) (*soapAnswer, error) {
	b, err := d.post(ctx, kind, url, "application/soap+xml; charset=utf-8", req, header)
	var herr *HTTPError
	if err != nil && !errors.As(err, &herr) {
		return nil, err
	}
	var a soapAnswer
	if xerr := xml.Unmarshal(b, &a); xerr != nil {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s: the answer is not SOAP: %v", kind, xerr)
	}
	if a.Body.Fault != nil {
		f := &SOAPFault{Code: a.Body.Fault.Code, Subcode: a.Body.Fault.Subcode, Reason: a.Body.Fault.Reason, HTTPStatus: http.StatusOK}
		if herr != nil {
			f.HTTPStatus = herr.Status
		}
		return nil, f
	}
	if err != nil {
		return nil, err
	}
	if a.Header.Action != wantAction {
		return nil, fmt.Errorf("%s: answered with action %q", kind, a.Header.Action)
	}
	return &a, nil
}

// Discover asks the discovery service how to enroll (the GET first, as
// Windows does), offering OnPremise and Federated.
func (d *WindowsDevice) Discover(ctx context.Context) error {
	url := strings.TrimRight(d.BaseURL, "/") + "/EnrollmentServer/Discovery.svc"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if d.Host != "" {
		req.Host = d.Host
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{Status: resp.StatusCode}
	}
	body := `<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"><request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">` +
		`<EmailAddress>` + xmlText(d.Email) + `</EmailAddress><RequestVersion>5.0</RequestVersion><DeviceType>CIMClient_Windows</DeviceType>` +
		`<ApplicationVersion>10.0.22631.4460</ApplicationVersion><OSEdition>48</OSEdition>` +
		`<AuthPolicies><AuthPolicy>OnPremise</AuthPolicy><AuthPolicy>Federated</AuthPolicy></AuthPolicies></request></Discover>`
	a, err := d.soap(ctx, "discover", url, soapRequest("http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover", url, "", body),
		"http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/DiscoverResponse", nil)
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			AuthPolicy                 string
			EnrollmentVersion          string
			EnrollmentPolicyServiceUrl string
			EnrollmentServiceUrl       string
			AuthenticationServiceUrl   string
		} `xml:"DiscoverResult"`
	}
	if err := xml.Unmarshal([]byte(a.Body.Inner), &r); err != nil {
		return fmt.Errorf("discover: %v", err)
	}
	d.AuthPolicy, d.PolicyURL, d.EnrollmentURL, d.AuthenticationURL = r.Result.AuthPolicy, r.Result.EnrollmentPolicyServiceUrl,
		r.Result.EnrollmentServiceUrl, r.Result.AuthenticationServiceUrl
	if d.PolicyURL == "" || d.EnrollmentURL == "" {
		return errors.New("discover: no policy or enrollment service URL")
	}
	return nil
}

func (d *WindowsDevice) security(token string, federated bool) string {
	if federated {
		return `<wsse:Security s:mustUnderstand="1"><wsse:BinarySecurityToken ValueType="http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken" ` +
			`EncodingType="` + secExtNS + `#base64binary">` + base64.StdEncoding.EncodeToString([]byte(token)) + `</wsse:BinarySecurityToken></wsse:Security>`
	}
	return `<wsse:Security s:mustUnderstand="1"><wsse:UsernameToken u:Id="uuid-` + uuid.NewString() + `-1"><wsse:Username>` + xmlText(d.Email) +
		`</wsse:Username><wsse:Password wsse:Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">` +
		xmlText(token) + `</wsse:Password></wsse:UsernameToken></wsse:Security>`
}

// Policies asks for the certificate policy, authenticating with token
// (federated: the security token from the authentication service).
func (d *WindowsDevice) Policies(ctx context.Context, token string, federated bool) (minKeyLength int, err error) {
	body := `<GetPolicies xmlns="http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"><client><lastUpdate xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>` +
		`<preferredLanguage xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></client><requestFilter xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></GetPolicies>`
	a, err := d.soap(ctx, "policies", d.local(d.PolicyURL), soapRequest("http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies",
		d.PolicyURL, d.security(token, federated), body), "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPoliciesResponse", nil)
	if err != nil {
		return 0, err
	}
	var r struct {
		MinKey    int      `xml:"response>policies>policy>attributes>privateKeyAttributes>minimalKeyLength"`
		Providers []string `xml:"response>policies>policy>attributes>privateKeyAttributes>cryptoProviders>provider"`
	}
	if err := xml.Unmarshal([]byte(a.Body.Inner), &r); err != nil {
		return 0, fmt.Errorf("policies: %v", err)
	}
	d.KeyProviders = r.Providers
	return r.MinKey, nil
}

// Enroll sends a CSR for a new key with token and installs what the
// provisioning document holds.
func (d *WindowsDevice) Enroll(ctx context.Context, token string, federated bool) error {
	// A key set ahead (a load test's pool) is used; else a new one.
	key := d.Key
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return err
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: d.DeviceID}}, key)
	if err != nil {
		return err
	}
	ctxItem := func(name, v string) string {
		return `<ac:ContextItem Name="` + name + `"><ac:Value>` + xmlText(v) + `</ac:Value></ac:ContextItem>`
	}
	body := `<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512">` +
		`<wst:TokenType>http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken</wst:TokenType>` +
		`<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>` +
		`<wsse:BinarySecurityToken ValueType="http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10" EncodingType="` + secExtNS + `#base64binary">` +
		base64.StdEncoding.EncodeToString(csr) + `</wsse:BinarySecurityToken>` +
		`<ac:AdditionalContext xmlns="http://schemas.xmlsoap.org/ws/2006/12/authorization" xmlns:ac="http://schemas.xmlsoap.org/ws/2006/12/authorization">` +
		ctxItem("UXInitiated", "true") + ctxItem("HWDevID", d.HWDevID) + ctxItem("Locale", "en-US") + ctxItem("TargetedUserLoggedIn", "true") +
		ctxItem("OSEdition", "48") + ctxItem("DeviceName", d.Name) + ctxItem("MAC", "00-15-5D-01-02-03") + ctxItem("DeviceID", d.DeviceID) +
		ctxItem("EnrollmentType", "Full") + ctxItem("DeviceType", "CIMClient_Windows") + ctxItem("OSVersion", d.Nodes["./DevDetail/SwV"]) +
		ctxItem("ApplicationVersion", "10.0.22631.4460") + `</ac:AdditionalContext></wst:RequestSecurityToken>`
	a, err := d.soap(ctx, "enroll", d.local(d.EnrollmentURL), soapRequest("http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep",
		d.EnrollmentURL, d.security(token, federated), body), "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep", nil)
	if err != nil {
		return err
	}
	doc, err := provisioningDocOf(a, "enroll")
	if err != nil {
		return err
	}
	if err := d.install(doc); err != nil {
		return err
	}
	if !d.Cert.PublicKey.(*rsa.PublicKey).Equal(&key.PublicKey) {
		return errors.New("enroll: the certificate is not for the device's key")
	}
	if err := d.Cert.CheckSignatureFrom(d.CA); err != nil {
		return fmt.Errorf("enroll: the certificate is not signed by the root it came with: %v", err)
	}
	d.Key = key
	return nil
}

// Renewal says how a device renews its certificate.
type Renewal int

const (
	// RenewPKCS7 sends the new key's PKCS#10 signed with the current
	// certificate in a PKCS#7, without a TLS client certificate.
	RenewPKCS7 Renewal = iota
	// RenewTLS sends a bare PKCS#10 and presents the current certificate
	// as the TLS client certificate (here: the trusted proxy's header).
	RenewTLS
	// RenewBoth does both.
	RenewBoth
)

// Renew renews the device's certificate as Windows does when the
// provisioning document's WSTEP/Renew period starts (MS-WSTEP Renew,
// "ROBO"): no enrollment token, a new key, the current certificate as the
// credential. On success the new certificate is installed and the old one
// kept as PreviousCert.
func (d *WindowsDevice) Renew(ctx context.Context, how Renewal) error {
	if d.Cert == nil || d.Key == nil {
		return errors.New("renew: the device is not enrolled")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: d.DeviceID}}, key)
	if err != nil {
		return err
	}
	valueType, token := "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10", csr
	if how != RenewTLS {
		sd, err := pkcs7.NewSignedData(csr)
		if err != nil {
			return err
		}
		if err := sd.AddSigner(d.Cert, d.Key, pkcs7.SignerInfoConfig{}); err != nil {
			return err
		}
		if token, err = sd.Finish(); err != nil {
			return err
		}
		valueType = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS7"
	}
	url := d.RenewURL
	if url == "" {
		url = d.EnrollmentURL
	}
	body := `<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512">` +
		`<wst:TokenType>http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken</wst:TokenType>` +
		`<wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Renew</wst:RequestType>` +
		`<wsse:BinarySecurityToken ValueType="` + valueType + `" EncodingType="` + secExtNS + `#base64binary">` +
		base64.StdEncoding.EncodeToString(token) + `</wsse:BinarySecurityToken>` +
		`<ac:AdditionalContext xmlns="http://schemas.xmlsoap.org/ws/2006/12/authorization" xmlns:ac="http://schemas.xmlsoap.org/ws/2006/12/authorization">` +
		`<ac:ContextItem Name="DeviceID"><ac:Value>` + xmlText(d.DeviceID) + `</ac:Value></ac:ContextItem></ac:AdditionalContext></wst:RequestSecurityToken>`
	header := http.Header{}
	if how != RenewPKCS7 && d.CertHeader != "" {
		presented := d.Cert
		if d.TLSCert != nil {
			presented = d.TLSCert
		}
		header.Set(d.CertHeader, ":"+base64.StdEncoding.EncodeToString(presented.Raw)+":")
	}
	a, err := d.soap(ctx, "renew", d.local(url), soapRequest("http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep", url, "", body),
		"http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep", header)
	if err != nil {
		return err
	}
	doc, err := provisioningDocOf(a, "renew")
	if err != nil {
		return err
	}
	var root struct {
		Chars []wapCharacteristic `xml:"characteristic"`
	}
	if err := xml.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("renew: provisioning document: %v", err)
	}
	next, err := docCert(wapCharacteristic{Chars: root.Chars}, "CertificateStore", "My", "System", "*")
	if err != nil {
		return fmt.Errorf("renew: %v", err)
	}
	if !next.PublicKey.(*rsa.PublicKey).Equal(&key.PublicKey) {
		return errors.New("renew: the certificate is not for the new key")
	}
	if err := next.CheckSignatureFrom(d.CA); err != nil {
		return fmt.Errorf("renew: the certificate is not signed by the tenant's CA: %v", err)
	}
	// The DM client finds the certificate by the criteria it was given at
	// enrollment: the renewed one must match them too.
	if next.Subject.String() != d.Cert.Subject.String() {
		d.CertNotFound = true
	}
	d.PreviousCert, d.PreviousKey = d.Cert, d.Key
	d.Cert, d.Key = next, key
	return nil
}

// provisioningDocOf is the provisioning document an enrollment or renewal
// answer carries.
func provisioningDocOf(a *soapAnswer, kind string) ([]byte, error) {
	var r struct {
		Value string `xml:"RequestSecurityTokenResponse>RequestedSecurityToken>BinarySecurityToken"`
	}
	if err := xml.Unmarshal([]byte(a.Body.Inner), &r); err != nil {
		return nil, fmt.Errorf("%s: %v", kind, err)
	}
	doc, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Value))
	if err != nil {
		return nil, fmt.Errorf("%s: provisioning document: %v", kind, err)
	}
	return doc, nil
}

// docCert is the EncodedCertificate of the characteristic at path.
func docCert(top wapCharacteristic, path ...string) (*x509.Certificate, error) {
	c := top.find(path...)
	if c == nil {
		return nil, fmt.Errorf("provisioning document: no %s", strings.Join(path, "/"))
	}
	der, err := base64.StdEncoding.DecodeString(c.parm("EncodedCertificate"))
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// wapCharacteristic is a wap-provisioningdoc characteristic.
type wapCharacteristic struct {
	Type  string              `xml:"type,attr"`
	Parms []wapParm           `xml:"parm"`
	Chars []wapCharacteristic `xml:"characteristic"`
}

type wapParm struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

func (c wapCharacteristic) find(path ...string) *wapCharacteristic {
	if len(path) == 0 {
		return &c
	}
	for _, ch := range c.Chars {
		if ch.Type == path[0] || path[0] == "*" {
			if f := ch.find(path[1:]...); f != nil {
				return f
			}
		}
	}
	return nil
}

func (c wapCharacteristic) parm(name string) string {
	for _, p := range c.Parms {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// install reads the provisioning document as Windows' configuration
// service providers would.
func (d *WindowsDevice) install(doc []byte) error {
	var root struct {
		XMLName xml.Name            `xml:"wap-provisioningdoc"`
		Chars   []wapCharacteristic `xml:"characteristic"`
	}
	if err := xml.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("provisioning document: %v", err)
	}
	top := wapCharacteristic{Chars: root.Chars}
	var err error
	if d.CA, err = docCert(top, "CertificateStore", "Root", "System", "*"); err != nil {
		return err
	}
	if d.Cert, err = docCert(top, "CertificateStore", "My", "System", "*"); err != nil {
		return err
	}
	app := top.find("APPLICATION")
	if app == nil || app.parm("APPID") != "w7" {
		return errors.New("provisioning document: no w7 APPLICATION")
	}
	d.ManagementURL, d.ProviderID = app.parm("ADDR"), app.parm("PROVIDER-ID")
	if rn := top.find("CertificateStore", "My", "WSTEP", "Renew"); rn != nil {
		d.RenewURL = rn.parm("ServerURL")
		d.RenewPeriodDays, _ = strconv.Atoi(rn.parm("RenewPeriod"))
		d.RetryDays, _ = strconv.Atoi(rn.parm("RetryInterval"))
		d.ROBO = rn.parm("ROBOSupport") == "true"
	}
	// The DM client finds its certificate by the search criteria, in the
	// store they name; one it cannot find, it never presents.
	subject, store, err := SearchCriteria(app.parm("SSLCLIENTCERTSEARCHCRITERIA"))
	d.CertNotFound = err != nil || !strings.EqualFold(store, `MY\System`) || subject != d.Cert.Subject.String()
	poll := top.find("DMClient", "Provider", d.ProviderID, "Poll")
	if poll == nil {
		return errors.New("provisioning document: no DMClient poll schedule for the provider")
	}
	d.PollMinutes, _ = strconv.Atoi(poll.parm("IntervalForRemainingScheduledRetries"))
	d.PollOnFirstLogin = poll.parm("AllUsersPollOnFirstLogin") == "true"
	return nil
}

// SearchCriteria reads a w7 APPLICATION's SSLCLIENTCERTSEARCHCRITERIA
// as the DM client does: name=value pairs split on "&", each split at its
// first "=", the values URL-unescaped after splitting.
func SearchCriteria(v string) (subject, store string, err error) {
	for _, pair := range strings.Split(v, "&") {
		name, value, ok := strings.Cut(pair, "=")
		if !ok {
			return "", "", fmt.Errorf("search criteria: %q has no '='", pair)
		}
		if strings.Contains(value, "=") {
			return "", "", fmt.Errorf("search criteria: an unescaped '=' in the value of %s", name)
		}
		u, err := url.PathUnescape(value)
		if err != nil {
			return "", "", fmt.Errorf("search criteria: %s: %v", name, err)
		}
		switch name {
		case "Subject":
			subject = u
		case "Stores":
			store = u
		default:
			return "", "", fmt.Errorf("search criteria: unknown name %q", name)
		}
	}
	if subject == "" || store == "" {
		return "", "", errors.New("search criteria: want Subject and Stores")
	}
	return subject, store, nil
}

// SyncML as the device reads it.
type syncMessage struct {
	Hdr struct {
		SessionID string `xml:"SessionID"`
		MsgID     string `xml:"MsgID"`
		Target    string `xml:"Target>LocURI"`
		Source    string `xml:"Source>LocURI"`
	} `xml:"SyncHdr"`
	Body struct {
		Cmds  []syncCmd `xml:",any"`
		Final *struct{} `xml:"Final"`
	} `xml:"SyncBody"`
}

type syncCmd struct {
	XMLName xml.Name
	CmdID   string     `xml:"CmdID"`
	CmdRef  string     `xml:"CmdRef"`
	Cmd     string     `xml:"Cmd"`
	Data    string     `xml:"Data"`
	Items   []syncItem `xml:"Item"`
	Inner   []syncCmd  `xml:",any"`
}

type syncItem struct {
	Target string `xml:"Target>LocURI"`
	Format string `xml:"Meta>Format"`
	Data   string `xml:"Data"`
}

// SessionResult is what one management session did.
type SessionResult struct {
	Messages int      // device messages sent
	Commands []string // the verbs and nodes the server sent, in order
	// Headers are the server's SyncHdr statuses, one per message.
	Headers []string
}

// Session runs one management session (Alert 1201 and DevInfo), answering
// every command until the server sends none.
func (d *WindowsDevice) Session(ctx context.Context) (*SessionResult, error) {
	return d.run(ctx, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`+
		`<Alert><CmdID>2</CmdID><Item><Meta><Type xmlns="syncml:metinf">com.microsoft/MDM/LoginStatus</Type></Meta><Data>user</Data></Item><Data>1224</Data></Alert>`+
		`<Replace><CmdID>3</CmdID>`+d.devInfo()+`</Replace>`, false)
}

// Unenroll tells the server the user removed the work account (Alert
// 1226).
func (d *WindowsDevice) Unenroll(ctx context.Context) (*SessionResult, error) {
	return d.run(ctx, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`+
		`<Alert><CmdID>2</CmdID><Item><Target><LocURI>com.microsoft/MDM/MDMUnenrollment</LocURI></Target>`+
		`<Meta><Type xmlns="syncml:metinf">com.microsoft:mdm.unenrollment.userrequest</Type><Format xmlns="syncml:metinf">int</Format></Meta>`+
		`<Data>1</Data></Item><Data>1226</Data></Alert>`, true)
}

func (d *WindowsDevice) devInfo() string {
	var b strings.Builder
	for _, n := range []string{"./DevInfo/DevId", "./DevInfo/Man", "./DevInfo/Mod", "./DevInfo/DmV", "./DevInfo/Lang"} {
		b.WriteString(`<Item><Source><LocURI>` + n + `</LocURI></Source><Data>` + xmlText(d.Nodes[n]) + `</Data></Item>`)
	}
	return b.String()
}

func (d *WindowsDevice) message(sessionID string, msgID int, body string, final bool) []byte {
	f := ""
	if final {
		f = "<Final/>"
	}
	return []byte(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>` +
		`<SessionID>` + sessionID + `</SessionID><MsgID>` + strconv.Itoa(msgID) + `</MsgID>` +
		`<Target><LocURI>` + xmlText(d.ManagementURL) + `</LocURI></Target><Source><LocURI>` + xmlText(d.DeviceID) + `</LocURI></Source>` +
		`</SyncHdr><SyncBody>` + body + f + `</SyncBody></SyncML>`)
}

// Send posts one SyncML message as the device, with its certificate.
func (d *WindowsDevice) Send(ctx context.Context, msg []byte) ([]byte, error) {
	h := http.Header{}
	if d.CertHeader != "" && d.Cert != nil && !d.CertNotFound {
		h.Set(d.CertHeader, ":"+base64.StdEncoding.EncodeToString(d.Cert.Raw)+":")
	}
	return d.post(ctx, "session", d.local(d.ManagementURL), "application/vnd.syncml.dm+xml", msg, h)
}

// ErrSessionRefused is a session the server refused (its SyncHdr status).
type ErrSessionRefused struct{ Status string }

func (e *ErrSessionRefused) Error() string {
	return "the server refused the session: SyncHdr status " + e.Status
}

func (d *WindowsDevice) run(ctx context.Context, first string, unenroll bool) (*SessionResult, error) {
	d.session++
	sid := strconv.Itoa(d.session)
	res := &SessionResult{}
	pending := []string{first} // bodies of messages to send; the last one is Final
	msgID := 0
	for round := 0; round < 100; round++ {
		var reply *syncMessage
		for i, body := range pending {
			msgID++
			res.Messages++
			b, err := d.Send(ctx, d.message(sid, msgID, body, i == len(pending)-1))
			var herr *HTTPError
			if err != nil && !errors.As(err, &herr) {
				return res, err
			}
			var m syncMessage
			if xerr := xml.Unmarshal(b, &m); xerr != nil {
				if err != nil {
					return res, err
				}
				return res, fmt.Errorf("session: the answer is not SyncML: %v", xerr)
			}
			hdr := ""
			for _, c := range m.Body.Cmds {
				if c.XMLName.Local == "Status" && c.CmdRef == "0" {
					hdr = c.Data
				}
			}
			res.Headers = append(res.Headers, hdr)
			if hdr != "200" {
				return res, &ErrSessionRefused{Status: hdr}
			}
			if i < len(pending)-1 {
				if !hasAlert(m, "1222") || m.Body.Final != nil {
					return res, errors.New("session: the server did not ask for the next message (Alert 1222)")
				}
				continue
			}
			reply = &m
		}
		if unenroll {
			return res, nil
		}
		var out strings.Builder
		var chunks []string
		statusID := 0
		status := func(ref, cmd string, code int) {
			statusID++
			fmt.Fprintf(&out, `<Status><CmdID>s%d</CmdID><MsgRef>%s</MsgRef><CmdRef>%s</CmdRef><Cmd>%s</Cmd><Data>%d</Data></Status>`,
				statusID, reply.Hdr.MsgID, ref, cmd, code)
		}
		status("0", "SyncHdr", 200)
		commands := 0
		for _, c := range reply.Body.Cmds {
			switch c.XMLName.Local {
			case "Status", "Final":
				continue
			case "Alert":
				status(c.CmdID, "Alert", 200)
				continue
			}
			commands++
			chunks = append(chunks, d.execute(c, reply.Hdr.MsgID, status, &out, res)...)
		}
		if commands == 0 {
			return res, nil
		}
		// Chunked results go first, each in a message of its own without
		// Final; the statuses and the other results end the package.
		pending = append(chunks, out.String())
	}
	return res, errors.New("session: more than 100 rounds")
}

func hasAlert(m syncMessage, code string) bool {
	for _, c := range m.Body.Cmds {
		if c.XMLName.Local == "Alert" && c.Data == code {
			return true
		}
	}
	return false
}

// execute runs one command of the server's and writes its status (and
// results); it returns the messages that carry chunked results.
func (d *WindowsDevice) execute(c syncCmd, msgRef string, status func(ref, cmd string, code int), out *strings.Builder, res *SessionResult) []string {
	verb := c.XMLName.Local
	if verb == "Atomic" {
		// All or none: apply to a copy, keep it only if every command
		// succeeds.
		saved := make(map[string]string, len(d.Nodes))
		for k, v := range d.Nodes {
			saved[k] = v
		}
		failed := false
		codes := map[string]int{}
		for _, ic := range c.Inner {
			if ic.XMLName.Local == "CmdID" || ic.XMLName.Local == "Meta" {
				continue
			}
			code := d.apply(ic, res)
			codes[ic.CmdID] = code
			if code >= 300 {
				failed = true
			}
		}
		if failed {
			d.Nodes = saved
			status(c.CmdID, "Atomic", 507)
		} else {
			status(c.CmdID, "Atomic", 200)
		}
		for _, ic := range c.Inner {
			if ic.CmdID == "" || ic.XMLName.Local == "CmdID" {
				continue
			}
			code := codes[ic.CmdID]
			if failed && code < 300 {
				code = 216
			}
			status(ic.CmdID, ic.XMLName.Local, code)
		}
		return nil
	}
	if verb != "Get" {
		status(c.CmdID, verb, d.apply(c, res))
		return nil
	}
	var chunks []string
	var results strings.Builder
	code := 200
	for _, it := range c.Items {
		res.Commands = append(res.Commands, "Get "+it.Target)
		if rc, bad := d.Refuse[it.Target]; bad {
			code = rc
			continue
		}
		v, found := d.Nodes[it.Target]
		if !found {
			code = 404
			continue
		}
		for d.ChunkSize > 0 && len(v) > d.ChunkSize {
			chunks = append(chunks, `<Results><CmdID>r`+strconv.Itoa(len(chunks)+1)+`</CmdID><MsgRef>`+msgRef+`</MsgRef><CmdRef>`+c.CmdID+`</CmdRef><Item><Source><LocURI>`+
				xmlText(it.Target)+`</LocURI></Source><Data>`+xmlText(v[:d.ChunkSize])+`</Data><MoreData/></Item></Results>`)
			v = v[d.ChunkSize:]
		}
		results.WriteString(`<Item><Source><LocURI>` + xmlText(it.Target) + `</LocURI></Source><Meta><Format xmlns="syncml:metinf">chr</Format></Meta><Data>` +
			xmlText(v) + `</Data></Item>`)
	}
	status(c.CmdID, "Get", code)
	if code == 200 {
		out.WriteString(`<Results><CmdID>` + c.CmdID + `r</CmdID><MsgRef>` + msgRef + `</MsgRef><CmdRef>` + c.CmdID + `</CmdRef>` + results.String() + `</Results>`)
	}
	return chunks
}

// apply runs a Replace, Add, Delete or Exec on the node tree.
func (d *WindowsDevice) apply(c syncCmd, res *SessionResult) int {
	verb := c.XMLName.Local
	code := 200
	for _, it := range c.Items {
		res.Commands = append(res.Commands, verb+" "+it.Target)
		if rc, bad := d.Refuse[it.Target]; bad {
			code = rc
			continue
		}
		switch verb {
		case "Replace":
			d.Nodes[it.Target] = it.Data
		case "Add":
			if _, exists := d.Nodes[it.Target]; exists {
				code = 418
				continue
			}
			d.Nodes[it.Target] = it.Data
		case "Delete":
			if _, exists := d.Nodes[it.Target]; !exists {
				code = 404
				continue
			}
			delete(d.Nodes, it.Target)
		case "Exec":
			d.Executed = append(d.Executed, it.Target)
		default:
			code = 406
		}
	}
	return code
}

// Browser is a web view for the Federated sign-in: it keeps cookies,
// follows redirects, and reaches every host ending in suffix (a tenant's
// hostname that does not resolve here) at addr.
func Browser(suffix, addr string) *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(a)
			if err == nil && strings.HasSuffix(host, suffix) {
				a = net.JoinHostPort(addr, port)
			}
			return dialer.DialContext(ctx, network, a)
		}}}
}

// AppRU is where Windows' enrollment app takes the sign-in's result.
const AppRU = "ms-app://windows.immersivecontrolpanel"

var (
	reHidden = regexp.MustCompile(`name="(auth_request|wresult)" value="([^"]*)"`)
	reAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
)

// FederatedSignIn does what Windows' web view and its user do with the
// AuthenticationServiceUrl from discovery: open it with appru and the
// login hint, sign in on the provider's form, and take the security token
// the tenant's page posts to appru.
func (d *WindowsDevice) FederatedSignIn(ctx context.Context, browser *http.Client, username, password string) (string, error) {
	if d.AuthenticationURL == "" {
		return "", errors.New("discovery offered no AuthenticationServiceUrl")
	}
	q := url.Values{"appru": {AppRU}, "login_hint": {d.Email}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.AuthenticationURL+"?"+q.Encode(), nil)
	resp, err := browser.Do(req)
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &HTTPError{Status: resp.StatusCode, Body: string(page)}
	}
	m := reHidden.FindSubmatch(page)
	if m == nil || string(m[1]) != "auth_request" {
		return "", fmt.Errorf("no login form at %s", resp.Request.URL)
	}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: "/login"})
	form := url.Values{"auth_request": {html.UnescapeString(string(m[2]))}, "username": {username}, "password": {password}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, login.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = browser.Do(req)
	if err != nil {
		return "", err
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &HTTPError{Status: resp.StatusCode, Body: string(page)}
	}
	a, m := reAction.FindSubmatch(page), reHidden.FindSubmatch(page)
	if a == nil || m == nil || string(m[1]) != "wresult" {
		return "", fmt.Errorf("the sign-in ended without a result for Windows: %s", page)
	}
	if html.UnescapeString(string(a[1])) != AppRU {
		return "", fmt.Errorf("the result is posted to %q, not appru", a[1])
	}
	return html.UnescapeString(string(m[2])), nil
}
