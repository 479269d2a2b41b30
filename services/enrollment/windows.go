// Package enrollment keeps what binds an enrolled device to its tenant
// beyond the certificate services/pki issued it: for Windows, the
// enrollment of each device id (MS-MDE2) and the large results a device
// sends in chunks across the messages of a management session.
//
// Apple enrollment lives in nanomdm's storage (protocols/apple/mdmstore)
// and Android enrollment in services/android; their tokens, like
// Windows', are services/pki challenges.
package enrollment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/egress"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// WindowsPurpose is the purpose of Windows enrollment tokens: a token made
// for another purpose (an Apple SCEP challenge) does not enroll a Windows
// device, and the other way round.
const WindowsPurpose = "windows-enrollment"

// DefaultTokenLifetime is how long a Windows enrollment token is good for.
const DefaultTokenLifetime = 14 * 24 * time.Hour

// Errors callers tell apart.
var (
	// ErrToken refuses an enrollment whose token is unknown, used, expired
	// or not a Windows enrollment token.
	ErrToken = fault.New(fault.Forbidden, "the enrollment token is unknown, used, expired or not for Windows")
	// ErrNotEnrolled refuses a management session from a device (or
	// certificate) without a current enrollment in the tenant.
	ErrNotEnrolled = fault.New(fault.Forbidden, "the device is not enrolled in this tenant with this certificate")
	// ErrChunks refuses a chunked result past the size Trident keeps.
	ErrChunks = fault.New(fault.Invalid, "the chunked result is too large")
)

// Windows enrolls Windows devices and authenticates their sessions, in the
// caller's tenant transaction, and keeps the tenant's enrollment tokens
// and federated sign-in.
type Windows struct {
	db     *tenancy.DB
	pki    *pki.PKI
	inv    *inventory.Inventory
	events *events.Publisher
	keys   *seal.Keyring
	egress egress.Policy
}

// WithEgress sets what a tenant's federation issuer may be (the egress
// guard's policy; by default https to public addresses only).
func (w *Windows) WithEgress(p egress.Policy) *Windows { w.egress = p; return w }

// NewWindows returns the Windows enrollment service of db's tenants; keys
// seal the federated sign-in's client secrets.
func NewWindows(db *tenancy.DB, p *pki.PKI, inv *inventory.Inventory, pub *events.Publisher, keys *seal.Keyring) *Windows {
	return &Windows{db: db, pki: p, inv: inv, events: pub, keys: keys}
}

// Token is a new enrollment token: Secret is its only copy.
type Token struct {
	Secret    string
	ID        string
	ExpiresAt time.Time
}

// NewToken makes a one-time enrollment token, valid for ttl (0:
// DefaultTokenLifetime).
func (w *Windows) NewToken(ctx context.Context, ttl time.Duration) (Token, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Token, error) { return w.newTokenTx(ctx, tx, ttl, "") })
}

func (w *Windows) newTokenTx(ctx context.Context, tx pgx.Tx, ttl time.Duration, holder string) (Token, error) {
	if ttl == 0 {
		ttl = DefaultTokenLifetime
	}
	if ttl < time.Minute || ttl > 90*24*time.Hour {
		return Token{}, fault.InvalidField("lifetime", "must be between a minute and 90 days")
	}
	secret, c, err := w.pki.NewChallengeForTx(ctx, tx, WindowsPurpose, holder, ttl)
	if err != nil {
		return Token{}, err
	}
	return Token{Secret: secret, ID: c.ID.String(), ExpiresAt: c.ExpiresAt}, nil
}

// CheckToken says whether secret would enroll a device, without using it:
// the policy request (MS-XCEP) presents it before the enrollment request
// (MS-WSTEP) that uses it up.
func (w *Windows) CheckToken(ctx context.Context, secret string) error {
	return w.db.Tx(ctx, func(tx pgx.Tx) error { _, err := w.checkTokenTx(ctx, tx, secret); return err })
}

func (w *Windows) checkTokenTx(ctx context.Context, tx pgx.Tx, secret string) (pki.Challenge, error) {
	if secret == "" || len(secret) > 4096 {
		return pki.Challenge{}, ErrToken
	}
	c, err := w.pki.CheckChallengeTx(ctx, tx, secret)
	if errors.Is(err, pki.ErrChallenge) || (err == nil && c.Purpose != WindowsPurpose) {
		return pki.Challenge{}, ErrToken
	}
	return c, err
}

// Device is what a Windows device says about itself when it enrolls.
type Device struct {
	DeviceID    string // the DeviceID context item: the device's identity in every session
	HWDevID     string
	DeviceType  string
	OSEdition   string
	OSVersion   string
	Name        string
	EnrollType  string // Full or Device
	Application string // ApplicationVersion
}

func (d Device) validate() error {
	for _, f := range []struct{ name, v string }{{"DeviceID", d.DeviceID}, {"HWDevID", d.HWDevID}, {"DeviceType", d.DeviceType},
		{"OSEdition", d.OSEdition}, {"OSVersion", d.OSVersion}, {"DeviceName", d.Name}, {"EnrollmentType", d.EnrollType}} {
		if len(f.v) > 200 || strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 }) {
			return fault.InvalidField(f.name, "must be at most 200 printable characters")
		}
	}
	if d.DeviceID == "" {
		return fault.InvalidField("DeviceID", "is required")
	}
	return nil
}

// Enrollment is a device's enrollment.
type Enrollment struct {
	DeviceID   string
	CertSerial string
	Device     inventory.Device
}

// Enroll uses the token to sign the device's CSR with the tenant's CA and
// records the enrollment: the device id is bound to the new certificate
// (a device enrolling again replaces its old binding) and the device is
// enrolled in the inventory.
func (w *Windows) Enroll(ctx context.Context, token string, csr *x509.CertificateRequest, d Device) (cert *x509.Certificate, e Enrollment, err error) {
	err = w.db.Tx(ctx, func(tx pgx.Tx) error {
		cert, e, err = w.enrollTx(ctx, tx, token, csr, d)
		return err
	})
	return cert, e, err
}

func (w *Windows) enrollTx(ctx context.Context, tx pgx.Tx, token string, csr *x509.CertificateRequest, d Device) (*x509.Certificate, Enrollment, error) {
	if err := d.validate(); err != nil {
		return nil, Enrollment{}, err
	}
	c, err := w.checkTokenTx(ctx, tx, token)
	if err != nil {
		return nil, Enrollment{}, err
	}
	cert, b, err := w.pki.IssueTx(ctx, tx, pki.IssueRequest{CSR: csr, Challenge: token})
	if errors.Is(err, pki.ErrChallenge) {
		return nil, Enrollment{}, ErrToken
	}
	if err != nil {
		return nil, Enrollment{}, err
	}
	_, err = tx.Exec(ctx, `
INSERT INTO windows_enrollments (device_id, cert_serial, hw_dev_id, device_type, os_edition, os_version)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, device_id) DO UPDATE SET cert_serial = excluded.cert_serial, hw_dev_id = excluded.hw_dev_id,
    device_type = excluded.device_type, os_edition = excluded.os_edition, os_version = excluded.os_version,
    enrolled_at = now(), unenrolled_at = NULL`, d.DeviceID, b.Serial, d.HWDevID, d.DeviceType, d.OSEdition, d.OSVersion)
	if err != nil {
		return nil, Enrollment{}, fmt.Errorf("enrollment: record windows enrollment: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM windows_chunks WHERE device_id = $1`, d.DeviceID); err != nil {
		return nil, Enrollment{}, err
	}
	// The token's holder (a federated sign-in's person) is the device's
	// user.
	facts := map[string]any{"enrollment_type": d.EnrollType, "device_type": d.DeviceType, "os_edition": d.OSEdition, "hw_dev_id": d.HWDevID,
		inventory.UserFact: c.Holder}
	for k, v := range facts {
		if v == "" {
			delete(facts, k)
		}
	}
	dev, err := w.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: d.DeviceID, Name: d.Name,
		OSVersion: d.OSVersion, Status: inventory.Enrolled, Facts: facts})
	if err != nil {
		return nil, Enrollment{}, err
	}
	if err := w.pki.BindTx(ctx, tx, cert, dev.ID); err != nil {
		return nil, Enrollment{}, err
	}
	return cert, Enrollment{DeviceID: d.DeviceID, CertSerial: b.Serial, Device: dev}, nil
}

// Authenticate finds the enrollment a management session's certificate
// belongs to: issued by this tenant's CA, current, bound to deviceID (the
// session's Source), and not unenrolled. Another tenant's certificate
// fails (services/pki.Verify sees only this tenant's records).
func (w *Windows) Authenticate(ctx context.Context, cert *x509.Certificate, deviceID string) (Enrollment, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Enrollment, error) { return w.authenticateTx(ctx, tx, cert, deviceID) })
}

func (w *Windows) authenticateTx(ctx context.Context, tx pgx.Tx, cert *x509.Certificate, deviceID string) (Enrollment, error) {
	b, err := w.pki.VerifyTx(ctx, tx, cert)
	if errors.Is(err, pki.ErrCertificate) {
		return Enrollment{}, fmt.Errorf("%w: %v", ErrNotEnrolled, err)
	}
	if err != nil {
		return Enrollment{}, err
	}
	e := Enrollment{CertSerial: b.Serial}
	var unenrolled *time.Time
	// The enrollment's certificate, or the one its renewal replaced: that
	// one keeps working until it expires (pki.Verify checked it is current).
	err = tx.QueryRow(ctx, `SELECT device_id, unenrolled_at FROM windows_enrollments WHERE cert_serial = $1 OR previous_serial = $1`, b.Serial).
		Scan(&e.DeviceID, &unenrolled)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (unenrolled != nil || e.DeviceID != deviceID)) {
		return Enrollment{}, ErrNotEnrolled
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("enrollment: %w", err)
	}
	e.Device, err = w.inv.ByIdentifier(ctx, tx, inventory.Windows, deviceID)
	if errors.Is(err, tenancy.ErrNotFound) {
		return Enrollment{}, ErrNotEnrolled
	}
	if err != nil {
		return Enrollment{}, err
	}
	return e, nil
}

// Renew issues a new certificate for csr to the device that authenticated
// with cert (MS-WSTEP renewal: no enrollment token, the current
// certificate is the credential), with the same subject, and moves the
// enrollment to it; cert keeps opening sessions until it expires. A
// certificate of another tenant, revoked, expired, of an unenrolled
// device, or not the enrollment's current one (a renewal already
// happened from it) gives ErrNotEnrolled.
func (w *Windows) Renew(ctx context.Context, cert *x509.Certificate, csr *x509.CertificateRequest) (next *x509.Certificate, e Enrollment, err error) {
	err = w.db.Tx(ctx, func(tx pgx.Tx) error {
		next, e, err = w.renewTx(ctx, tx, cert, csr)
		return err
	})
	return next, e, err
}

func (w *Windows) renewTx(ctx context.Context, tx pgx.Tx, cert *x509.Certificate, csr *x509.CertificateRequest) (*x509.Certificate, Enrollment, error) {
	old, err := w.pki.VerifyTx(ctx, tx, cert)
	if errors.Is(err, pki.ErrCertificate) {
		return nil, Enrollment{}, fmt.Errorf("%w: %v", ErrNotEnrolled, err)
	}
	if err != nil {
		return nil, Enrollment{}, err
	}
	var deviceID string
	err = tx.QueryRow(ctx, `SELECT device_id FROM windows_enrollments WHERE cert_serial = $1 AND unenrolled_at IS NULL FOR UPDATE`, old.Serial).Scan(&deviceID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Enrollment{}, fmt.Errorf("%w: the certificate is not the current one of an enrolled device", ErrNotEnrolled)
	}
	if err != nil {
		return nil, Enrollment{}, fmt.Errorf("enrollment: renew: %w", err)
	}
	next, b, err := w.pki.IssueTx(ctx, tx, pki.IssueRequest{CSR: csr, Renewing: cert})
	if err != nil {
		return nil, Enrollment{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE windows_enrollments SET previous_serial = cert_serial, cert_serial = $2, renewed_at = now()
WHERE device_id = $1`, deviceID, b.Serial); err != nil {
		return nil, Enrollment{}, fmt.Errorf("enrollment: record the renewal: %w", err)
	}
	dev, err := w.inv.ByIdentifier(ctx, tx, inventory.Windows, deviceID)
	if err != nil {
		return nil, Enrollment{}, err
	}
	if _, err := w.events.Publish(ctx, tx, pki.EventCertificateRenewed, dev.ID.String(), pki.CertificateRenewed{
		Platform: "windows", Serial: b.Serial, Renews: old.Serial, NotAfter: next.NotAfter}); err != nil {
		return nil, Enrollment{}, err
	}
	return next, Enrollment{DeviceID: deviceID, CertSerial: b.Serial, Device: dev}, nil
}

// Unenroll ends a device's enrollment (it asked: Alert 1226): its
// certificates are revoked (no session or renewal opens with them again)
// and the device is unenrolled in the inventory. Its open commands are
// left to expire.
func (w *Windows) Unenroll(ctx context.Context, deviceID, reason string) error {
	return w.db.Tx(ctx, func(tx pgx.Tx) error { return w.unenrollTx(ctx, tx, deviceID, reason) })
}

func (w *Windows) unenrollTx(ctx context.Context, tx pgx.Tx, deviceID, reason string) error {
	tag, err := tx.Exec(ctx, `UPDATE windows_enrollments SET unenrolled_at = now() WHERE device_id = $1 AND unenrolled_at IS NULL`, deviceID)
	if err != nil {
		return fmt.Errorf("enrollment: unenroll: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotEnrolled
	}
	if _, err := tx.Exec(ctx, `DELETE FROM windows_chunks WHERE device_id = $1`, deviceID); err != nil {
		return err
	}
	facts := map[string]any{}
	if reason != "" {
		facts["unenroll_reason"] = reason
	}
	dev, err := w.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Windows, Identifier: deviceID, Status: inventory.Unenrolled, Facts: facts})
	if err != nil {
		return err
	}
	_, err = w.pki.RevokeDeviceTx(ctx, tx, dev.ID)
	return err
}

// MaxChunked is the most Trident keeps of one chunked result item.
const MaxChunked = 4 << 20

// AppendChunk keeps one chunk of a large result item (SyncML MoreData)
// until its last chunk arrives.
func (w *Windows) AppendChunk(ctx context.Context, deviceID, cmdRef, locURI, data string) error {
	return w.db.Tx(ctx, func(tx pgx.Tx) error { return w.appendChunkTx(ctx, tx, deviceID, cmdRef, locURI, data) })
}

func (w *Windows) appendChunkTx(ctx context.Context, tx pgx.Tx, deviceID, cmdRef, locURI, data string) error {
	var size int
	err := tx.QueryRow(ctx, `
INSERT INTO windows_chunks (device_id, cmd_ref, loc_uri, data) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, device_id, cmd_ref, loc_uri) DO UPDATE SET data = windows_chunks.data || excluded.data, updated_at = now()
RETURNING length(data)`, deviceID, cmdRef, locURI, data).Scan(&size)
	if err != nil {
		return fmt.Errorf("enrollment: keep chunk: %w", err)
	}
	if size > MaxChunked {
		return ErrChunks
	}
	return nil
}

// HasChunks says whether any chunks are kept for the device: most
// messages carry no chunked results, and then need not look for them.
func (w *Windows) HasChunks(ctx context.Context, deviceID string) (bool, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) (bool, error) { return w.hasChunksTx(ctx, tx, deviceID) })
}

func (w *Windows) hasChunksTx(ctx context.Context, tx pgx.Tx, deviceID string) (bool, error) {
	var any bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM windows_chunks WHERE device_id = $1)`, deviceID).Scan(&any)
	return any, err
}

// TakeChunks returns the chunks kept for an item so far, joined, and
// forgets them; "" if there were none.
func (w *Windows) TakeChunks(ctx context.Context, deviceID, cmdRef, locURI string) (string, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (string, error) { return w.takeChunksTx(ctx, tx, deviceID, cmdRef, locURI) })
}

func (w *Windows) takeChunksTx(ctx context.Context, tx pgx.Tx, deviceID, cmdRef, locURI string) (string, error) {
	var data string
	err := tx.QueryRow(ctx, `DELETE FROM windows_chunks WHERE device_id = $1 AND cmd_ref = $2 AND loc_uri = $3 RETURNING data`,
		deviceID, cmdRef, locURI).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return data, err
}

// CheckIn records a management message from the device: last seen, what
// its DevInfo says, and at a session's start a device.checked_in event.
func (w *Windows) CheckIn(ctx context.Context, r inventory.Report, sessionStart bool, sessionID string) error {
	return w.db.Tx(ctx, func(tx pgx.Tx) error { return w.checkInTx(ctx, tx, r, sessionStart, sessionID) })
}

func (w *Windows) checkInTx(ctx context.Context, tx pgx.Tx, r inventory.Report, sessionStart bool, sessionID string) error {
	d, err := w.inv.RecordTx(ctx, tx, r)
	if err != nil || !sessionStart {
		return err
	}
	_, err = w.events.Publish(ctx, tx, EventCheckedIn, d.ID.String(), CheckedIn{Platform: d.Platform, SessionID: sessionID})
	return err
}

// WindowsLinks are what a person needs to enroll a PC into a tenant whose
// hostname devices reach at deviceURL (https://acme.mdm.example.com).
type WindowsLinks struct {
	Server       string // what to type as the server, when Windows asks
	DiscoveryURL string // the MS-MDE2 discovery service
	DeepLink     string // ms-device-enrollment: with the server, and the token and email when given
}

// WindowsEnrollmentLinks makes the links for deviceURL; token and email
// may be empty.
func WindowsEnrollmentLinks(deviceURL, token, email string) WindowsLinks {
	l := WindowsLinks{DiscoveryURL: deviceURL + "/EnrollmentServer/Discovery.svc"}
	if u, err := url.Parse(deviceURL); err == nil {
		l.Server = u.Host
	}
	q := url.Values{"mode": {"mdm"}, "servername": {l.DiscoveryURL}}
	if token != "" {
		q.Set("accesstoken", token)
	}
	if email != "" {
		q.Set("username", email)
	}
	l.DeepLink = "ms-device-enrollment:?" + q.Encode()
	return l
}
