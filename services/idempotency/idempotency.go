// Package idempotency keeps the keys of requests that create, per tenant
// and per caller, so that a repeated request answers the first answer
// again instead of creating twice (the API's Idempotency-Key header).
//
// A key is claimed in the transaction of the creation it guards: the edge
// runs Do under tenancy.DB.Within, so a concurrent repeat waits for the
// first and then replays its answer, and a failed first attempt leaves the
// key free.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/tenancy"
)

// TTL is how long a key is kept.
const TTL = 24 * time.Hour

// Keys is the tenant's store of idempotency keys.
type Keys struct {
	db   *tenancy.DB
	keys *seal.Keyring
}

// New returns Keys on db. The answers kept for replays are sealed with
// keys: an answer may hold a secret shown once (a webhook's signing
// secret), which must not sit in the clear for a day.
func New(db *tenancy.DB, keys *seal.Keyring) *Keys { return &Keys{db: db, keys: keys} }

// sealed is how a kept answer is stored (the column is jsonb).
type sealed struct {
	Sealed []byte `json:"sealed"`
}

// sealContext binds a kept answer to its tenant, caller and key.
func sealContext(tenant uuid.UUID, r Request) string {
	return "idempotency/" + tenant.String() + "/" + r.Caller + "/" + r.Key
}

// Request names what a key guards: who asked, with which key, for which
// operation on which path, and the request's content.
type Request struct {
	Caller    string
	Key       string
	Operation string
	Path      string
	Body      any
}

func (r Request) hash() []byte {
	body, _ := json.Marshal(r.Body)
	h := sha256.Sum256(append([]byte(r.Operation+"\x00"+r.Path+"\x00"), body...))
	return h[:]
}

// ErrReused is the fault of a key used before with another request (or
// by a request that is still running).
var ErrReused = fault.New(fault.Invalid, "Idempotency-Key was already used with a different request")

// Do runs create at most once per request key: the first call claims the
// key, runs create and keeps its answer (JSON, sealed) with the key; a repeat
// unmarshals the kept answer into out and reports replayed. A key used
// with a different request is refused with ErrReused.
// ctx must be within a tenant transaction of the store's database
// (tenancy.DB.Within), which create's writes join.
func Do[O any](ctx context.Context, k *Keys, r Request, create func(ctx context.Context) (*O, error)) (out *O, replayed bool, err error) {
	hash := r.hash()
	var kept []byte
	claimed := false
	err = k.db.Tx(ctx, func(tx pgx.Tx) error {
		// Forget this tenant's expired keys now and then.
		if hash[0] == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval`, TTL.String()); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO idempotency_keys (caller, key, operation, request_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, caller, key) DO UPDATE
    SET operation = excluded.operation, request_hash = excluded.request_hash, response = NULL, created_at = now()
    WHERE idempotency_keys.created_at < now() - $5::interval`,
			r.Caller, r.Key, r.Operation, hash, TTL.String())
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			claimed = true
			return nil
		}
		// The key is taken: replay, or refuse.
		var op string
		var have []byte
		if err := tx.QueryRow(ctx, `SELECT operation, request_hash, response FROM idempotency_keys
WHERE caller = $1 AND key = $2`, r.Caller, r.Key).Scan(&op, &have, &kept); err != nil {
			return err
		}
		if op != r.Operation || string(have) != string(hash) || kept == nil {
			return ErrReused
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if !claimed {
		answer, err := k.open(ctx, r, kept)
		if err != nil {
			return nil, false, err
		}
		out = new(O)
		if err := json.Unmarshal(answer, out); err != nil {
			return nil, false, err
		}
		return out, true, nil
	}
	if out, err = create(ctx); err != nil {
		return nil, false, err
	}
	resp, err := k.seal(ctx, r, out)
	if err != nil {
		return nil, false, err
	}
	err = k.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET response = $3 WHERE caller = $1 AND key = $2`, r.Caller, r.Key, resp)
		return err
	})
	return out, false, err
}

func (k *Keys) seal(ctx context.Context, r Request, answer any) ([]byte, error) {
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(answer)
	if err != nil {
		return nil, err
	}
	if k.keys == nil {
		return nil, errors.New("idempotency: no key to seal the kept answer with")
	}
	box, err := k.keys.Seal(plain, sealContext(tenant, r))
	if err != nil {
		return nil, err
	}
	return json.Marshal(sealed{Sealed: box})
}

// open returns the answer kept for r. Answers kept before they were
// sealed (at most a day old) are returned as they are.
func (k *Keys) open(ctx context.Context, r Request, kept []byte) ([]byte, error) {
	var s sealed
	if err := json.Unmarshal(kept, &s); err != nil || len(s.Sealed) == 0 {
		return kept, nil
	}
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return nil, err
	}
	if k.keys == nil {
		return nil, errors.New("idempotency: no key to open the kept answer with")
	}
	return k.keys.Open(s.Sealed, sealContext(tenant, r))
}
