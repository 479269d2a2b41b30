package compliance

import (
	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/events"
)

// EvaluateArgs is the River job that evaluates one device.
type EvaluateArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	DeviceID uuid.UUID `json:"device_id"`
}

// Kind names the job kind in River.
func (EvaluateArgs) Kind() string { return "compliance.evaluate" }

// EvaluateTenantArgs is the River job that evaluates a tenant's devices in
// batches after its rules changed: each run takes a batch after After and
// enqueues the next.
type EvaluateTenantArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	After    uuid.UUID `json:"after"`
}

// Kind names the job kind in River.
func (EvaluateTenantArgs) Kind() string { return "compliance.evaluate_tenant" }

// BatchSize is how many devices one EvaluateTenantArgs run evaluates.
const BatchSize = 500

// Reaction makes the events that can change a device's compliance cause
// its evaluation, and rule changes the tenant's: for events.WithReaction.
// Every event gets its own evaluation: River's uniqueness also covers a
// running job, so coalescing a burst could skip the report that arrived
// while the previous evaluation was reading the device.
func Reaction(e events.Event) (river.JobArgs, *river.InsertOpts, bool) {
	switch e.Kind {
	case "device.enrolled", "device.updated", "device.reported":
		id, err := uuid.Parse(e.Subject)
		if err != nil {
			return nil, nil, false
		}
		return EvaluateArgs{TenantID: e.TenantID, DeviceID: id}, nil, true
	case "compliance.rule_created", "compliance.rule_updated", "compliance.rule_deleted":
		return EvaluateTenantArgs{TenantID: e.TenantID}, nil, true
	}
	return nil, nil, false
}
