package commands

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/identity"
)

// ErrForbidden is the policy's refusal (a *Forbidden says why).
var ErrForbidden = fault.New(fault.Forbidden, "forbidden")

// Forbidden refuses a command to a caller whose role is short of what the
// command, with its payload, needs.
type Forbidden struct {
	Kind   string
	Need   identity.Role
	Reason string // what makes it need Need, for the person refused
}

func (e *Forbidden) Error() string {
	return fmt.Sprintf("%s needs the %s role in the tenant: %s", e.Kind, e.Need, e.Reason)
}

func (e *Forbidden) Is(target error) bool { return target == ErrForbidden }

// As presents the refusal as a fault (Forbidden) to the edges.
func (e *Forbidden) As(target any) bool {
	if p, ok := target.(**fault.Error); ok {
		*p = &fault.Error{Code: fault.Forbidden, Message: e.Error(), Err: e}
		return true
	}
	return false
}

// Authorize is the one policy that decides whether a caller with role may
// send kind with payload: the API, the dashboard and bulk commands all ask
// it before queuing. Operators send commands; what destroys data, locks
// people out for good or hands the device to someone else needs the admin
// role (see Needs).
func Authorize(role identity.Role, kind string, payload map[string]any) error {
	need, why := Needs(kind, payload)
	if role.AtLeast(need) {
		return nil
	}
	return &Forbidden{Kind: kind, Need: need, Reason: why}
}

// Needs returns the least role that may send kind with payload and, when
// that is more than an operator, why.
func Needs(kind string, payload map[string]any) (identity.Role, string) {
	if k, ok := kinds[kind]; ok && k.Destructive {
		return identity.Admin, "it is destructive"
	}
	switch kind {
	case "apply_settings":
		items, _ := payload["settings"].([]any)
		for _, it := range items {
			s, _ := it.(map[string]any)
			uri, _ := s["loc_uri"].(string)
			if why := takeoverNode(uri); why != "" {
				return identity.Admin, fmt.Sprintf("%s %s", uri, why)
			}
		}
	case "install_profile":
		p, _ := payload["profile"].(string)
		if why := takeoverProfile(p); why != "" {
			return identity.Admin, why
		}
	case "remove_profile":
		if id, _ := payload["identifier"].(string); strings.HasPrefix(id, "com.trident.") {
			return identity.Admin, "removing Trident's enrollment profile unenrolls the device"
		}
	}
	return identity.Operator, ""
}

// takeoverNodes are the OMA-DM subtrees whose settings move the device to
// another management server, change what it trusts, or make accounts and
// administrators: each with what it does. Keys are lower case, relative
// to ./Device/ or ./User/ (see normalNode).
var takeoverNodes = []struct{ prefix, why string }{
	{"vendor/msft/dmclient/", "changes the device's management server or enrollment (DMClient CSP)"},
	{"vendor/msft/dmacc/", "changes the device's OMA-DM server account (DMAcc CSP)"},
	{"syncml/dmacc/", "changes the device's OMA-DM server account (DMAcc)"},
	{"vendor/msft/w7/", "changes the device's OMA-DM server account (w7 APPLICATION CSP)"},
	{"vendor/msft/rootcatrustedcertificates/", "changes the certificates the device trusts (RootCATrustedCertificates CSP)"},
	{"vendor/msft/certificatestore/", "changes the device's certificate stores (CertificateStore CSP)"},
	{"vendor/msft/clientcertificateinstall/", "installs identity certificates (ClientCertificateInstall CSP)"},
	{"vendor/msft/accounts/", "creates or changes local accounts (Accounts CSP)"},
	{"vendor/msft/laps/", "manages the local administrator's password (LAPS CSP)"},
	{"vendor/msft/policy/config/localusersandgroups/", "changes local groups such as Administrators"},
	{"vendor/msft/policy/config/restrictedgroups/", "changes local groups such as Administrators"},
	{"vendor/msft/remotewipe/", "erases the device (RemoteWipe CSP)"},
	{"vendor/msft/remotelock/newpinvalue", "resets the device's PIN (RemoteLock CSP)"},
}

// normalNode reduces an OMA-DM URI to the form takeoverNodes uses: lower
// case, without the ./Device/ or ./User/ scope, empty or "." segments.
func normalNode(uri string) string {
	var parts []string
	for _, p := range strings.Split(strings.ToLower(uri), "/") {
		if p != "" && p != "." {
			parts = append(parts, p)
		}
	}
	if len(parts) > 0 && (parts[0] == "device" || parts[0] == "user") {
		parts = parts[1:]
	}
	return strings.Join(parts, "/") + "/"
}

func takeoverNode(uri string) string {
	n := normalNode(uri)
	for _, t := range takeoverNodes {
		if strings.HasPrefix(n, t.prefix) {
			return t.why
		}
	}
	return ""
}

// takeoverPayloads are the profile payload types that enroll the device in
// MDM, add trust anchors or identities, or grant privacy access.
var takeoverPayloads = map[string]string{
	"com.apple.mdm":                              "an MDM payload moves the device to another server",
	"com.apple.security.root":                    "a root certificate changes what the device trusts",
	"com.apple.security.pem":                     "a certificate payload changes what the device trusts",
	"com.apple.security.pkcs1":                   "a certificate payload changes what the device trusts",
	"com.apple.security.pkcs12":                  "an identity payload installs a private key",
	"com.apple.security.scep":                    "a SCEP payload enrolls a new identity",
	"com.apple.security.acme":                    "an ACME payload enrolls a new identity",
	"com.apple.TCC.configuration-profile-policy": "a privacy (PPPC) payload grants apps access to protected data",
}

// takeoverProfile says why a .mobileconfig (base64, signed or not) needs an
// admin, or "" when it does not. A profile whose payloads cannot be read
// (encrypted, or not a profile) needs an admin too: what it holds is unknown.
func takeoverProfile(b64 string) string {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) == 0 {
		return "" // the platform refuses it as not a profile
	}
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("<")) && !bytes.HasPrefix(raw, []byte("bplist")) {
		p7, err := pkcs7.Parse(raw) // a signed profile: CMS SignedData around the plist
		if err != nil {
			return "the profile cannot be read, so its payloads cannot be checked"
		}
		raw = p7.Content
	}
	var p struct {
		PayloadContent          []struct{ PayloadType string }
		EncryptedPayloadContent []byte
	}
	if err := plist.Unmarshal(raw, &p); err != nil {
		return "the profile cannot be read, so its payloads cannot be checked"
	}
	if len(p.EncryptedPayloadContent) > 0 {
		return "the profile's payloads are encrypted, so they cannot be checked"
	}
	for _, pl := range p.PayloadContent {
		if why, ok := takeoverPayloads[pl.PayloadType]; ok {
			return why
		}
	}
	return ""
}
