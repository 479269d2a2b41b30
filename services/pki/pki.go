// Package pki is each tenant's device certificate authority: its CA key
// and certificate (the key sealed at rest with the configured encryption
// key), one-time enrollment challenges (stored only as hashes), and every
// certificate it issues, recorded and bound to the tenant and enrollment.
// The Apple SCEP endpoint and Windows' WSTEP enrollment both issue through
// it; check-ins verify device certificates with it.
//
// It speaks no wire protocol: protocols/apple wraps SCEP around it.
package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// Errors callers tell apart. Each is a refusal of the device's input, not
// a failure of Trident's.
var (
	ErrChallenge   = errors.New("the enrollment challenge is unknown, used or expired")
	ErrCSR         = errors.New("the certificate request is not acceptable")
	ErrCertificate = errors.New("the certificate was not issued to this tenant, or is revoked or expired")
)

// PKI issues and verifies tenants' device certificates.
type PKI struct {
	db   *tenancy.DB
	pub  *events.Publisher
	keys *seal.Keyring
	now  func() time.Time

	mu   sync.Mutex
	cas  map[uuid.UUID]*CA // by CA id: parsed and unsealed once
	made atomic.Int64      // CA keys made by this process (tests)
}

// New returns the PKI of db's tenants; keys seal the CAs' private keys,
// and pub publishes what it changes.
func New(db *tenancy.DB, pub *events.Publisher, keys *seal.Keyring) *PKI {
	return &PKI{db: db, pub: pub, keys: keys, now: time.Now, cas: map[uuid.UUID]*CA{}}
}

// SetClock makes the PKI read time from now (tests of expiry and
// renewal windows).
func (p *PKI) SetClock(now func() time.Time) { p.now = now }

// CA is a tenant's certificate authority.
type CA struct {
	ID     uuid.UUID
	Tenant uuid.UUID
	Cert   *x509.Certificate
	Key    crypto.Signer
}

// Lifetimes.
const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	DeviceLifetime = 365 * 24 * time.Hour
)

func sealContext(tenant, ca uuid.UUID) string {
	return "tenant/" + tenant.String() + "/ca/" + ca.String()
}

// CA returns the tenant's active CA, creating it the first time (tx is a
// tenant transaction).
func (p *PKI) CA(ctx context.Context) (*CA, error) {
	return tenancy.Write(ctx, p.db, func(tx pgx.Tx) (*CA, error) { return p.CATx(ctx, tx) })
}

// CATx is CA in tx, for another service's use case that holds
// the transaction.
func (p *PKI) CATx(ctx context.Context, tx pgx.Tx) (*CA, error) {
	for range 2 {
		var id, tenant uuid.UUID
		var der []byte
		err := tx.QueryRow(ctx, `SELECT id, tenant_id, certificate FROM tenant_cas WHERE active`).Scan(&id, &tenant, &der)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := p.createCA(ctx, tx); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pki: read CA: %w", err)
		}
		return p.load(ctx, tx, id)
	}
	return nil, errors.New("pki: no CA after creating one")
}

// load returns CA id, unsealing its key the first time.
func (p *PKI) load(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*CA, error) {
	p.mu.Lock()
	ca, ok := p.cas[id]
	p.mu.Unlock()
	if ok {
		return ca, nil
	}
	var tenant uuid.UUID
	var der, sealed []byte
	err := tx.QueryRow(ctx, `SELECT tenant_id, certificate, key_sealed FROM tenant_cas WHERE id = $1`, id).Scan(&tenant, &der, &sealed)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA %s: %w", id, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s certificate: %w", id, err)
	}
	pk8, err := p.keys.Open(sealed, sealContext(tenant, id))
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s key: %w (is the encryption key the one it was sealed with?)", id, err)
	}
	key, err := x509.ParsePKCS8PrivateKey(pk8)
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s key: %w", id, err)
	}
	ca = &CA{ID: id, Tenant: tenant, Cert: cert, Key: key.(crypto.Signer)}
	p.mu.Lock()
	p.cas[id] = ca
	p.mu.Unlock()
	return ca, nil
}

func (p *PKI) createCA(ctx context.Context, tx pgx.Tx) error {
	t, err := tenancy.CurrentTenantTx(ctx, tx)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	tenant, slug := t.ID, t.Slug
	// One transaction at a time makes the tenant's CA: a new tenant's first
	// burst of devices would otherwise make a key per request (each a
	// fraction of a second of CPU) and keep one. The others wait here, then
	// find the CA the first committed (read committed: this statement sees
	// it).
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('trident.pki.ca:' || current_tenant()::text, 0))`); err != nil {
		return fmt.Errorf("pki: lock the tenant's CA creation: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenant_cas WHERE active)`).Scan(&exists); err != nil {
		return fmt.Errorf("pki: read CA: %w", err)
	}
	if exists {
		return nil
	}
	p.made.Add(1)
	// RSA: SCEP clients (Apple's among them) encrypt their request to the
	// CA's key, which PKCS#7 enveloping needs to be RSA.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	id := uuid.New()
	now := p.now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Trident device CA for " + slug, Organization: []string{"Trident"}, OrganizationalUnit: []string{tenant.String()}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("pki: create CA: %w", err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	sealed, err := p.keys.Seal(pk8, sealContext(tenant, id))
	if err != nil {
		return err
	}
	// Two requests may create a CA at once: the unique index keeps one.
	_, err = tx.Exec(ctx, `INSERT INTO tenant_cas (id, certificate, key_sealed, not_after) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id) WHERE active DO NOTHING`, id, der, sealed, tmpl.NotAfter)
	if err != nil {
		return fmt.Errorf("pki: store CA: %w", err)
	}
	return nil
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f // positive
	return new(big.Int).SetBytes(b)
}

// Challenge is a one-time enrollment secret's record.
type Challenge struct {
	ID        uuid.UUID
	Purpose   string
	ExpiresAt time.Time
	// Holder is who the challenge was given to (a federated sign-in's
	// email), "" when nobody in particular: the enrolled device's user.
	Holder string
}

// NewChallenge is NewChallengeTx in the tenant transaction of ctx (its
// own, or the one ctx is within).
func (p *PKI) NewChallenge(ctx context.Context, purpose string, ttl time.Duration) (string, Challenge, error) {
	var secret string
	var c Challenge
	err := p.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		secret, c, err = p.NewChallengeTx(ctx, tx, purpose, ttl)
		return err
	})
	return secret, c, err
}

// NewChallengeTx makes a one-time challenge for purpose (for example
// "apple-enrollment"), valid for ttl. Only its hash is stored: the secret
// returned here is the one copy.
func (p *PKI) NewChallengeTx(ctx context.Context, tx pgx.Tx, purpose string, ttl time.Duration) (string, Challenge, error) {
	return p.NewChallengeForTx(ctx, tx, purpose, "", ttl)
}

// NewChallengeForTx is NewChallengeTx for a challenge given to holder
// (Challenge.Holder).
func (p *PKI) NewChallengeForTx(ctx context.Context, tx pgx.Tx, purpose, holder string, ttl time.Duration) (string, Challenge, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", Challenge{}, err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	c := Challenge{ID: uuid.New(), Purpose: purpose, ExpiresAt: p.now().Add(ttl), Holder: holder}
	_, err := tx.Exec(ctx, `INSERT INTO scep_challenges (id, hash, purpose, expires_at, holder) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, sum[:], purpose, c.ExpiresAt, holder)
	if err != nil {
		return "", Challenge{}, fmt.Errorf("pki: store challenge: %w", err)
	}
	return secret, c, nil
}

// CheckChallengeTx says whether secret is a usable challenge (unused,
// unexpired) without using it up: for protocols that present it before
// the request that consumes it (Windows' policy request, then its
// enrollment).
func (p *PKI) CheckChallengeTx(ctx context.Context, tx pgx.Tx, secret string) (Challenge, error) {
	sum := sha256.Sum256([]byte(secret))
	var c Challenge
	err := tx.QueryRow(ctx, `SELECT id, purpose, expires_at, holder FROM scep_challenges
WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, sum[:], p.now()).Scan(&c.ID, &c.Purpose, &c.ExpiresAt, &c.Holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return Challenge{}, ErrChallenge
	}
	return c, err
}

// consume marks a challenge used, once.
func (p *PKI) consume(ctx context.Context, tx pgx.Tx, secret string) (Challenge, error) {
	sum := sha256.Sum256([]byte(secret))
	var c Challenge
	err := tx.QueryRow(ctx, `UPDATE scep_challenges SET used_at = now()
WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING id, purpose, expires_at, holder`, sum[:], p.now()).
		Scan(&c.ID, &c.Purpose, &c.ExpiresAt, &c.Holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return Challenge{}, ErrChallenge
	}
	return c, err
}

// IssueRequest is a device's request for a certificate: a CSR with either
// a challenge (first enrollment) or the certificate it renews (SCEP
// RenewalReq, signed with that certificate's key).
type IssueRequest struct {
	CSR       *x509.CertificateRequest
	Challenge string
	Renewing  *x509.Certificate
}

// Binding is what a device certificate is bound to.
type Binding struct {
	Serial      string
	Tenant      uuid.UUID
	ChallengeID uuid.UUID // the enrollment; uuid.Nil if none
	Purpose     string
}

// Issue is IssueTx in the tenant transaction of ctx. A request it
// refuses (ErrChallenge, ErrCSR, ErrCertificate) changes nothing.
func (p *PKI) Issue(ctx context.Context, req IssueRequest) (*x509.Certificate, Binding, error) {
	var cert *x509.Certificate
	var b Binding
	err := p.db.Tx(ctx, func(tx pgx.Tx) (err error) {
		cert, b, err = p.IssueTx(ctx, tx, req)
		return err
	})
	return cert, b, err
}

// IssueTx signs the request's key into a device certificate whose subject
// the server chooses (the CSR's subject is ignored), carrying the tenant
// and enrollment as URI names, and records it.
func (p *PKI) IssueTx(ctx context.Context, tx pgx.Tx, req IssueRequest) (*x509.Certificate, Binding, error) {
	if req.CSR == nil || req.CSR.CheckSignature() != nil {
		return nil, Binding{}, fmt.Errorf("%w: its signature does not verify", ErrCSR)
	}
	switch k := req.CSR.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, Binding{}, fmt.Errorf("%w: RSA keys need at least 2048 bits", ErrCSR)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, Binding{}, fmt.Errorf("%w: ECDSA keys must be P-256 or P-384", ErrCSR)
		}
	default:
		return nil, Binding{}, fmt.Errorf("%w: the key must be RSA or ECDSA", ErrCSR)
	}
	ca, err := p.CATx(ctx, tx)
	if err != nil {
		return nil, Binding{}, err
	}
	var b Binding
	var renewalOf *string
	if req.Renewing != nil {
		if b, err = p.VerifyTx(ctx, tx, req.Renewing); err != nil {
			return nil, Binding{}, err
		}
		old := b.Serial // b.Serial becomes the new certificate's below
		renewalOf = &old
	} else {
		c, err := p.consume(ctx, tx, req.Challenge)
		if err != nil {
			return nil, Binding{}, err
		}
		b = Binding{Tenant: ca.Tenant, ChallengeID: c.ID, Purpose: c.Purpose}
	}
	now := p.now()
	serial := randomSerial()
	// A renewal keeps the subject: Windows finds its certificate by it
	// (SSLCLIENTCERTSEARCHCRITERIA), and a device's identity is one name.
	subject := pkix.Name{CommonName: "Trident device " + uuid.NewString(), Organization: []string{"Trident"}, OrganizationalUnit: []string{ca.Tenant.String()}}
	if req.Renewing != nil {
		subject = pkix.Name{CommonName: req.Renewing.Subject.CommonName, Organization: []string{"Trident"}, OrganizationalUnit: []string{ca.Tenant.String()}}
	}
	uris := []*url.URL{{Scheme: "urn", Opaque: "trident:tenant:" + ca.Tenant.String()}}
	if b.ChallengeID != uuid.Nil {
		uris = append(uris, &url.URL{Scheme: "urn", Opaque: "trident:enrollment:" + b.ChallengeID.String()})
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(DeviceLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         uris,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.CSR.PublicKey, ca.Key)
	if err != nil {
		return nil, Binding{}, fmt.Errorf("pki: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, Binding{}, err
	}
	b.Serial = hex.EncodeToString(serial.Bytes())
	challenge := uuid.NullUUID{UUID: b.ChallengeID, Valid: b.ChallengeID != uuid.Nil}
	// A renewal is the identity of the device the renewed one was.
	_, err = tx.Exec(ctx, `INSERT INTO issued_certificates (serial, ca_id, challenge_id, subject, renewal_of, not_before, not_after, certificate, device_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, (SELECT device_id FROM issued_certificates WHERE serial = $5))`,
		b.Serial, ca.ID, challenge, cert.Subject.String(), renewalOf, cert.NotBefore, cert.NotAfter, der)
	if err != nil {
		return nil, Binding{}, fmt.Errorf("pki: record certificate: %w", err)
	}
	return cert, b, nil
}

// BindTx records that cert is the identity of device (an inventory device
// id), so RevokeDevice reaches it. A certificate already bound to another
// device keeps its binding and gives ErrCertificate.
func (p *PKI) BindTx(ctx context.Context, tx pgx.Tx, cert *x509.Certificate, device uuid.UUID) error {
	serial := hex.EncodeToString(cert.SerialNumber.Bytes())
	tag, err := tx.Exec(ctx, `UPDATE issued_certificates SET device_id = $2 WHERE serial = $1 AND (device_id IS NULL OR device_id = $2)`, serial, device)
	if err != nil {
		return fmt.Errorf("pki: bind certificate: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: not this tenant's, or another device's identity", ErrCertificate)
	}
	return nil
}

// Identity is a device's identity certificate as the API shows it.
type Identity struct {
	Serial    string     `json:"serial"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	RenewalOf string     `json:"renewal_of,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Device    uuid.UUID  `json:"-"`
}

// Expired reports whether the certificate's validity has ended.
func (i Identity) Expired() bool { return time.Now().After(i.NotAfter) }

const identityCols = `serial, not_before, not_after, coalesce(renewal_of, ''), revoked_at, device_id`

func scanIdentity(r pgx.CollectableRow) (Identity, error) {
	var i Identity
	return i, r.Scan(&i.Serial, &i.NotBefore, &i.NotAfter, &i.RenewalOf, &i.RevokedAt, &i.Device)
}

// Identities lists device's certificates, newest first (by issue: a
// renewal within the second of the one it renews is above it).
func (p *PKI) Identities(ctx context.Context, device uuid.UUID) ([]Identity, error) {
	return tenancy.Read(ctx, p.db, func(tx pgx.Tx) ([]Identity, error) { return p.identitiesTx(ctx, tx, device) })
}

func (p *PKI) identitiesTx(ctx context.Context, tx pgx.Tx, device uuid.UUID) ([]Identity, error) {
	rows, _ := tx.Query(ctx, `SELECT `+identityCols+` FROM issued_certificates
WHERE device_id = $1 ORDER BY not_before DESC, created_at DESC, serial LIMIT 20`, device)
	return pgx.CollectRows(rows, scanIdentity)
}

// expiring are the devices' newest certificates that expire within $1
// (an interval) and have no newer current one.
const expiring = `FROM issued_certificates i
WHERE device_id IS NOT NULL AND revoked_at IS NULL AND not_after > now() AND not_after < now() + $1::interval
  AND NOT EXISTS (SELECT 1 FROM issued_certificates n
                  WHERE n.device_id = i.device_id AND n.revoked_at IS NULL AND n.not_after > i.not_after)`

// ExpiringCount counts the certificates ExpiringTx lists (with no
// limit): devices whose identity expires within the window unrenewed.
func (p *PKI) ExpiringCount(ctx context.Context, within time.Duration) (int, error) {
	return tenancy.Read(ctx, p.db, func(tx pgx.Tx) (n int, err error) {
		err = tx.QueryRow(ctx, `SELECT count(*) `+expiring, within.String()).Scan(&n)
		return n, err
	})
}

// ExpiringTx lists, oldest expiry first, the devices' newest certificates
// that expire within the window and have no newer current one (no renewal
// yet), at most limit.
func (p *PKI) ExpiringTx(ctx context.Context, tx pgx.Tx, within time.Duration, limit int) ([]Identity, error) {
	rows, _ := tx.Query(ctx, `SELECT `+identityCols+` `+expiring+` ORDER BY not_after LIMIT $2`, within.String(), limit)
	return pgx.CollectRows(rows, scanIdentity)
}

// Revoke revokes every current certificate of device, returns how many,
// and publishes device.certificates_revoked: an admin's answer to a lost
// or compromised device. Verify refuses them from now on, at every
// endpoint.
func (p *PKI) Revoke(ctx context.Context, device uuid.UUID) (int, error) {
	return tenancy.Write(ctx, p.db, func(tx pgx.Tx) (int, error) {
		n, err := p.RevokeDeviceTx(ctx, tx, device)
		if err != nil {
			return 0, err
		}
		_, err = p.pub.Publish(ctx, tx, EventCertificatesRevoked, device.String(), CertificatesRevoked{Revoked: n})
		return n, err
	})
}

// RevokeDeviceTx revokes every current certificate of device in tx and
// returns how many, for another service's use case (unenrollment) that
// holds the transaction.
func (p *PKI) RevokeDeviceTx(ctx context.Context, tx pgx.Tx, device uuid.UUID) (int, error) {
	tag, err := tx.Exec(ctx, `UPDATE issued_certificates SET revoked_at = now() WHERE device_id = $1 AND revoked_at IS NULL AND not_after > now()`, device)
	if err != nil {
		return 0, fmt.Errorf("pki: revoke: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Verify is VerifyTx in a read of the tenant transaction of ctx.
func (p *PKI) Verify(ctx context.Context, cert *x509.Certificate) (Binding, error) {
	return tenancy.Read(ctx, p.db, func(tx pgx.Tx) (Binding, error) { return p.VerifyTx(ctx, tx, cert) })
}

// VerifyTx checks a device certificate against the tenant of tx: signed by
// one of the tenant's CAs, recorded as issued by it, bound to it, current
// and not revoked. A certificate of another tenant fails here, whatever it
// says: the other tenant's CAs and records are invisible in this
// transaction.
func (p *PKI) VerifyTx(ctx context.Context, tx pgx.Tx, cert *x509.Certificate) (Binding, error) {
	if cert == nil {
		return Binding{}, ErrCertificate
	}
	now := p.now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return Binding{}, fmt.Errorf("%w: outside its validity", ErrCertificate)
	}
	serial := hex.EncodeToString(cert.SerialNumber.Bytes())
	var caID uuid.UUID
	var der []byte
	var revoked *time.Time
	var challenge uuid.NullUUID
	var purpose *string
	err := tx.QueryRow(ctx, `SELECT i.ca_id, i.certificate, i.revoked_at, i.challenge_id, c.purpose
FROM issued_certificates i LEFT JOIN scep_challenges c ON c.tenant_id = i.tenant_id AND c.id = i.challenge_id
WHERE i.serial = $1`, serial).Scan(&caID, &der, &revoked, &challenge, &purpose)
	if errors.Is(err, pgx.ErrNoRows) {
		return Binding{}, fmt.Errorf("%w: not issued by this tenant", ErrCertificate)
	}
	if err != nil {
		return Binding{}, fmt.Errorf("pki: verify: %w", err)
	}
	if revoked != nil {
		return Binding{}, fmt.Errorf("%w: revoked", ErrCertificate)
	}
	ca, err := p.load(ctx, tx, caID)
	if err != nil {
		return Binding{}, err
	}
	// Both the signature and the bytes: the record, not the presented copy,
	// is what the tenant issued.
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil || string(der) != string(cert.Raw) {
		return Binding{}, fmt.Errorf("%w: not signed by the tenant's CA", ErrCertificate)
	}
	b := Binding{Serial: serial, Tenant: ca.Tenant, ChallengeID: challenge.UUID}
	if purpose != nil {
		b.Purpose = *purpose
	}
	return b, nil
}

// RevokeErased is the command queue's hook for an acknowledged erase
// (commands.WithAcknowledged("erase", p.RevokeErased)): an erased
// device's identity is no one's, so its certificates are refused at every
// endpoint from then on, in the transaction that records the erase.
func (p *PKI) RevokeErased(ctx context.Context, tx pgx.Tx, c commands.Command) error {
	_, err := p.RevokeDeviceTx(ctx, tx, c.DeviceID)
	return err
}
