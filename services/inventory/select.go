package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// Selection picks a tenant's devices for work done in batches, in id
// order: for the services that act on many devices (a bulk command, a
// fleet's re-evaluation, an Android policy's devices) and ask the
// inventory rather than read its tables.
type Selection struct {
	Platform Platform    // "": every platform
	Enrolled bool        // only enrolled devices; otherwise every device not unenrolled
	Devices  []uuid.UUID // nil: any device
	Group    uuid.UUID   // uuid.Nil: in a group or not
	// ExceptGroups skips the devices in any of these groups.
	ExceptGroups []uuid.UUID
	// Except skips the devices whose fact Except.Key is the string
	// Except.Value (a missing fact is "").
	Except *Fact
	After  uuid.UUID // ids after this one
	Limit  int       // at most this many; 0: all
}

// Fact is one of a device's facts, as text.
type Fact struct{ Key, Value string }

// Selected is a device a Selection picked.
type Selected struct {
	ID         uuid.UUID
	Identifier string // the platform's id of the device
}

// SelectTx returns the devices s picks, in tx, for another service's use
// case that holds the transaction.
func (inv *Inventory) SelectTx(ctx context.Context, tx pgx.Tx, s Selection) ([]Selected, error) {
	var except, exceptValue *string
	if s.Except != nil {
		except, exceptValue = &s.Except.Key, &s.Except.Value
	}
	limit := &s.Limit
	if s.Limit <= 0 {
		limit = nil
	}
	rows, _ := tx.Query(ctx, `SELECT id, identifier FROM devices d
WHERE d.id > $1 AND ($2 = '' OR d.platform = $2)
  AND CASE WHEN $3 THEN d.status = 'enrolled' ELSE d.status <> 'unenrolled' END
  AND (coalesce(cardinality($4::uuid[]), 0) = 0 OR d.id = ANY($4))
  AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM device_group_members m WHERE m.tenant_id = d.tenant_id
       AND m.device_id = d.id AND m.group_id = $5))
  AND ($6::text IS NULL OR coalesce(d.facts->>$6, '') <> $7)
  AND (coalesce(cardinality($9::uuid[]), 0) = 0 OR NOT EXISTS (SELECT 1 FROM device_group_members m WHERE m.tenant_id = d.tenant_id
       AND m.device_id = d.id AND m.group_id = ANY($9)))
ORDER BY d.id LIMIT $8`, s.After, string(s.Platform), s.Enrolled, s.Devices, uuid.NullUUID{UUID: s.Group, Valid: s.Group != uuid.Nil},
		except, exceptValue, limit, s.ExceptGroups)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Selected])
	if err != nil {
		return nil, fmt.Errorf("inventory: select devices: %w", err)
	}
	return out, nil
}

// LockTx returns device id and locks it until tx ends: for a use case
// that must see each change to the device once (a compliance evaluation
// waits for the one before it).
func (inv *Inventory) LockTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Device, error) {
	d, err := scanDevice(tx.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, fmt.Errorf("device %s: %w", id, tenancy.ErrNotFound)
	}
	return d, err
}

// LockFactTx returns the fact key of the device with identifier, as text
// ("" when the device or the fact is missing), and locks the device until
// tx ends: for a platform's service that applies reports in order and
// keeps the last one's time among the facts.
func (inv *Inventory) LockFactTx(ctx context.Context, tx pgx.Tx, p Platform, identifier, key string) (string, error) {
	var v *string
	err := tx.QueryRow(ctx, `SELECT facts->>$3 FROM devices WHERE platform = $1 AND identifier = $2 FOR UPDATE`,
		p, identifier, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) || v == nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("inventory: %w", err)
	}
	return *v, nil
}
