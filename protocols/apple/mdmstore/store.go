// Package mdmstore is nanomdm's storage on Trident's schema: it implements
// nanomdm's storage interfaces (check-ins, the command queue and results,
// push info and certificates, certificate associations, bootstrap tokens,
// the TokenUpdate tally and migration) on tables whose every key starts
// with tenant_id. Every call runs in a transaction scoped to the tenant in
// its context (put there by the Host middleware, or by whatever calls the
// push and queue APIs); a context without a tenant is an error, never a
// global query. nanomdm's own global tables are not used.
//
// nanomdm's conformance suite (test/e2e) runs against it in this
// package's tests.
package mdmstore

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/cryptoutil"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/nanomdm/storage"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/tenancy"
)

// Store is nanomdm's storage for every tenant, one tenant per call.
type Store struct {
	db   *tenancy.DB
	keys *seal.Keyring
	seen SeenMarker
}

var _ storage.AllStorage = (*Store)(nil)

// SeenMarker keeps enrollments' last-contact times to be written later, in
// batches (lastseen.Batch, built with SeenUpdate).
type SeenMarker interface {
	Mark(tenant uuid.UUID, id string, t time.Time)
}

// SeenUpdate is the statement that writes a batch of enrollments'
// last-contact times (lastseen.New's update).
const SeenUpdate = `UPDATE apple_enrollments e SET last_seen_at = v.t
FROM unnest($1::text[], $2::timestamptz[]) AS v(id, t)
WHERE e.tenant_id = current_tenant() AND e.id = v.id AND e.last_seen_at < v.t`

// Option configures the store.
type Option func(*Store)

// BatchSeen makes command reports (an Idle above all) hand the
// enrollment's last contact to m instead of writing it in the request's
// transaction.
func BatchSeen(m SeenMarker) Option { return func(s *Store) { s.seen = m } }

// New returns the store; keys seal push certificates' private keys.
func New(db *tenancy.DB, keys *seal.Keyring, opts ...Option) *Store {
	s := &Store{db: db, keys: keys}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.db.Tx(ctx, fn)
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// seenLater hands an enrollment's last contact to the batch, when it is
// due (see touch).
func (s *Store) seenLater(ctx context.Context, tx pgx.Tx, id string) error {
	var tenant uuid.UUID
	var due bool
	err := tx.QueryRow(ctx, `SELECT tenant_id, last_seen_at < now() - $2::interval FROM apple_enrollments WHERE id = $1`,
		id, seenPrecision.String()).Scan(&tenant, &due)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mdmstore: last seen: %w", err)
	}
	if due {
		s.seen.Mark(tenant, id, time.Now())
	}
	return nil
}

// seenPrecision is how stale an enrollment's last_seen_at may be: a
// check-in that only says "still here" need not write a row version more
// often (nothing reads it closer than that).
const seenPrecision = 30 * time.Second

// touch marks an enrollment seen, at most every seenPrecision.
func touch(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `UPDATE apple_enrollments SET last_seen_at = now()
WHERE id = $1 AND last_seen_at < now() - $2::interval`, id, seenPrecision.String()); err != nil {
		return fmt.Errorf("mdmstore: last seen: %w", err)
	}
	return nil
}

// StoreAuthenticate records a device's Authenticate check-in. A new
// Authenticate forgets the bootstrap token: the device is enrolling again.
func (s *Store) StoreAuthenticate(r *mdm.Request, msg *mdm.Authenticate) error {
	var pemCert *string
	if r.Certificate != nil {
		pemCert = nullIfEmpty(string(cryptoutil.PEMCertificate(r.Certificate.Raw)))
	}
	raw, err := Text(msg.Raw)
	if err != nil {
		return err
	}
	return s.tx(r.Context(), func(tx pgx.Tx) error {
		_, err := tx.Exec(r.Context(), `
INSERT INTO apple_devices (id, identity_cert, serial_number, authenticate, authenticate_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (tenant_id, id) DO UPDATE SET
    identity_cert = excluded.identity_cert, serial_number = excluded.serial_number,
    bootstrap_token_b64 = NULL, bootstrap_token_at = NULL,
    authenticate = excluded.authenticate, authenticate_at = now(), updated_at = now()`,
			r.ID, pemCert, nullIfEmpty(msg.SerialNumber), raw)
		return err
	})
}

// StoreTokenUpdate records a TokenUpdate of the device or user channel and
// (re-)enables its enrollment, counting TokenUpdates since it enrolled.
func (s *Store) StoreTokenUpdate(r *mdm.Request, msg *mdm.TokenUpdate) error {
	resolved := (&msg.Enrollment).Resolved()
	if err := resolved.Validate(); err != nil {
		return err
	}
	raw, err := Text(msg.Raw)
	if err != nil {
		return err
	}
	ctx := r.Context()
	return s.tx(ctx, func(tx pgx.Tx) error {
		deviceID, userID := r.ID, ""
		if resolved.IsUserChannel {
			deviceID, userID = r.ParentID, r.ID
			_, err := tx.Exec(ctx, `
INSERT INTO apple_users (id, device_id, user_short_name, user_long_name, token_update, token_update_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (tenant_id, id) DO UPDATE SET
    device_id = excluded.device_id, user_short_name = excluded.user_short_name,
    user_long_name = excluded.user_long_name, token_update = excluded.token_update,
    token_update_at = now(), updated_at = now()`,
				r.ID, r.ParentID, nullIfEmpty(msg.UserShortName), nullIfEmpty(msg.UserLongName), raw)
			if err != nil {
				return fmt.Errorf("mdmstore: user token update: %w", err)
			}
		} else {
			var unlock []byte
			if len(msg.UnlockToken) > 0 {
				unlock = msg.UnlockToken
			}
			_, err := tx.Exec(ctx, `UPDATE apple_devices SET token_update = $2, token_update_at = now(),
    unlock_token = coalesce($3, unlock_token),
    unlock_token_at = CASE WHEN $3::bytea IS NULL THEN unlock_token_at ELSE now() END, updated_at = now()
WHERE id = $1`, r.ID, raw, unlock)
			if err != nil {
				return fmt.Errorf("mdmstore: device token update: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `
INSERT INTO apple_enrollments (id, device_id, user_id, type, topic, push_magic, token_hex, last_seen_at, token_update_tally)
VALUES ($1, $2, $3, $4, $5, $6, $7, now(), 1)
ON CONFLICT (tenant_id, id) DO UPDATE SET
    device_id = excluded.device_id, user_id = excluded.user_id, type = excluded.type,
    topic = excluded.topic, push_magic = excluded.push_magic, token_hex = excluded.token_hex,
    enabled = true, last_seen_at = now(), updated_at = now(),
    token_update_tally = apple_enrollments.token_update_tally + 1`,
			r.ID, deviceID, nullIfEmpty(userID), r.Type.String(), msg.Topic, msg.PushMagic, msg.Token.String())
		if err != nil {
			return fmt.Errorf("mdmstore: enrollment: %w", err)
		}
		return nil
	})
}

// RetrieveTokenUpdateTally counts TokenUpdates since the enrollment began.
func (s *Store) RetrieveTokenUpdateTally(ctx context.Context, id string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT token_update_tally FROM apple_enrollments WHERE id = $1`, id).Scan(&n)
	})
	return n, err
}

// StoreUserAuthenticate records a UserAuthenticate (or its digest reply).
func (s *Store) StoreUserAuthenticate(r *mdm.Request, msg *mdm.UserAuthenticate) error {
	col := "user_authenticate"
	if msg.DigestResponse != "" {
		col = "user_authenticate_digest"
	}
	raw, err := Text(msg.Raw)
	if err != nil {
		return err
	}
	ctx := r.Context()
	return s.tx(ctx, func(tx pgx.Tx) error {
		// col is one of two fixed names.
		_, err := tx.Exec(ctx, `
INSERT INTO apple_users (id, device_id, user_short_name, user_long_name, `+col+`, `+col+`_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (tenant_id, id) DO UPDATE SET
    device_id = excluded.device_id, user_short_name = excluded.user_short_name,
    user_long_name = excluded.user_long_name, `+col+` = excluded.`+col+`, `+col+`_at = now(), updated_at = now()`,
			r.ID, r.ParentID, nullIfEmpty(msg.UserShortName), nullIfEmpty(msg.UserLongName), raw)
		if err != nil {
			return fmt.Errorf("mdmstore: user authenticate: %w", err)
		}
		return touch(ctx, tx, r.ID)
	})
}

// Disable turns off a device's enrollments (and its users'), as a new
// Authenticate or a CheckOut does.
func (s *Store) Disable(r *mdm.Request) error {
	if r.ParentID != "" {
		return errors.New("mdmstore: can only disable a device channel")
	}
	return s.tx(r.Context(), func(tx pgx.Tx) error {
		_, err := tx.Exec(r.Context(), `UPDATE apple_enrollments
SET enabled = false, token_update_tally = 0, last_seen_at = now(), updated_at = now()
WHERE device_id = $1 AND enabled`, r.ID)
		return err
	})
}

// EnqueueCommand queues one raw command for enrollments ids.
func (s *Store) EnqueueCommand(ctx context.Context, ids []string, cmd *mdm.Command) (map[string]error, error) {
	if len(ids) == 0 {
		return nil, errors.New("mdmstore: no enrollment to queue the command for")
	}
	return nil, s.tx(ctx, func(tx pgx.Tx) error { return Enqueue(ctx, tx, ids, cmd) })
}

// Enqueue queues cmd for ids inside tx, a tenant transaction: for callers
// that queue commands with other changes (the unified command queue).
func Enqueue(ctx context.Context, tx pgx.Tx, ids []string, cmd *mdm.Command) error {
	_, err := tx.Exec(ctx, `INSERT INTO apple_commands (command_uuid, request_type, command) VALUES ($1, $2, $3)`,
		cmd.CommandUUID, cmd.Command.RequestType, string(cmd.Raw))
	if err != nil {
		return fmt.Errorf("mdmstore: store command: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO apple_enrollment_queue (id, command_uuid) SELECT unnest($1::text[]), $2`, ids, cmd.CommandUUID)
	if err != nil {
		return fmt.Errorf("mdmstore: queue command: %w", err)
	}
	return nil
}

// ErrNotQueued refuses an answer to a command that was never queued for
// the answering enrollment: unknown, or another device's.
var ErrNotQueued = errors.New("mdmstore: the answer names a command this enrollment was never sent")

// StoreCommandReport records an enrollment's answer to a command (Idle
// reports only mark it seen). NotNow answers are counted. An answer to a
// command not queued for the enrollment is ErrNotQueued.
func (s *Store) StoreCommandReport(r *mdm.Request, result *mdm.CommandResults) error {
	ctx := r.Context()
	var raw string
	if result.Status != "Idle" {
		var err error
		if raw, err = Text(result.Raw); err != nil {
			return err
		}
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		mark := touch
		if s.seen != nil {
			mark = s.seenLater
		}
		if err := mark(ctx, tx, r.ID); err != nil {
			return err
		}
		if result.Status == "Idle" {
			return nil
		}
		notNow := result.Status == "NotNow"
		tag, err := tx.Exec(ctx, `
INSERT INTO apple_command_results (id, command_uuid, status, result, not_now_at, not_now_tally)
SELECT $1, $2, $3, $4, CASE WHEN $5 THEN now() END, CASE WHEN $5 THEN 1 ELSE 0 END
WHERE EXISTS (SELECT 1 FROM apple_enrollment_queue WHERE id = $1 AND command_uuid = $2)
ON CONFLICT (tenant_id, id, command_uuid) DO UPDATE SET
    status = excluded.status, result = excluded.result, updated_at = now(),
    not_now_at = CASE WHEN $5 THEN now() ELSE apple_command_results.not_now_at END,
    not_now_tally = apple_command_results.not_now_tally + CASE WHEN $5 THEN 1 ELSE 0 END`,
			r.ID, result.CommandUUID, result.Status, raw, notNow)
		if err != nil {
			return fmt.Errorf("mdmstore: command report: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w (%.64q)", ErrNotQueued, result.CommandUUID)
		}
		return nil
	})
}

// Withdraw takes a command off enrollment id's queue inside tx, a tenant
// transaction (a command canceled or expired in Trident's queue).
func Withdraw(ctx context.Context, tx pgx.Tx, id, commandUUID string) error {
	_, err := tx.Exec(ctx, `UPDATE apple_enrollment_queue SET active = false, updated_at = now()
WHERE id = $1 AND command_uuid = $2 AND active`, id, commandUUID)
	if err != nil {
		return fmt.Errorf("mdmstore: withdraw command: %w", err)
	}
	return nil
}

// Skip takes a command off the request's enrollment queue: it was not to
// be handed out (see RetrieveNextCommand's callers).
func (s *Store) Skip(r *mdm.Request, commandUUID string) error {
	return s.tx(r.Context(), func(tx pgx.Tx) error { return Withdraw(r.Context(), tx, r.ID, commandUUID) })
}

// RetrieveNextCommand returns the enrollment's next command without an
// answer (or, unless skipNotNow, with a NotNow answer), by priority then
// age; nil when there is none.
func (s *Store) RetrieveNextCommand(r *mdm.Request, skipNotNow bool) (*mdm.Command, error) {
	ctx := r.Context()
	var cmd *mdm.Command
	err := s.tx(ctx, func(tx pgx.Tx) error {
		c := new(mdm.Command)
		var raw string
		err := tx.QueryRow(ctx, `
SELECT c.command_uuid, c.request_type, c.command
FROM apple_enrollment_queue q
JOIN apple_commands c ON c.tenant_id = q.tenant_id AND c.command_uuid = q.command_uuid
LEFT JOIN apple_command_results r ON r.tenant_id = q.tenant_id AND r.id = q.id AND r.command_uuid = q.command_uuid
WHERE q.id = $1 AND q.active AND (r.status IS NULL OR (NOT $2 AND r.status = 'NotNow'))
ORDER BY q.priority DESC, q.created_at LIMIT 1`, r.ID, skipNotNow).Scan(&c.CommandUUID, &c.Command.RequestType, &raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mdmstore: next command: %w", err)
		}
		c.Raw = []byte(raw)
		cmd = c
		return nil
	})
	return cmd, err
}

// ClearQueue deactivates the waiting commands of a device and its users.
func (s *Store) ClearQueue(r *mdm.Request) error {
	if r.ParentID != "" {
		return errors.New("mdmstore: can only clear a device channel queue")
	}
	ctx := r.Context()
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
UPDATE apple_enrollment_queue q SET active = false, updated_at = now()
FROM apple_enrollments e
WHERE e.tenant_id = q.tenant_id AND e.id = q.id AND e.device_id = $1 AND q.active
  AND NOT EXISTS (SELECT 1 FROM apple_command_results r
                  WHERE r.tenant_id = q.tenant_id AND r.id = q.id AND r.command_uuid = q.command_uuid
                    AND r.status <> 'NotNow')`, r.ID)
		return err
	})
}

// RetrievePushInfo returns the push details of the enrollments among ids
// that have them; unknown ids are left out, not an error.
func (s *Store) RetrievePushInfo(ctx context.Context, ids []string) (map[string]*mdm.Push, error) {
	if len(ids) == 0 {
		return nil, errors.New("mdmstore: no ids to retrieve push info for")
	}
	out := map[string]*mdm.Push{}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, topic, push_magic, token_hex FROM apple_enrollments WHERE id = ANY($1)`, ids)
		var id, topic, magic, token string
		_, err := pgx.ForEachRow(rows, []any{&id, &topic, &magic, &token}, func() error {
			p := &mdm.Push{Topic: topic, PushMagic: magic}
			if err := p.SetTokenString(token); err != nil {
				return err
			}
			out[id] = p
			return nil
		})
		return err
	})
	return out, err
}

func pushKeyContext(topic string) string { return "apple-push-cert/" + topic }

// ErrBadPushCert means an uploaded push certificate or key cannot be used.
var ErrBadPushCert = errors.New("not a usable APNs push certificate and key")

// StorePushCert stores (or renews) the tenant's push certificate for the
// topic its certificate names; the key is sealed.
func (s *Store) StorePushCert(ctx context.Context, pemCert, pemKey []byte) error {
	topic, err := cryptoutil.TopicFromPEMCert(pemCert)
	if err != nil {
		return fmt.Errorf("%w: the certificate names no APNs topic (%v)", ErrBadPushCert, err)
	}
	if _, err := tls.X509KeyPair(pemCert, pemKey); err != nil {
		return fmt.Errorf("%w: the certificate and key do not match (%v)", ErrBadPushCert, err)
	}
	block, _ := pem.Decode(pemCert)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadPushCert, err)
	}
	sealed, err := s.keys.Seal(pemKey, pushKeyContext(topic))
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
INSERT INTO apple_push_certs (topic, cert_pem, key_sealed, not_after) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, topic) DO UPDATE SET cert_pem = excluded.cert_pem, key_sealed = excluded.key_sealed,
    not_after = excluded.not_after, stale_token = apple_push_certs.stale_token + 1, updated_at = now()`,
			topic, string(pemCert), sealed, cert.NotAfter)
		return err
	})
}

// RetrievePushCert returns the tenant's push certificate for topic, and a
// token that changes whenever it is replaced.
func (s *Store) RetrievePushCert(ctx context.Context, topic string) (*tls.Certificate, string, error) {
	var certPEM string
	var sealed []byte
	var stale int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT cert_pem, key_sealed, stale_token FROM apple_push_certs WHERE topic = $1`, topic).
			Scan(&certPEM, &sealed, &stale)
	})
	if err != nil {
		return nil, "", fmt.Errorf("mdmstore: push certificate for %s: %w", topic, err)
	}
	keyPEM, err := s.keys.Open(sealed, pushKeyContext(topic))
	if err != nil {
		return nil, "", fmt.Errorf("mdmstore: push certificate key for %s: %w", topic, err)
	}
	cert, err := tls.X509KeyPair([]byte(certPEM), keyPEM)
	if err != nil {
		return nil, "", err
	}
	return &cert, strconv.Itoa(stale), nil
}

// IsPushCertStale reports whether the push certificate changed since the
// one staleToken came with.
func (s *Store) IsPushCertStale(ctx context.Context, topic, staleToken string) (bool, error) {
	want, err := strconv.Atoi(staleToken)
	if err != nil {
		return true, err
	}
	var have int
	err = s.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT stale_token FROM apple_push_certs WHERE topic = $1`, topic).Scan(&have)
	})
	return have != want, err
}

func exists(ctx context.Context, s *Store, query string, args ...any) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(tx pgx.Tx) error { return tx.QueryRow(ctx, `SELECT EXISTS (`+query+`)`, args...).Scan(&ok) })
	return ok, err
}

// HasCertHash reports whether any enrollment of the tenant uses the
// certificate with this hash.
func (s *Store) HasCertHash(r *mdm.Request, hash string) (bool, error) {
	return exists(r.Context(), s, `SELECT 1 FROM apple_cert_auth WHERE sha256 = $1`, strings.ToLower(hash))
}

// EnrollmentHasCertHash reports whether the enrollment has any certificate.
func (s *Store) EnrollmentHasCertHash(r *mdm.Request, _ string) (bool, error) {
	return exists(r.Context(), s, `SELECT 1 FROM apple_cert_auth WHERE id = $1`, r.ID)
}

// IsCertHashAssociated reports whether the enrollment uses this certificate.
func (s *Store) IsCertHashAssociated(r *mdm.Request, hash string) (bool, error) {
	return exists(r.Context(), s, `SELECT 1 FROM apple_cert_auth WHERE id = $1 AND sha256 = $2`, r.ID, strings.ToLower(hash))
}

// AssociateCertHash ties a certificate to the enrollment.
func (s *Store) AssociateCertHash(r *mdm.Request, hash string) error {
	ctx := r.Context()
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO apple_cert_auth (id, sha256) VALUES ($1, $2)
ON CONFLICT (tenant_id, id, sha256) DO UPDATE SET updated_at = now()`, r.ID, strings.ToLower(hash))
		return err
	})
}

// EnrollmentFromHash returns the enrollment that uses a certificate, or ""
// when none of the tenant's does.
func (s *Store) EnrollmentFromHash(ctx context.Context, hash string) (string, error) {
	var id string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM apple_cert_auth WHERE sha256 = $1 LIMIT 1`, strings.ToLower(hash)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return id, err
}

// StoreBootstrapToken escrows the device's bootstrap token.
func (s *Store) StoreBootstrapToken(r *mdm.Request, msg *mdm.SetBootstrapToken) error {
	ctx := r.Context()
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE apple_devices SET bootstrap_token_b64 = $2, bootstrap_token_at = now(), updated_at = now()
WHERE id = $1`, r.ID, nullIfEmpty(msg.BootstrapToken.BootstrapToken.String()))
		if err != nil {
			return err
		}
		return touch(ctx, tx, r.ID)
	})
}

// RetrieveBootstrapToken returns the escrowed bootstrap token, or nil.
func (s *Store) RetrieveBootstrapToken(r *mdm.Request, _ *mdm.GetBootstrapToken) (*mdm.BootstrapToken, error) {
	ctx := r.Context()
	var tok *mdm.BootstrapToken
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var b64 *string
		if err := tx.QueryRow(ctx, `SELECT bootstrap_token_b64 FROM apple_devices WHERE id = $1`, r.ID).Scan(&b64); err != nil {
			return err
		}
		if b64 == nil {
			return nil
		}
		tok = new(mdm.BootstrapToken)
		if err := tok.SetTokenString(*b64); err != nil {
			return err
		}
		return touch(ctx, tx, r.ID)
	})
	return tok, err
}

// RetrieveMigrationCheckins replays the tenant's stored check-ins
// (Authenticate and TokenUpdate of devices, TokenUpdate of users) for
// nanomdm's migration tooling.
func (s *Store) RetrieveMigrationCheckins(ctx context.Context, c chan<- interface{}) error {
	return s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
SELECT authenticate, token_update FROM apple_devices
UNION ALL SELECT NULL, token_update FROM apple_users WHERE token_update IS NOT NULL`)
		var auth, tu *string
		_, err := pgx.ForEachRow(rows, []any{&auth, &tu}, func() error {
			for _, raw := range []*string{auth, tu} {
				if raw == nil {
					continue
				}
				msg, err := mdm.DecodeCheckin([]byte(*raw))
				if err != nil {
					c <- err
				} else {
					c <- msg
				}
			}
			return nil
		})
		return err
	})
}

// UnlockToken returns the device's escrowed UnlockToken (ClearPasscode
// needs it), or nil, inside tx, a tenant transaction.
func UnlockToken(ctx context.Context, tx pgx.Tx, deviceID string) ([]byte, error) {
	var tok []byte
	err := tx.QueryRow(ctx, `SELECT unlock_token FROM apple_devices WHERE id = $1`, deviceID).Scan(&tok)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return tok, err
}

// PushCert describes one of the tenant's push certificates.
type PushCert struct {
	Topic     string
	NotAfter  time.Time
	UpdatedAt time.Time
}

// NewestPushCertificate is the expiry of the tenant's newest push
// certificate; ok is false when it has none.
func (s *Store) NewestPushCertificate(ctx context.Context) (notAfter time.Time, ok bool, err error) {
	certs, err := s.PushCerts(ctx)
	if err != nil || len(certs) == 0 {
		return time.Time{}, false, err
	}
	return certs[0].NotAfter, true, nil
}

// PushCerts lists the tenant's push certificates, newest first.
func (s *Store) PushCerts(ctx context.Context) ([]PushCert, error) {
	var out []PushCert
	err := s.db.ReadTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT topic, not_after, updated_at FROM apple_push_certs ORDER BY updated_at DESC`)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PushCert])
		return err
	})
	return out, err
}

// StorePushRequest keeps the key of a push certificate request until
// Apple's certificate for it is uploaded.
func (s *Store) StorePushRequest(ctx context.Context, pub crypto.PublicKey, keyPEM []byte) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	id := uuid.New()
	sealed, err := s.keys.Seal(keyPEM, "apple-push-request/"+id.String())
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO apple_push_requests (id, public_key, key_sealed) VALUES ($1, $2, $3)`, id, der, sealed)
		return err
	})
}

// PendingPushKey returns the key of the tenant's push request whose public
// key certPEM certifies, or ErrBadPushCert when none does.
func (s *Store) PendingPushKey(ctx context.Context, certPEM []byte) ([]byte, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, fmt.Errorf("%w: not a PEM certificate", ErrBadPushCert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPushCert, err)
	}
	der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPushCert, err)
	}
	var id uuid.UUID
	var sealed []byte
	err = s.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, key_sealed FROM apple_push_requests WHERE public_key = $1
ORDER BY created_at DESC LIMIT 1`, der).Scan(&id, &sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: no push request of this tenant matches the certificate; upload its private key too", ErrBadPushCert)
	}
	if err != nil {
		return nil, err
	}
	return s.keys.Open(sealed, "apple-push-request/"+id.String())
}
