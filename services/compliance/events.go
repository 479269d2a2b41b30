package compliance

import (
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// ResultChanged is the payload of compliance.changed: one rule's result
// for a device (the subject) changed.
type ResultChanged struct {
	RuleID    uuid.UUID `json:"rule_id"`
	Rule      string    `json:"rule" doc:"The rule's name."`
	Compliant bool      `json:"compliant"`
	Detail    string    `json:"detail"`
}

// DeviceCompliance is the payload of device.compliance_changed: the
// device's overall state changed.
type DeviceCompliance struct {
	Compliant bool `json:"compliant"`
}

// Compliance's event kinds.
const (
	EventRuleCreated      = "compliance.rule_created"
	EventRuleUpdated      = "compliance.rule_updated"
	EventRuleDeleted      = "compliance.rule_deleted"
	EventResultChanged    = "compliance.changed"
	EventDeviceCompliance = "device.compliance_changed"
)

func init() {
	events.Declare(
		events.Kind{Name: EventRuleCreated, Summary: "A compliance rule was created; the payload is the rule.", Payload: Rule{}},
		events.Kind{Name: EventRuleUpdated, Summary: "A compliance rule changed; the payload is the rule as it is now.", Payload: Rule{}},
		events.Kind{Name: EventRuleDeleted, Summary: "A compliance rule was deleted; the subject is its id.", Payload: nil},
		events.Kind{Name: EventResultChanged, Summary: "A rule's result for a device changed.", Payload: ResultChanged{}},
		events.Kind{Name: EventDeviceCompliance, Summary: "A device became compliant, or stopped being.", Payload: DeviceCompliance{}},
	)
}
