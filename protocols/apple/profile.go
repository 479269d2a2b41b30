package apple

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// ErrNoPushCertificate means the tenant has no APNs push certificate yet:
// without its topic a device cannot enroll.
var ErrNoPushCertificate = fault.New(fault.Conflict, "upload the tenant's APNs push certificate first: the enrollment profile needs its topic")

// Profiles makes tenants' enrollment profiles (.mobileconfig, Apple's
// "Configuration Profile Reference": a SCEP payload, then the MDM payload
// whose identity is the SCEP certificate), signed with the tenant's CA.
type Profiles struct {
	pki   *pki.PKI
	store *mdmstore.Store
	base  string // the base domain
	// scheme and port devices use to reach tenant hostnames: https and
	// the default port in production; dev uses http and its own port.
	scheme string
	port   int
	// brand names the tenant in its profiles (nil: its name).
	brand Branding
}

// Branding is the tenant's presentation, for its profiles
// (tenants.Service).
type Branding interface {
	Branding(ctx context.Context) (tenants.Branding, error)
}

// WithBranding names each tenant in its enrollment profiles as its
// branding says: the organization, and the support contact in the
// description.
func (p *Profiles) WithBranding(b Branding) *Profiles { p.brand = b; return p }

// presentation is how t's profiles name it and whom they say to ask.
func (p *Profiles) presentation(ctx context.Context, t tenancy.Tenant) (name, help string, err error) {
	if p.brand == nil {
		return t.Name, "", nil
	}
	b, err := p.brand.Branding(ctx)
	if err != nil {
		return "", "", err
	}
	if s := b.Support(); s != "" {
		help = " For help: " + s + "."
	}
	return b.Name(t), help, nil
}

// NewProfiles returns the enrollment profile maker.
func NewProfiles(p *pki.PKI, store *mdmstore.Store, baseDomain, scheme string, port int) *Profiles {
	return &Profiles{pki: p, store: store, base: baseDomain, scheme: scheme, port: port}
}

// TenantURL is where devices reach tenant slug: scheme://{slug}.{base}
// with port when it is not the scheme's default.
func TenantURL(slug, base, scheme string, port int) string {
	return HostURL(slug+"."+base, scheme, port)
}

// HostURL is scheme://host, with the port unless it is the scheme's own.
func HostURL(host, scheme string, port int) string {
	if port != 0 && !(scheme == "https" && port == 443) && !(scheme == "http" && port == 80) {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return scheme + "://" + host
}

// ChallengeLifetime is how long an enrollment profile's one-time SCEP
// challenge stays valid.
const ChallengeLifetime = 14 * 24 * time.Hour

// stableUUID derives a UUID that stays the same for a tenant and a name,
// so installing a newer profile replaces the older one (and renews its
// identity) instead of adding a second.
func stableUUID(tenant uuid.UUID, name string) string {
	return uuid.NewHash(sha256.New(), tenant, []byte(name), 8).String()
}

// Enrollment makes a new signed enrollment profile for tenant t, with a
// fresh one-time challenge.
func (p *Profiles) Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error) {
	certs, err := p.store.PushCerts(ctx)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, ErrNoPushCertificate
	}
	base := TenantURL(t.Slug, p.base, p.scheme, p.port)
	// The CA first: a challenge is made only for a profile that can be
	// signed.
	ca, err := p.pki.CA(ctx)
	if err != nil {
		return nil, err
	}
	secret, _, err := p.pki.NewChallenge(ctx, "apple-enrollment", ChallengeLifetime)
	if err != nil {
		return nil, err
	}
	name, help, err := p.presentation(ctx, t)
	if err != nil {
		return nil, err
	}
	prefix := "com.trident." + t.Slug
	scepUUID := stableUUID(t.ID, "scep")
	profile := map[string]any{
		"PayloadType":         "Configuration",
		"PayloadVersion":      1,
		"PayloadIdentifier":   prefix + ".enrollment",
		"PayloadUUID":         stableUUID(t.ID, "enrollment"),
		"PayloadDisplayName":  name + " device management",
		"PayloadDescription":  "Enrolls this device in " + name + "'s device management." + help,
		"PayloadOrganization": name,
		"PayloadScope":        "System",
		"PayloadContent": []any{
			map[string]any{
				"PayloadType":        "com.apple.security.scep",
				"PayloadVersion":     1,
				"PayloadIdentifier":  prefix + ".scep",
				"PayloadUUID":        scepUUID,
				"PayloadDisplayName": "Device identity",
				"PayloadContent": map[string]any{
					"URL":       base + "/scep",
					"Challenge": secret,
					"Keysize":   2048,
					"Key Type":  "RSA",
					"Key Usage": 5, // signing and encryption
					// The subject is the server's to choose; this one is a placeholder.
					"Subject": [][][]string{{{"CN", "Trident device"}}},
				},
			},
			map[string]any{
				"PayloadType":             "com.apple.mdm",
				"PayloadVersion":          1,
				"PayloadIdentifier":       prefix + ".mdm",
				"PayloadUUID":             stableUUID(t.ID, "mdm"),
				"PayloadDisplayName":      "Device management",
				"ServerURL":               base + "/mdm",
				"CheckInURL":              base + "/mdm",
				"Topic":                   certs[0].Topic,
				"IdentityCertificateUUID": scepUUID,
				"SignMessage":             true,
				"AccessRights":            8191,
				"CheckOutWhenRemoved":     true,
				"ServerCapabilities":      []string{"com.apple.mdm.per-user-connections", "com.apple.mdm.bootstraptoken"},
			},
		},
	}
	raw, err := plist.MarshalIndent(profile, "  ")
	if err != nil {
		return nil, fmt.Errorf("apple: encode the enrollment profile: %w", err)
	}
	sd, err := pkcs7.NewSignedData(raw)
	if err != nil {
		return nil, err
	}
	if err := sd.AddSigner(ca.Cert, ca.Key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("apple: sign the enrollment profile: %w", err)
	}
	return sd.Finish()
}
