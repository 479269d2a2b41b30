package inventory

import "github.com/tridentmdm/trident/services/events"

// DeviceSummary is the payload of device.enrolled and device.updated.
type DeviceSummary struct {
	Platform     Platform `json:"platform" enum:"apple,windows,android"`
	Name         string   `json:"name"`
	SerialNumber string   `json:"serial_number"`
	Model        string   `json:"model"`
	OSVersion    string   `json:"os_version"`
	Status       Status   `json:"status" enum:"pending,enrolled,unenrolled"`
}

// GroupCreated is the payload of group.created.
type GroupCreated struct {
	Name string `json:"name"`
}

// GroupMembers is the payload of group.members_added and
// group.members_removed.
type GroupMembers struct {
	Count int `json:"count" doc:"How many devices joined or left."`
}

// The inventory's event kinds.
const (
	EventDeviceEnrolled = "device.enrolled"
	EventDeviceUpdated  = "device.updated"
	EventDeviceReported = "device.reported"
	EventGroupCreated   = "group.created"
	EventGroupDeleted   = "group.deleted"
	EventMembersAdded   = "group.members_added"
	EventMembersRemoved = "group.members_removed"
)

func init() {
	events.Declare(
		events.Kind{Name: EventDeviceEnrolled, Summary: "A device enrolled (or enrolled again); the subject is its id.", Payload: DeviceSummary{}},
		events.Kind{Name: EventDeviceUpdated, Summary: "A device's name, model, OS version or status changed.", Payload: DeviceSummary{}},
		events.Kind{Name: EventDeviceReported, Summary: "A device reported its facts with nothing to summarize changed.", Payload: nil},
		events.Kind{Name: EventGroupCreated, Summary: "A device group was created; the subject is its id.", Payload: GroupCreated{}},
		events.Kind{Name: EventGroupDeleted, Summary: "A device group was deleted.", Payload: nil},
		events.Kind{Name: EventMembersAdded, Summary: "Devices joined a group.", Payload: GroupMembers{}},
		events.Kind{Name: EventMembersRemoved, Summary: "Devices left a group.", Payload: GroupMembers{}},
	)
}
