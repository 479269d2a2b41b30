package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// ErrDeviceLimit is an enrollment past the tenant's device limit. The
// enrollment endpoints answer it in their platform's words (a Windows
// DeviceCapReached fault, an Apple check-in's 403); errors.Is finds it
// under the fault.
var ErrDeviceLimit = errors.New("inventory: the tenant's device limit is reached")

func limitReached(limit int) error {
	return &fault.Error{Code: fault.Conflict, Err: ErrDeviceLimit, Message: fmt.Sprintf(
		"the organization's device limit is reached (%d enrolled devices): unenroll a device, or ask the service provider to raise the limit", limit)}
}

// Limit is a tenant's device limit and how much of it is used.
type Limit struct {
	Limit    *int `json:"limit"` // nil: none
	Enrolled int  `json:"enrolled"`
}

// Near reports whether the tenant is at or above share (0..1) of its
// limit.
func (l Limit) Near(share float64) bool {
	return l.Limit != nil && float64(l.Enrolled) >= share*float64(*l.Limit)
}

// DeviceLimit is the tenant in ctx's limit and its enrolled devices.
func (inv *Inventory) DeviceLimit(ctx context.Context) (Limit, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (Limit, error) {
		var l Limit
		err := tx.QueryRow(ctx, `SELECT (SELECT device_limit FROM device_limits), (SELECT count(*) FROM devices WHERE status = 'enrolled')::int`).
			Scan(&l.Limit, &l.Enrolled)
		return l, err
	})
}

// SetDeviceLimit sets (nil: removes) the limit of tenant t, in ctx. A
// limit below the devices enrolled now refuses new ones and leaves those
// enrolled as they are.
func (inv *Inventory) SetDeviceLimit(ctx context.Context, t tenancy.Tenant, limit *int) (Limit, error) {
	if limit != nil && (*limit < 0 || *limit > 10_000_000) {
		return Limit{}, fault.InvalidField("limit", "must be 0 to 10,000,000 devices, or null for none")
	}
	if _, err := tenancy.Write(ctx, inv.db, func(tx pgx.Tx) (struct{}, error) {
		var err error
		if limit == nil {
			_, err = tx.Exec(ctx, `DELETE FROM device_limits`)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO device_limits (msp_id, device_limit) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET device_limit = $2, updated_at = now()`, t.MSPID, *limit)
		}
		return struct{}{}, err
	}); err != nil {
		return Limit{}, fmt.Errorf("inventory: set the device limit: %w", err)
	}
	return inv.DeviceLimit(ctx)
}

// CheckLimitTx refuses, with ErrDeviceLimit, a device that would enroll
// past the tenant's limit: one not enrolled now, when the enrolled
// devices fill the limit. It takes the tenant's limit lock, so
// enrollments that race are counted one after the other.
func (inv *Inventory) CheckLimitTx(ctx context.Context, tx pgx.Tx, p Platform, identifier string) error {
	var limit *int
	var enrolled int
	var this bool
	err := tx.QueryRow(ctx, `SELECT device_limit FROM device_limits`).Scan(&limit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // no limit
	}
	if err == nil {
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('device_limit:' || current_tenant()::text, 0))`)
	}
	if err != nil {
		return fmt.Errorf("inventory: the device limit: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM devices WHERE status = 'enrolled')::int,
  EXISTS (SELECT 1 FROM devices WHERE platform = $1 AND identifier = $2 AND status = 'enrolled')`, p, identifier).Scan(&enrolled, &this); err != nil {
		return fmt.Errorf("inventory: count the enrolled devices: %w", err)
	}
	if !this && enrolled >= *limit {
		return limitReached(*limit)
	}
	return nil
}
