package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/tenancy"
)

// Sessions keeps people's dashboard sessions server-side. The browser's
// cookie carries only a random token; the row, keyed by the token's
// SHA-256, holds what the session knows (sealed). Ending a session (sign
// out, or an admin ending a person's sessions) takes effect at once for
// every copy of the cookie.
type Sessions struct {
	db   *tenancy.DB
	keys *seal.Keyring
}

// NewSessions returns the session store on db's writer.
func NewSessions(db *tenancy.DB, keys *seal.Keyring) *Sessions { return &Sessions{db: db, keys: keys} }

// ErrNoSession is a token of no current session: unknown, expired or ended.
var ErrNoSession = errors.New("no such session, or it ended")

func sessionID(token string) []byte { sum := sha256.Sum256([]byte(token)); return sum[:] }

func sessionContext(id []byte) string { return "dashboard-session/" + hex.EncodeToString(id) }

// Start records a session of subject holding data, for lifetime, and
// returns the token the browser keeps.
func (s *Sessions) Start(ctx context.Context, subject string, data []byte, lifetime time.Duration) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	id := sessionID(token)
	sealed, err := s.keys.Seal(data, sessionContext(id))
	if err != nil {
		return "", err
	}
	_, err = s.db.Writer().Exec(ctx, `
WITH gone AS (DELETE FROM dashboard_sessions WHERE expires_at < now() - interval '1 day')
INSERT INTO dashboard_sessions (id, subject, data_sealed, expires_at) VALUES ($1, $2, $3, now() + $4::interval)`,
		id, subject, sealed, lifetime.String())
	if err != nil {
		return "", fmt.Errorf("identity: start a session: %w", err)
	}
	return token, nil
}

// Get returns the data of token's session while it lasts.
func (s *Sessions) Get(ctx context.Context, token string) ([]byte, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNoSession
	}
	id := sessionID(token)
	var sealed []byte
	err := s.db.Writer().QueryRow(ctx, `SELECT data_sealed FROM dashboard_sessions
WHERE id = $1 AND ended_at IS NULL AND expires_at > now()`, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read a session: %w", err)
	}
	return s.keys.Open(sealed, sessionContext(id))
}

// Renew locks token's session, hands its data to fn, and stores what fn
// returns instead (nil: keep the data). A session's renewals run one at a
// time, so a rotated refresh token is used once. It returns the data the
// session holds afterwards; fn's error leaves the session as it was.
func (s *Sessions) Renew(ctx context.Context, token string, fn func(data []byte) ([]byte, error)) ([]byte, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNoSession
	}
	id := sessionID(token)
	var out []byte
	err := pgx.BeginFunc(ctx, s.db.Writer(), func(tx pgx.Tx) error {
		var sealed []byte
		err := tx.QueryRow(ctx, `SELECT data_sealed FROM dashboard_sessions
WHERE id = $1 AND ended_at IS NULL AND expires_at > now() FOR UPDATE`, id).Scan(&sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoSession
		} else if err != nil {
			return fmt.Errorf("identity: lock a session: %w", err)
		}
		data, err := s.keys.Open(sealed, sessionContext(id))
		if err != nil {
			return err
		}
		next, err := fn(data)
		if err != nil || next == nil {
			out = data
			return err
		}
		if sealed, err = s.keys.Seal(next, sessionContext(id)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dashboard_sessions SET data_sealed = $2 WHERE id = $1`, id, sealed); err != nil {
			return fmt.Errorf("identity: renew a session: %w", err)
		}
		out = next
		return nil
	})
	return out, err
}

// End ends token's session.
func (s *Sessions) End(ctx context.Context, token string) error {
	_, err := s.db.Writer().Exec(ctx, `UPDATE dashboard_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL`, sessionID(token))
	return err
}

// EndAll ends every session of subject, and returns how many were open.
func (s *Sessions) EndAll(ctx context.Context, subject string) (int, error) {
	tag, err := s.db.Writer().Exec(ctx, `UPDATE dashboard_sessions SET ended_at = now()
WHERE subject = $1 AND ended_at IS NULL AND expires_at > now()`, subject)
	return int(tag.RowsAffected()), err
}
