// Package dep is Apple Business Manager (Automated Device Enrollment) for
// each tenant: server tokens, device sync, ADE profiles and their
// assignment, through nanodep's godep client and its session handling.
//
// A tenant has any number of tokens (ABM "MDM servers"). Each token's DEP
// name, the key nanodep knows it by, is Trident's own "<tenant>.<token>"
// (both uuids), never the organization's name: it routes nanodep's storage
// calls to the tenant's row-level security scope.
//
// The token key pair is made here; the admin uploads its certificate to
// ABM and brings back the encrypted server token (.p7m), which is
// decrypted with nanodep's tokenpki and stored sealed. Syncs and profile
// assignments run as River jobs (SyncArgs, AssignArgs), each page of
// devices committed with its cursor in one transaction.
package dep

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	depclient "github.com/micromdm/nanodep/client"
	"github.com/micromdm/nanodep/godep"
	"github.com/micromdm/nanodep/tokenpki"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// Token statuses. Every status but active is an alert for the tenant's
// admins: expiring still works, the rest stop syncs until fixed.
const (
	AwaitingToken  = "awaiting_token"   // the key pair exists; no server token uploaded yet
	Active         = "active"           // syncing
	Expiring       = "expiring"         // works, but the server token expires within ExpiryWarning
	Expired        = "expired"          // download a new server token from ABM
	TermsNotSigned = "terms_not_signed" // an ABM administrator must accept Apple's new terms
	Rejected       = "rejected"         // Apple refused the token (revoked, or replaced by a newer download)
)

// ExpiryWarning is how long before a server token's expiry its status
// turns to expiring.
const ExpiryWarning = 30 * 24 * time.Hour

// Event kinds published by this package.
const (
	EventTokenStatus     = "dep.token_status_changed"
	EventDevicesSynced   = "dep.devices_synced"
	EventProfileAssign   = "dep.profile_assignment"
	EventTokenUploaded   = "dep.token_uploaded"
	EventDeviceEnrolling = "dep.device_enrolling"
)

// Service is the tenant-scoped ABM service.
type Service struct {
	db        *tenancy.DB
	keys      *seal.Keyring
	pub       *events.Publisher
	jobs      events.Jobs
	client    *godep.Client
	transport http.RoundTripper // nanodep's authenticating transport, for the proxy
	proxy     *httputil.ReverseProxy
	baseURL   string
	enrollURL func(ctx context.Context, tenant uuid.UUID) (string, error)
	support   func(ctx context.Context) (email, phone string, err error)
	log       *slog.Logger
	now       func() time.Time

	roundEnded func() // tests: after each sync round's last transaction
}

// Options configure the service.
type Options struct {
	// BaseURL is Apple's DEP API (depclient.DefaultBaseURL when empty);
	// tests and simulators point it elsewhere.
	BaseURL string
	// HTTPClient talks to Apple (http.DefaultClient when nil).
	HTTPClient *http.Client
	// EnrollURL is the URL of the tenant's ADE enrollment endpoint, put in
	// the ADE profiles Trident defines (the device posts its machine info
	// there during Setup Assistant).
	EnrollURL func(ctx context.Context, tenant uuid.UUID) (string, error)
	// Support is the tenant in ctx's support contact (its branding), put
	// in the ADE profiles that name none; nil: none.
	Support func(ctx context.Context) (email, phone string, err error)
	Log     *slog.Logger
}

// New returns the service. jobs enqueues syncs and assignments in the
// transactions that call for them.
func New(db *tenancy.DB, keys *seal.Keyring, pub *events.Publisher, jobs events.Jobs, o Options) *Service {
	s := &Service{db: db, keys: keys, pub: pub, jobs: jobs, baseURL: o.BaseURL, enrollURL: o.EnrollURL, support: o.Support, log: o.Log, now: time.Now}
	if s.baseURL == "" {
		s.baseURL = depclient.DefaultBaseURL
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	st := store{s}
	s.client = godep.NewClient(st, godep.WithClient(hc), godep.WithUserAgent("trident-dep/1"))
	s.transport = depclient.NewTransport(hc.Transport, hc, st, nil)
	s.proxy = s.newReverseProxy()
	return s
}

// Name is the DEP name nanodep knows a tenant's token by.
func Name(tenant, token uuid.UUID) string { return tenant.String() + "." + token.String() }

func parseName(name string) (tenant, token uuid.UUID, err error) {
	a, b, ok := strings.Cut(name, ".")
	if tenant, err = uuid.Parse(a); err == nil && ok {
		token, err = uuid.Parse(b)
	}
	if err != nil || !ok {
		return uuid.Nil, uuid.Nil, fmt.Errorf("dep: %q is not a Trident DEP name", name)
	}
	return tenant, token, nil
}

func sealContext(tenant, token uuid.UUID, what string) string {
	return "tenant/" + tenant.String() + "/dep/" + token.String() + "/" + what
}

// store is nanodep's storage: tokens and config for a DEP name, read in
// the tenant's own transaction.
type store struct{ s *Service }

func (st store) RetrieveAuthTokens(ctx context.Context, name string) (*depclient.OAuth1Tokens, error) {
	tenant, token, err := parseName(name)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	err = st.s.db.ReadTx(tenancy.WithTenant(ctx, tenant), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT tokens_sealed FROM dep_tokens WHERE id = $1`, token).Scan(&sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sealed == nil) {
		return nil, fmt.Errorf("dep: token %s has no server token uploaded: %w", token, tenancy.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	plain, err := st.s.keys.Open(sealed, sealContext(tenant, token, "tokens"))
	if err != nil {
		return nil, fmt.Errorf("dep: open token %s: %w", token, err)
	}
	t := new(depclient.OAuth1Tokens)
	return t, json.Unmarshal(plain, t)
}

func (st store) RetrieveConfig(context.Context, string) (*depclient.Config, error) {
	return &depclient.Config{BaseURL: st.s.baseURL}, nil
}

// Account is what Apple says of the ABM server a token belongs to.
type Account struct {
	ServerName string `json:"server_name,omitempty"`
	ServerUUID string `json:"server_uuid,omitempty"`
	OrgName    string `json:"org_name,omitempty"`
	OrgID      string `json:"org_id,omitempty"`
	OrgEmail   string `json:"org_email,omitempty"`
	OrgPhone   string `json:"org_phone,omitempty"`
	OrgAddress string `json:"org_address,omitempty"`
	OrgType    string `json:"org_type,omitempty"`
	AdminID    string `json:"admin_id,omitempty"` // The Apple Account that downloaded the server token.
}

// Token is a tenant's ABM server token.
type Token struct {
	ID                uuid.UUID  `json:"id"`
	Label             string     `json:"label"`
	Status            string     `json:"status"` // Anything but active needs an admin: see status_detail.
	StatusDetail      string     `json:"status_detail,omitempty"`
	AccessTokenExpiry *time.Time `json:"access_token_expiry,omitempty"` // When the server token expires (a year after download): download a new one from ABM before.
	Account           *Account   `json:"account,omitempty"`
	ProfileID         *uuid.UUID `json:"profile_id,omitempty"` // The ADE profile assigned automatically to devices ABM adds.
	SyncedAt          *time.Time `json:"synced_at,omitempty"`
	SyncError         string     `json:"sync_error,omitempty"`
	Devices           int        `json:"devices"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

const tokenCols = `id, label, status, status_detail, access_token_expiry, account, profile_id, synced_at, sync_error,
(SELECT count(*) FROM dep_devices d WHERE d.token_id = t.id), created_at, updated_at`

func scanToken(r pgx.Row) (Token, error) {
	var t Token
	var account []byte
	err := r.Scan(&t.ID, &t.Label, &t.Status, &t.StatusDetail, &t.AccessTokenExpiry, &account, &t.ProfileID, &t.SyncedAt,
		&t.SyncError, &t.Devices, &t.CreatedAt, &t.UpdatedAt)
	if err == nil && account != nil {
		t.Account = new(Account)
		err = json.Unmarshal(account, t.Account)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	return t, err
}

// CreateToken makes a token's key pair: the admin uploads Certificate
// (PEM) to ABM as the MDM server's public key.
func (s *Service) CreateToken(ctx context.Context, label string) (t Token, certPEM []byte, err error) {
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		t, certPEM, err = s.createTokenTx(ctx, tx, label)
		return err
	})
	return t, certPEM, err
}

func (s *Service) createTokenTx(ctx context.Context, tx pgx.Tx, label string) (Token, []byte, error) {
	label = strings.TrimSpace(label)
	if label == "" || len(label) > 200 {
		return Token{}, nil, fault.InvalidField("label", "must be 1 to 200 characters")
	}
	tenant, ok := tenancy.FromContext(ctx)
	if !ok {
		return Token{}, nil, tenancy.ErrNoTenant
	}
	id := uuid.New()
	key, cert, err := tokenpki.SelfSignedRSAKeypair("trident-abm-"+id.String(), 365*3)
	if err != nil {
		return Token{}, nil, fmt.Errorf("dep: key pair: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	sealed, err := s.keys.Seal(keyPEM, sealContext(tenant, id, "key"))
	if err != nil {
		return Token{}, nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO dep_tokens (id, label, certificate, key_sealed) VALUES ($1, $2, $3, $4)`,
		id, label, cert.Raw, sealed); err != nil {
		return Token{}, nil, fmt.Errorf("dep: create token: %w", err)
	}
	t, err := s.tokenTx(ctx, tx, id)
	return t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), err
}

// Token reads one token.
func (s *Service) Token(ctx context.Context, id uuid.UUID) (Token, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (Token, error) { return s.tokenTx(ctx, tx, id) })
}

func (s *Service) tokenTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Token, error) {
	return scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM dep_tokens t WHERE id = $1`, id))
}

// Tokens lists the tenant's tokens.
func (s *Service) Tokens(ctx context.Context) ([]Token, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]Token, error) { return s.tokensTx(ctx, tx) })
}

func (s *Service) tokensTx(ctx context.Context, tx pgx.Tx) ([]Token, error) {
	rows, err := tx.Query(ctx, `SELECT `+tokenCols+` FROM dep_tokens t ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Certificate returns a token's certificate, PEM.
func (s *Service) Certificate(ctx context.Context, id uuid.UUID) ([]byte, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]byte, error) { return s.certificateTx(ctx, tx, id) })
}

func (s *Service) certificateTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) ([]byte, error) {
	var der []byte
	err := tx.QueryRow(ctx, `SELECT certificate FROM dep_tokens WHERE id = $1`, id).Scan(&der)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), err
}

// DeleteToken forgets a token and the devices synced through it.
func (s *Service) DeleteToken(ctx context.Context, id uuid.UUID) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error { return s.deleteTokenTx(ctx, tx, id) })
}

func (s *Service) deleteTokenTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM dep_tokens WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	return err
}

// SetTokenProfile names the ADE profile assigned automatically to devices
// ABM adds to the token's server (uuid.Nil: none).
func (s *Service) SetTokenProfile(ctx context.Context, id, profile uuid.UUID) (Token, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Token, error) { return s.setTokenProfileTx(ctx, tx, id, profile) })
}

func (s *Service) setTokenProfileTx(ctx context.Context, tx pgx.Tx, id, profile uuid.UUID) (Token, error) {
	var p *uuid.UUID
	if profile != uuid.Nil {
		p = &profile
		if _, err := s.profileTx(ctx, tx, profile); err != nil {
			return Token{}, fault.InvalidField("profile_id", "no such ADE profile")
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE dep_tokens SET profile_id = $2, updated_at = now() WHERE id = $1`, id, p)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	if err != nil {
		return Token{}, err
	}
	return s.tokenTx(ctx, tx, id)
}

// ErrBadTokenFile is the refusal of an uploaded server token.
var ErrBadTokenFile = errors.New("not a server token from Apple Business Manager encrypted to this token's certificate: " +
	"download it again from ABM, for the MDM server that has this token's certificate")

// Upload stores the server token downloaded from ABM (the .p7m file, as
// is) for token id, and queues a sync. A second upload replaces the
// first: that is how an expired or rejected token is renewed.
func (s *Service) Upload(ctx context.Context, id uuid.UUID, p7m []byte) (Token, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Token, error) { return s.uploadTx(ctx, tx, id, p7m) })
}

func (s *Service) uploadTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, p7m []byte) (Token, error) {
	tenant, ok := tenancy.FromContext(ctx)
	if !ok {
		return Token{}, tenancy.ErrNoTenant
	}
	var der, keySealed []byte
	var oldKey, oldStatus string
	err := tx.QueryRow(ctx, `SELECT certificate, key_sealed, consumer_key, status FROM dep_tokens WHERE id = $1 FOR UPDATE`, id).
		Scan(&der, &keySealed, &oldKey, &oldStatus)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, fmt.Errorf("ABM token: %w", tenancy.ErrNotFound)
	}
	if err != nil {
		return Token{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Token{}, err
	}
	keyPEM, err := s.keys.Open(keySealed, sealContext(tenant, id, "key"))
	if err != nil {
		return Token{}, fmt.Errorf("dep: open token key: %w", err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return Token{}, errors.New("dep: stored token key is not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return Token{}, err
	}
	tokens, err := decryptToken(p7m, cert, key)
	if err != nil {
		return Token{}, fault.InvalidField("token", ErrBadTokenFile.Error())
	}
	// A new download for the same server renews it: the devices, cursor
	// and profiles stay. A token for another server starts over.
	if oldKey != "" && oldKey != tokens.ConsumerKey {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM dep_devices WHERE token_id = $1`, id).Scan(&n); err != nil {
			return Token{}, err
		}
		if n > 0 {
			return Token{}, fault.InvalidField("token", "this server token is for another ABM MDM server "+
				"than the one this token synced devices from; create a new token for it")
		}
	}
	plain, _ := json.Marshal(tokens)
	sealed, err := s.keys.Seal(plain, sealContext(tenant, id, "tokens"))
	if err != nil {
		return Token{}, err
	}
	var expiry *time.Time
	if !tokens.AccessTokenExpiry.IsZero() {
		expiry = &tokens.AccessTokenExpiry
	}
	status, detail := expiryStatus(s.now(), expiry)
	if _, err := tx.Exec(ctx, `UPDATE dep_tokens SET tokens_sealed = $2, consumer_key = $3, access_token_expiry = $4,
status = $5, status_detail = $6, updated_at = now() WHERE id = $1`, id, sealed, tokens.ConsumerKey, expiry, status, detail); err != nil {
		return Token{}, err
	}
	if _, err := s.pub.Publish(ctx, tx, EventTokenUploaded, id.String(), TokenUploaded{TokenID: id, Status: status}); err != nil {
		return Token{}, err
	}
	if status != oldStatus {
		if _, err := s.pub.Publish(ctx, tx, EventTokenStatus, id.String(),
			TokenStatusChanged{TokenID: id, Status: status, Previous: oldStatus, Detail: detail}); err != nil {
			return Token{}, err
		}
	}
	if err := s.enqueueSyncTx(ctx, tx, id); err != nil {
		return Token{}, err
	}
	return s.tokenTx(ctx, tx, id)
}

// decryptToken opens ABM's .p7m with nanodep's tokenpki.
func decryptToken(p7m []byte, cert *x509.Certificate, key any) (tokens *depclient.OAuth1Tokens, err error) {
	defer func() {
		if r := recover(); r != nil { // the PKCS #7 parser is not ours; a hostile file must not take the server down
			tokens, err = nil, fmt.Errorf("dep: unreadable token file: %v", r)
		}
	}()
	if len(p7m) == 0 || len(p7m) > 1<<20 {
		return nil, errors.New("dep: token file empty or too large")
	}
	raw, err := tokenpki.DecryptTokenJSON(p7m, cert, key)
	if err != nil {
		return nil, err
	}
	tokens = new(depclient.OAuth1Tokens)
	if err := json.Unmarshal(raw, tokens); err != nil {
		return nil, err
	}
	if !tokens.Valid() {
		return nil, errors.New("dep: token file lacks OAuth tokens")
	}
	return tokens, nil
}

// expiryStatus is the status a working token has given its expiry.
func expiryStatus(now time.Time, expiry *time.Time) (string, string) {
	switch {
	case expiry == nil:
		return Active, ""
	case now.After(*expiry):
		return Expired, "the server token expired on " + expiry.Format(time.DateOnly) +
			": download a new one for this MDM server in Apple Business Manager and upload it here"
	case expiry.Sub(now) < ExpiryWarning:
		return Expiring, "the server token expires on " + expiry.Format(time.DateOnly) +
			": download a new one for this MDM server in Apple Business Manager and upload it here"
	}
	return Active, ""
}

// classify turns an error of Apple's into the token status it implies
// ("" when it says nothing about the token: a network error, Apple's
// outage).
func classify(err error) (string, string) {
	var auth *depclient.AuthError
	var httpErr *godep.HTTPError
	var body []byte
	var code int
	switch {
	case errors.As(err, &auth):
		body, code = auth.Body, auth.StatusCode
	case errors.As(err, &httpErr):
		body, code = httpErr.Body, httpErr.StatusCode
	default:
		return "", ""
	}
	switch {
	case strings.Contains(string(body), "T_C_NOT_SIGNED"):
		return TermsNotSigned, "Apple's terms and conditions changed: an administrator must sign in to Apple Business Manager and accept them"
	case auth != nil && (code == http.StatusUnauthorized || code == http.StatusForbidden):
		return Rejected, "Apple refused the server token (" + strings.TrimSpace(string(body)) + "): it was revoked, or replaced by " +
			"a newer download; download a new one for this MDM server in Apple Business Manager and upload it here"
	}
	return "", ""
}

// setStatus records a token's status, publishing an event when it changes.
func (s *Service) setStatus(ctx context.Context, id uuid.UUID, status, detail string) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT status FROM dep_tokens WHERE id = $1 FOR UPDATE`, id).Scan(&old)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dep_tokens SET status = $2, status_detail = $3, updated_at = now() WHERE id = $1`,
			id, status, detail); err != nil {
			return err
		}
		if old == status {
			return nil
		}
		_, err = s.pub.Publish(ctx, tx, EventTokenStatus, id.String(),
			TokenStatusChanged{TokenID: id, Status: status, Previous: old, Detail: detail})
		return err
	})
}

// observe updates a token's status from the outcome of a call to Apple.
func (s *Service) observe(ctx context.Context, id uuid.UUID, callErr error) {
	status, detail := classify(callErr)
	if callErr == nil {
		var expiry *time.Time
		if err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT access_token_expiry FROM dep_tokens WHERE id = $1`, id).Scan(&expiry)
		}); err != nil {
			return
		}
		status, detail = expiryStatus(s.now(), expiry)
	}
	if status == "" {
		return
	}
	if err := s.setStatus(ctx, id, status, detail); err != nil {
		s.log.WarnContext(ctx, "record ABM token status", "token", id, "err", err)
	}
}

// AccountDetails asks Apple for the token's account and keeps the answer.
func (s *Service) AccountDetails(ctx context.Context, id uuid.UUID) (Token, error) {
	tenant, ok := tenancy.FromContext(ctx)
	if !ok {
		return Token{}, tenancy.ErrNoTenant
	}
	d, err := s.client.AccountDetail(ctx, Name(tenant, id))
	s.observe(ctx, id, err)
	if err != nil {
		return Token{}, s.appleError(err)
	}
	a := Account{ServerName: deref(d.ServerName), ServerUUID: deref(d.ServerUuid), OrgName: deref(d.OrgName),
		OrgID: deref(d.OrgId), OrgEmail: deref(d.OrgEmail), OrgPhone: deref(d.OrgPhone), OrgAddress: deref(d.OrgAddress),
		OrgType: string(deref(d.OrgType)), AdminID: deref(d.AdminId)}
	var t Token
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE dep_tokens SET account = $2, updated_at = now() WHERE id = $1`, id, a); err != nil {
			return err
		}
		t, err = s.tokenTx(ctx, tx, id)
		return err
	})
	return t, err
}

// AppleError is a failure of a call to Apple the caller can act on.
type AppleError struct {
	Status  string // the token status it implies, if any
	Message string
}

func (e *AppleError) Error() string { return e.Message }

// As presents the failure as a fault to the edges: one that sets the
// token's status is for an admin to fix in ABM (Conflict); any other is
// Apple's refusal (Upstream).
func (e *AppleError) As(target any) bool {
	p, ok := target.(**fault.Error)
	if !ok {
		return false
	}
	code := fault.Upstream
	if e.Status != "" {
		code = fault.Conflict
	}
	*p = &fault.Error{Code: code, Message: e.Message, Err: e}
	return true
}

// appleError explains err: the token's status when it implies one, the
// missing upload, or Apple's own answer.
func (s *Service) appleError(err error) error {
	if errors.Is(err, tenancy.ErrNotFound) {
		return &AppleError{Status: AwaitingToken, Message: "upload the server token from Apple Business Manager first"}
	}
	if st, detail := classify(err); st != "" {
		return &AppleError{Status: st, Message: detail}
	}
	var httpErr *godep.HTTPError
	if errors.As(err, &httpErr) {
		return &AppleError{Message: "Apple answered " + httpErr.Status + ": " + strings.TrimSpace(string(httpErr.Body))}
	}
	return fmt.Errorf("dep: calling Apple: %w", err)
}

// EnqueueSync queues a sync of token id in tx, and counts the ask on the
// token so that a run already under way goes round again (see Sync).
func (s *Service) EnqueueSync(ctx context.Context, id uuid.UUID) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error { return s.enqueueSyncTx(ctx, tx, id) })
}

func (s *Service) enqueueSyncTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE dep_tokens SET sync_requests = sync_requests + 1 WHERE id = $1`, id); err != nil {
		return err
	}
	_, err = s.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: SyncArgs{TenantID: tenant, TokenID: id}, InsertOpts: syncOpts()}})
	return err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (s *Service) insert(ctx context.Context, tx pgx.Tx, args river.JobArgs) error {
	_, err := s.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: args}})
	return err
}
