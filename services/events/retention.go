package events

import "github.com/google/uuid"

// RetentionArgs is the River job that deletes one tenant's events older
// than the configured retention. A periodic sweep enqueues one per tenant.
type RetentionArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind names the job kind in River.
func (RetentionArgs) Kind() string { return "events.retention" }
