package windows

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Namespaces and URIs of MS-MDE2, MS-XCEP and MS-WSTEP.
const (
	nsSOAP       = "http://www.w3.org/2003/05/soap-envelope"
	nsAddressing = "http://www.w3.org/2005/08/addressing"
	nsSecExt     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsUtility    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsEnrollment = "http://schemas.microsoft.com/windows/management/2012/01/enrollment"
	nsPolicy     = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"
	nsTrust      = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	nsPKIEnroll  = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment"

	actionDiscover         = "http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover"
	actionDiscoverResponse = "http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/DiscoverResponse"
	actionGetPolicies      = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPolicies"
	actionGetPoliciesResp  = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy/IPolicy/GetPoliciesResponse"
	actionRST              = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RST/wstep"
	actionRSTRC            = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment/RSTRC/wstep"
	actionFault            = "http://www.w3.org/2005/08/addressing/soap/fault"

	tokenTypeEnrollment = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken"
	tokenTypeProvision  = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc"
	valueTypePKCS10     = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment#PKCS10"
	valueTypeUserToken  = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken"
	encodingBase64      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary"
	requestTypeIssue    = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"
)

// envelope is a request's SOAP 1.2 envelope, as far as enrollment reads it.
type envelope struct {
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
			BinarySecurityToken *binaryToken `xml:"BinarySecurityToken"`
		} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Security"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Header"`
	Body struct {
		Discover    *discoverRequest `xml:"http://schemas.microsoft.com/windows/management/2012/01/enrollment Discover"`
		GetPolicies *struct{}        `xml:"http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy GetPolicies"`
		RST         *rstRequest      `xml:"http://docs.oasis-open.org/ws-sx/ws-trust/200512 RequestSecurityToken"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

type binaryToken struct {
	ValueType    string `xml:"ValueType,attr"`
	EncodingType string `xml:"EncodingType,attr"`
	Value        string `xml:",chardata"`
}

type discoverRequest struct {
	EmailAddress       string   `xml:"request>EmailAddress"`
	RequestVersion     string   `xml:"request>RequestVersion"`
	DeviceType         string   `xml:"request>DeviceType"`
	ApplicationVersion string   `xml:"request>ApplicationVersion"`
	OSEdition          string   `xml:"request>OSEdition"`
	AuthPolicies       []string `xml:"request>AuthPolicies>AuthPolicy"`
}

type rstRequest struct {
	TokenType           string       `xml:"TokenType"`
	RequestType         string       `xml:"RequestType"`
	BinarySecurityToken *binaryToken `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd BinarySecurityToken"`
	ContextItems        []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:"Value"`
	} `xml:"AdditionalContext>ContextItem"`
}

func (r *rstRequest) context(name string) string {
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

func senderFault(subcode, reason string) *Fault {
	return &Fault{Sender: true, Subcode: subcode, Reason: reason}
}

// parseEnvelope reads a SOAP request, refusing what is not one.
func parseEnvelope(body []byte) (*envelope, error) {
	var e envelope
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	if err := d.Decode(&e); err != nil {
		return nil, senderFault("s:MessageFormat", "not a SOAP 1.2 envelope: "+err.Error())
	}
	return &e, nil
}

// esc escapes s for XML text and attributes.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// soapResponse wraps body in a response envelope for action, relating it
// to the request's MessageID.
func soapResponse(action, relatesTo, body string, security bool) []byte {
	var b strings.Builder
	b.WriteString(`<s:Envelope xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddressing + `" xmlns:u="` + nsUtility + `">`)
	b.WriteString(`<s:Header><a:Action s:mustUnderstand="1">` + action + `</a:Action>`)
	b.WriteString(`<ActivityId CorrelationId="` + uuid.NewString() + `" xmlns="http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics">` + uuid.NewString() + `</ActivityId>`)
	if relatesTo != "" {
		b.WriteString(`<a:RelatesTo>` + esc(relatesTo) + `</a:RelatesTo>`)
	}
	if security {
		now := time.Now().UTC()
		b.WriteString(`<o:Security s:mustUnderstand="1" xmlns:o="` + nsSecExt + `"><u:Timestamp u:Id="_0"><u:Created>` +
			now.Format("2006-01-02T15:04:05.000Z") + `</u:Created><u:Expires>` + now.Add(5*time.Minute).Format("2006-01-02T15:04:05.000Z") +
			`</u:Expires></u:Timestamp></o:Security>`)
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	return []byte(b.String())
}

// faultResponse is f as a SOAP 1.2 fault envelope.
func faultResponse(f *Fault, relatesTo string) []byte {
	code := "s:Receiver"
	if f.Sender {
		code = "s:Sender"
	}
	body := `<s:Fault><s:Code><s:Value>` + code + `</s:Value><s:Subcode><s:Value>` + esc(f.Subcode) +
		`</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">` + esc(f.Reason) + `</s:Text></s:Reason></s:Fault>`
	return soapResponse(actionFault, relatesTo, body, false)
}

// asFault makes any error a fault: the server's own failures are
// Receiver faults without their detail.
func asFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return &Fault{Subcode: "s:InternalServiceFault", Reason: fmt.Sprintf("the enrollment service failed (%s); try again", time.Now().UTC().Format(time.RFC3339))}
}
