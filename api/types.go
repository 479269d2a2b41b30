package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
)

// The API's own views of the services' records, with their documentation
// and constraints: a service's type can change without changing the API
// by accident (the OpenAPI document is checked in CI), and the API
// decides what a field is called and says.

// Device is a tenant's device.
type Device struct {
	ID           uuid.UUID          `json:"id"`
	Platform     inventory.Platform `json:"platform" enum:"apple,windows,android"`
	Identifier   string             `json:"identifier" doc:"The platform's own id: Apple's UDID, the Windows device id, the Android Management API device name."`
	SerialNumber string             `json:"serial_number"`
	Name         string             `json:"name"`
	Model        string             `json:"model"`
	OSVersion    string             `json:"os_version"`
	Status       inventory.Status   `json:"status" enum:"pending,enrolled,unenrolled"`
	Facts        json.RawMessage    `json:"facts" doc:"Everything else the device reported, by name."`
	EnrolledAt   *time.Time         `json:"enrolled_at,omitempty"`
	LastSeenAt   *time.Time         `json:"last_seen_at,omitempty"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
}

func deviceOf(d inventory.Device) Device {
	return Device{ID: d.ID, Platform: d.Platform, Identifier: d.Identifier, SerialNumber: d.SerialNumber, Name: d.Name,
		Model: d.Model, OSVersion: d.OSVersion, Status: d.Status, Facts: d.Facts, EnrolledAt: d.EnrolledAt,
		LastSeenAt: d.LastSeenAt, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// Command is one command for one device.
type Command struct {
	ID          uuid.UUID       `json:"id"`
	DeviceID    uuid.UUID       `json:"device_id"`
	Kind        string          `json:"kind"`
	Payload     json.RawMessage `json:"payload" doc:"What the command was queued with; secret fields (see the kind) read \"[redacted]\"."`
	Status      commands.Status `json:"status" enum:"queued,sent,acknowledged,error,not_now,expired,canceled"`
	Attempts    int             `json:"attempts" doc:"How often the command was sent to the device."`
	CreatedBy   string          `json:"created_by"`
	Result      json.RawMessage `json:"result,omitempty" doc:"What the device answered, when it did."`
	Error       string          `json:"error,omitempty"`
	ExpiresAt   time.Time       `json:"expires_at"`
	CreatedAt   time.Time       `json:"created_at"`
	SentAt      *time.Time      `json:"sent_at,omitempty"`
	CompletedAt *time.Time      `json:"completed_at,omitempty"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func commandOf(c commands.Command) Command {
	return Command{ID: c.ID, DeviceID: c.DeviceID, Kind: c.Kind, Payload: c.Payload, Status: c.Status, Attempts: c.Attempts,
		CreatedBy: c.CreatedBy, Result: c.Result, Error: c.Error, ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt,
		SentAt: c.SentAt, CompletedAt: c.CompletedAt, UpdatedAt: c.UpdatedAt}
}

// Group is a named set of a tenant's devices.
type Group struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Devices   int       `json:"devices" doc:"How many devices are in it."`
	CreatedAt time.Time `json:"created_at"`
}

func groupOf(g inventory.Group) Group {
	return Group{ID: g.ID, Name: g.Name, Devices: g.Devices, CreatedAt: g.CreatedAt}
}

// Entry is one entry of a tenant's audit log.
type Entry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor" doc:"The caller's subject (the token's sub)."`
	ActorName string          `json:"actor_name"`
	Action    string          `json:"action" doc:"The API operation, for example create-webhook."`
	Target    string          `json:"target" doc:"The resource's path."`
	RequestID string          `json:"request_id"`
	Status    int             `json:"status" doc:"The HTTP status the call answered."`
	Details   json.RawMessage `json:"details"`
}

func entryOf(e audit.Entry) Entry {
	return Entry{ID: e.ID, At: e.At, Actor: e.Actor, ActorName: e.ActorName, Action: e.Action, Target: e.Target,
		RequestID: e.RequestID, Status: e.Status, Details: e.Details}
}

// Delivery is one event's delivery to one webhook endpoint.
type Delivery struct {
	ID             uuid.UUID  `json:"id"`
	EndpointID     uuid.UUID  `json:"endpoint_id"`
	EventID        int64      `json:"event_id"`
	EventKind      string     `json:"event_kind"`
	Status         string     `json:"status" enum:"pending,delivered,failed"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

func deliveryOf(d events.Delivery) Delivery {
	return Delivery{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventKind: d.EventKind, Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, CreatedAt: d.CreatedAt,
		LastAttemptAt: d.LastAttemptAt, DeliveredAt: d.DeliveredAt}
}

// convert maps f over in; an empty list stays a list (not null).
func convert[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
