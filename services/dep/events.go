package dep

import (
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// TokenUploaded is the payload of dep.token_uploaded.
type TokenUploaded struct {
	TokenID uuid.UUID `json:"token_id"`
	Status  string    `json:"status" doc:"The token's status after the upload."`
}

// TokenStatusChanged is the payload of dep.token_status_changed.
type TokenStatusChanged struct {
	TokenID  uuid.UUID `json:"token_id"`
	Status   string    `json:"status"`
	Previous string    `json:"previous"`
	Detail   string    `json:"detail" doc:"Why, and what an admin does about it."`
}

// DevicesSynced is the payload of dep.devices_synced: one page of ABM's
// device changes, by serial number.
type DevicesSynced struct {
	TokenID   uuid.UUID `json:"token_id"`
	Added     []string  `json:"added"`
	Modified  []string  `json:"modified"`
	Removed   []string  `json:"removed"`
	Assigning []string  `json:"assigning" doc:"New devices whose ADE profile is being assigned."`
}

// ProfileAssignment is the payload of dep.profile_assignment: Apple's
// answer to one profile assignment, by serial number.
type ProfileAssignment struct {
	TokenID          uuid.UUID `json:"token_id"`
	ProfileID        uuid.UUID `json:"profile_id"`
	AppleProfileUUID string    `json:"apple_profile_uuid"`
	Assigned         []string  `json:"assigned"`
	Failed           []string  `json:"failed"`
	NotAccessible    []string  `json:"not_accessible"`
}

// DeviceEnrolling is the payload of dep.device_enrolling: an ABM device
// fetched its enrollment profile in Setup Assistant; the subject is its
// serial number.
type DeviceEnrolling struct {
	SerialNumber string    `json:"serial_number"`
	UDID         string    `json:"udid"`
	TokenID      uuid.UUID `json:"token_id"`
}

func init() {
	events.Declare(
		events.Kind{Name: EventTokenUploaded, Summary: "An ABM server token was uploaded (or replaced).", Payload: TokenUploaded{}},
		events.Kind{Name: EventTokenStatus, Summary: "An ABM token's status changed (expiring, expired, terms not signed, rejected, active).", Payload: TokenStatusChanged{}},
		events.Kind{Name: EventDevicesSynced, Summary: "A sync with ABM added, changed or removed devices.", Payload: DevicesSynced{}},
		events.Kind{Name: EventProfileAssign, Summary: "Apple answered an ADE profile assignment.", Payload: ProfileAssignment{}},
		events.Kind{Name: EventDeviceEnrolling, Summary: "An ABM device asked for its enrollment profile during Setup Assistant.", Payload: DeviceEnrolling{}},
	)
}
