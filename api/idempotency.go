package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"
)

// IdempotencyKey is the header of POSTs that create. Keys are kept per
// tenant and per caller for idempotencyTTL.
type IdempotencyKey struct {
	Key string `header:"Idempotency-Key" maxLength:"200" doc:"Any unique string (a UUID). Repeating the request with the same key answers the first answer again, with Idempotent-Replayed: true, instead of creating twice. Kept for 24 hours."`
}

const idempotencyTTL = 24 * time.Hour

// errReplay rolls back the claim transaction of a repeated request.
var errReplay = errors.New("replay")

// idempotent runs create, which writes in tx, at most once per key: the key
// is claimed in the same transaction as the creation, so a concurrent
// repeat waits for the first and then replays its answer, and a failed
// first attempt leaves the key free. A key reused with a different request
// is refused. Without a key, create just runs.
func idempotent[O any](a *API, ctx context.Context, key string, request any, create func(tx pgx.Tx) (*O, error)) (out *O, replayed bool, err error) {
	if key == "" {
		err = a.tx(ctx, func(tx pgx.Tx) error {
			var err error
			out, err = create(tx)
			return err
		})
		return out, false, err
	}
	c := callFrom(ctx)
	reqJSON, _ := json.Marshal(request)
	hash := sha256.Sum256(append([]byte(c.op.OperationID+"\x00"+c.path+"\x00"), reqJSON...))
	err = a.rawTx(ctx, func(tx pgx.Tx) error {
		// Forget this tenant's expired keys now and then.
		if hash[0] == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval`, idempotencyTTL.String()); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO idempotency_keys (caller, key, operation, request_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, caller, key) DO UPDATE
    SET operation = excluded.operation, request_hash = excluded.request_hash, response = NULL, created_at = now()
    WHERE idempotency_keys.created_at < now() - $5::interval`,
			c.principal.Subject, key, c.op.OperationID, hash[:], idempotencyTTL.String())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // the key is taken: replay, or refuse
			var op string
			var have []byte
			var resp []byte
			if err := tx.QueryRow(ctx, `SELECT operation, request_hash, response FROM idempotency_keys
WHERE caller = $1 AND key = $2`, c.principal.Subject, key).Scan(&op, &have, &resp); err != nil {
				return err
			}
			if op != c.op.OperationID || string(have) != string(hash[:]) || resp == nil {
				return huma.Error422UnprocessableEntity("Idempotency-Key was already used with a different request",
					&huma.ErrorDetail{Location: "header.Idempotency-Key", Message: "use a new key for a new request", Value: key})
			}
			out = new(O)
			if err := json.Unmarshal(resp, out); err != nil {
				return err
			}
			replayed = true
			return errReplay
		}
		if out, err = create(tx); err != nil {
			return err
		}
		resp, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE idempotency_keys SET response = $3 WHERE caller = $1 AND key = $2`,
			c.principal.Subject, key, resp)
		return err
	})
	if replayed {
		return out, true, nil
	}
	return out, false, a.problem(ctx, err)
}
