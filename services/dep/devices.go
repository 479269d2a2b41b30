package dep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/tenancy"
)

// Device is a device Apple assigned to one of the tenant's ABM servers.
type Device struct {
	SerialNumber     string     `json:"serial_number"`
	TokenID          uuid.UUID  `json:"token_id"`
	Model            string     `json:"model"`
	Description      string     `json:"description,omitempty"`
	Color            string     `json:"color,omitempty"`
	DeviceFamily     string     `json:"device_family,omitempty"`
	OS               string     `json:"os,omitempty"`
	AssetTag         string     `json:"asset_tag,omitempty"`
	AssignedBy       string     `json:"assigned_by,omitempty"` // Who assigned the device to the MDM server in ABM.
	AssignedAt       *time.Time `json:"assigned_at,omitempty"`
	ProfileStatus    string     `json:"profile_status"` // Apple's: empty, assigned, pushed or removed.
	AppleProfileUUID string     `json:"apple_profile_uuid,omitempty"`
	AssignProfileID  *uuid.UUID `json:"assign_profile_id,omitempty"` // The ADE profile Trident assigns it.
	AssignStatus     string     `json:"assign_status"`               // one of none, pending, assigned, failed, not_accessible
	AssignError      string     `json:"assign_error,omitempty"`
	EnrolledAt       *time.Time `json:"enrolled_at,omitempty"` // When it last asked the ADE endpoint for its enrollment profile.
	AddedAt          time.Time  `json:"added_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

const deviceCols = `serial_number, token_id, model, description, color, device_family, os, asset_tag, assigned_by, assigned_at,
profile_status, apple_profile_uuid, assign_profile_id, assign_status, assign_error, enrolled_at, added_at, updated_at`

func scanDevice(r pgx.Row) (Device, error) {
	var d Device
	err := r.Scan(&d.SerialNumber, &d.TokenID, &d.Model, &d.Description, &d.Color, &d.DeviceFamily, &d.OS, &d.AssetTag,
		&d.AssignedBy, &d.AssignedAt, &d.ProfileStatus, &d.AppleProfileUUID, &d.AssignProfileID, &d.AssignStatus,
		&d.AssignError, &d.EnrolledAt, &d.AddedAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("ABM device: %w", tenancy.ErrNotFound)
	}
	return d, err
}

// DeviceQuery selects devices: of one token (uuid.Nil: all), after a
// serial number, at most Limit.
type DeviceQuery struct {
	Token uuid.UUID
	After string
	Limit int
}

// Devices lists the tenant's ABM devices by serial number.
func (s *Service) Devices(ctx context.Context, q DeviceQuery) ([]Device, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]Device, error) { return s.devicesTx(ctx, tx, q) })
}

func (s *Service) devicesTx(ctx context.Context, tx pgx.Tx, q DeviceQuery) ([]Device, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	rows, err := tx.Query(ctx, `SELECT `+deviceCols+` FROM dep_devices
WHERE ($1 = '00000000-0000-0000-0000-000000000000'::uuid OR token_id = $1) AND serial_number > $2
ORDER BY serial_number LIMIT $3`, q.Token, q.After, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Device reads one device.
func (s *Service) Device(ctx context.Context, serial string) (Device, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (Device, error) { return s.deviceTx(ctx, tx, serial) })
}

func (s *Service) deviceTx(ctx context.Context, tx pgx.Tx, serial string) (Device, error) {
	return scanDevice(tx.QueryRow(ctx, `SELECT `+deviceCols+` FROM dep_devices WHERE serial_number = $1`, serial))
}

// ErrNotADEDevice refuses an ADE enrollment from a device the tenant's
// ABM servers do not have.
var ErrNotADEDevice = errors.New("this device is not assigned to this organization's MDM server in Apple Business Manager")

// Enrolling records that serial asked for its ADE enrollment profile; it
// returns ErrNotADEDevice when the tenant has no such ABM device.
func (s *Service) Enrolling(ctx context.Context, serial, udid string) (Device, error) {
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (Device, error) { return s.enrollingTx(ctx, tx, serial, udid) })
}

func (s *Service) enrollingTx(ctx context.Context, tx pgx.Tx, serial, udid string) (Device, error) {
	d, err := scanDevice(tx.QueryRow(ctx, `UPDATE dep_devices SET enrolled_at = now(), updated_at = now()
WHERE serial_number = $1 RETURNING `+deviceCols, serial))
	if errors.Is(err, tenancy.ErrNotFound) {
		return d, ErrNotADEDevice
	}
	if err != nil {
		return d, err
	}
	_, err = s.pub.Publish(ctx, tx, EventDeviceEnrolling, serial, DeviceEnrolling{SerialNumber: serial, UDID: udid, TokenID: d.TokenID})
	return d, err
}
