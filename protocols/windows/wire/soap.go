// Package wire reads and writes the Windows enrollment and management
// wire formats: the SOAP 1.2 envelopes of MS-MDE2 discovery, MS-XCEP and
// MS-WSTEP, and OMA-DM's SyncML 1.2. It has no dependencies beyond the
// standard library, so its fuzz targets run fast.
package wire

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Namespaces and URIs of MS-MDE2, MS-XCEP and MS-WSTEP.
const (
	NsSOAP       = "http://www.w3.org/2003/05/soap-envelope"
	NsAddressing = "http://www.w3.org/2005/08/addressing"
	NsSecExt     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NsUtility    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NsEnrollment = "http://schemas.microsoft.com/windows/management/2012/01/enrollment"
	NsPolicy     = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"
	NsTrust      = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	NsPKIEnroll  = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment"

	ActionDiscover         = "http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover"
	ActionDiscoverResponse = "http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/DiscoverResponse"
	ActionGetPolicies      = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies"
	ActionGetPoliciesResp  = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPoliciesResponse"
	ActionRST              = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep"
	ActionRSTRC            = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep"
	ActionFault            = "http://www.w3.org/2005/08/addressing/soap/fault"

	TokenTypeEnrollment = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken"
	TokenTypeProvision  = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc"
	ValueTypePKCS10     = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10"
	ValueTypeUserToken  = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken"
	EncodingBase64      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary"
	RequestTypeIssue    = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
	RequestTypeRenew    = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Renew"
	// ValueTypePKCS7 is a renewal's request: the PKCS#10 signed, in CMS
	// SignedData, with the certificate being renewed.
	ValueTypePKCS7 = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS7"
)

// Envelope is a request's SOAP 1.2 Envelope, as far as enrollment reads it.
type Envelope struct {
	XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Header  struct {
		Action    string `xml:"http://www.w3.org/2005/08/addressing Action"`
		MessageID string `xml:"http://www.w3.org/2005/08/addressing MessageID"`
		To        string `xml:"http://www.w3.org/2005/08/addressing To"`
		Security  *struct {
			UsernameToken *struct {
				Username string `xml:"Username"`
				Password string `xml:"Password"`
			} `xml:"UsernameToken"`
			BinarySecurityToken *BinaryToken `xml:"BinarySecurityToken"`
		} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Security"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Header"`
	Body struct {
		Discover *DiscoverRequest `xml:"http://schemas.microsoft.com/windows/management/2012/01/enrollment Discover"`
		// Microsoft's own samples write the namespace with a trailing
		// slash; Windows sends it without. Both are read.
		DiscoverSlash *DiscoverRequest `xml:"http://schemas.microsoft.com/windows/management/2012/01/enrollment/ Discover"`
		GetPolicies   *struct{}        `xml:"http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy GetPolicies"`
		RST           *RSTRequest      `xml:"http://docs.oasis-open.org/ws-sx/ws-trust/200512 RequestSecurityToken"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

type BinaryToken struct {
	ValueType    string `xml:"ValueType,attr"`
	EncodingType string `xml:"EncodingType,attr"`
	Value        string `xml:",chardata"`
}

type DiscoverRequest struct {
	EmailAddress       string   `xml:"request>EmailAddress"`
	RequestVersion     string   `xml:"request>RequestVersion"`
	DeviceType         string   `xml:"request>DeviceType"`
	ApplicationVersion string   `xml:"request>ApplicationVersion"`
	OSEdition          string   `xml:"request>OSEdition"`
	AuthPolicies       []string `xml:"request>AuthPolicies>AuthPolicy"`
}

type RSTRequest struct {
	TokenType           string       `xml:"TokenType"`
	RequestType         string       `xml:"RequestType"`
	BinarySecurityToken *BinaryToken `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd BinarySecurityToken"`
	ContextItems        []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:"Value"`
	} `xml:"AdditionalContext>ContextItem"`
}

func (r *RSTRequest) Context(name string) string {
	for _, c := range r.ContextItems {
		if c.Name == name {
			return strings.TrimSpace(c.Value)
		}
	}
	return ""
}

// Fault is a SOAP fault: Sender faults are the device's (HTTP 400),
// Receiver faults the server's (HTTP 500), as SOAP 1.2's HTTP binding
// says. Subcodes are MS-MDE2's (section 2.2.4: MessageFormat,
// Authentication, Authorization, CertificateRequest, EnrollmentServer,
// InternalServiceFault, InvalidSecurity).
type Fault struct {
	Sender  bool
	Subcode string
	Reason  string
}

func (f *Fault) Error() string { return f.Subcode + ": " + f.Reason }

func SenderFault(subcode, reason string) *Fault {
	return &Fault{Sender: true, Subcode: subcode, Reason: reason}
}

// ParseEnvelope reads a SOAP request, refusing what is not one. It reads
// as a tolerant, correct server does: values that are URIs or tokens
// (Action, MessageID, To, TokenType, RequestType, ValueType,
// EncodingType) lose the whitespace Microsoft's samples put around them,
// and the Discover namespace may end in a slash. What it refuses is not
// well-formed XML or not a SOAP 1.2 envelope.
func ParseEnvelope(body []byte) (*Envelope, error) {
	var e Envelope
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	if err := d.Decode(&e); err != nil {
		return nil, SenderFault("s:MessageFormat", "not a SOAP 1.2 envelope: "+err.Error())
	}
	h := &e.Header
	h.Action, h.To = strings.TrimSpace(h.Action), strings.TrimSpace(h.To)
	h.MessageID = strings.TrimSpace(h.MessageID)
	if e.Body.Discover == nil {
		e.Body.Discover = e.Body.DiscoverSlash
	}
	if d := e.Body.Discover; d != nil {
		for _, f := range []*string{&d.EmailAddress, &d.RequestVersion, &d.DeviceType, &d.ApplicationVersion, &d.OSEdition} {
			*f = strings.TrimSpace(*f)
		}
	}
	if r := e.Body.RST; r != nil {
		r.TokenType, r.RequestType = strings.TrimSpace(r.TokenType), strings.TrimSpace(r.RequestType)
		trimToken(r.BinarySecurityToken)
	}
	if s := h.Security; s != nil {
		trimToken(s.BinarySecurityToken)
	}
	return &e, nil
}

func trimToken(t *BinaryToken) {
	if t != nil {
		t.ValueType, t.EncodingType = strings.TrimSpace(t.ValueType), strings.TrimSpace(t.EncodingType)
	}
}

// Esc escapes s for XML text and attributes.
func Esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Response wraps Body in a response Envelope for action, relating it
// to the request's MessageID.
func Response(action, relatesTo, body string, security bool) []byte {
	var b strings.Builder
	b.WriteString(`<s:Envelope xmlns:s="` + NsSOAP + `" xmlns:a="` + NsAddressing + `" xmlns:u="` + NsUtility + `">`)
	b.WriteString(`<s:Header><a:Action s:mustUnderstand="1">` + action + `</a:Action>`)
	b.WriteString(`<ActivityId CorrelationId="` + uuid.NewString() + `" xmlns="http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics">` + uuid.NewString() + `</ActivityId>`)
	if relatesTo != "" {
		b.WriteString(`<a:RelatesTo>` + Esc(relatesTo) + `</a:RelatesTo>`)
	}
	if security {
		now := time.Now().UTC()
		b.WriteString(`<o:Security s:mustUnderstand="1" xmlns:o="` + NsSecExt + `"><u:Timestamp u:Id="_0"><u:Created>` +
			now.Format("2006-01-02T15:04:05.000Z") + `</u:Created><u:Expires>` + now.Add(5*time.Minute).Format("2006-01-02T15:04:05.000Z") +
			`</u:Expires></u:Timestamp></o:Security>`)
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return []byte(b.String())
}

// FaultResponse is f as a SOAP 1.2 fault envelope.
func FaultResponse(f *Fault, relatesTo string) []byte {
	code := "s:Receiver"
	if f.Sender {
		code = "s:Sender"
	}
	body := `<s:Fault><s:Code><s:Value>` + code + `</s:Value><s:Subcode><s:Value>` + Esc(f.Subcode) +
		`</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">` + Esc(f.Reason) + `</s:Text></s:Reason></s:Fault>`
	return Response(ActionFault, relatesTo, body, false)
}

// AsFault makes any error a fault: the server's own failures are
// Receiver faults without their detail.
func AsFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return &Fault{Subcode: "s:InternalServiceFault", Reason: fmt.Sprintf("the enrollment service failed (%s); try again", time.Now().UTC().Format(time.RFC3339))}
}

// Token is the enrollment token a request carries: the password of an
// OnPremise UsernameToken, or the Federated security token (base64 in a
// BinarySecurityToken).
func Token(env *Envelope) (string, error) {
	s := env.Header.Security
	switch {
	case s == nil:
	case s.UsernameToken != nil && s.UsernameToken.Password != "":
		return strings.TrimSpace(s.UsernameToken.Password), nil
	case s.BinarySecurityToken != nil && s.BinarySecurityToken.Value != "":
		v := strings.Join(strings.Fields(s.BinarySecurityToken.Value), "")
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			v = string(b)
		}
		return strings.TrimSpace(v), nil
	}
	return "", SenderFault("s:Authentication", "the request carries no enrollment token (WS-Security UsernameToken password or federated BinarySecurityToken)")
}

// ParseCertHeader reads a client certificate forwarded by a proxy: RFC
// 9440's ":base64 DER:" form, or URL-escaped PEM (nginx's
// $ssl_client_escaped_cert).
func ParseCertHeader(v string) (*x509.Certificate, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, errors.New("no client certificate header")
	}
	var der []byte
	if strings.HasPrefix(v, ":") && strings.HasSuffix(v, ":") && len(v) > 2 {
		b, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
		if err != nil {
			return nil, fmt.Errorf("client certificate header: %w", err)
		}
		der = b
	} else {
		// Path-style unescaping keeps a raw + (base64's; AWS ALB leaves
		// + = / unescaped); query-style, for proxies that write a space
		// as +, is the fallback.
		var blk *pem.Block
		for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
			if s, err := unescape(v); err == nil {
				if b, _ := pem.Decode([]byte(s)); b != nil && b.Type == "CERTIFICATE" {
					if _, err := x509.ParseCertificate(b.Bytes); err == nil {
						blk = b
						break
					}
				}
			}
		}
		if blk == nil {
			return nil, errors.New("client certificate header: neither RFC 9440 nor escaped PEM")
		}
		der = blk.Bytes
	}
	return x509.ParseCertificate(der)
}
