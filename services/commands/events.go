package commands

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// CommandChanged is the payload of command.<status>: the command as it is after
// the move. The subject is the command's id; secrets are never in it.
type CommandChanged struct {
	DeviceID uuid.UUID       `json:"device_id"`
	Kind     string          `json:"kind"`
	Status   Status          `json:"status" enum:"queued,sent,acknowledged,error,not_now,expired,canceled"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error"`
	Result   json.RawMessage `json:"result" doc:"What the device answered, when it did (null otherwise)."`
}

// EventKind is the event kind of a command's move to status.
func EventKind(status Status) string { return "command." + string(status) }

func init() {
	for _, s := range []struct {
		status Status
		what   string
	}{
		{Queued, "A command was queued for a device."},
		{Sent, "A command went to the device."},
		{Acknowledged, "The device carried a command out."},
		{Error, "The device answered a command with an error, or the platform refused it."},
		{NotNow, "The device could not take a command yet (Apple's NotNow); it is sent again later."},
		{Expired, "A command passed its deadline before the device finished it."},
		{Canceled, "An admin canceled a command before the device took it."},
	} {
		events.Declare(events.Kind{Name: EventKind(s.status), Summary: s.what, Payload: CommandChanged{}})
	}
}
