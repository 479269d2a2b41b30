package android

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// EnterpriseBound is the payload of android.enterprise_bound.
type EnterpriseBound struct {
	Enterprise string `json:"enterprise" doc:"The enterprise's resource name at Google (enterprises/...)."`
}

// EnterpriseUnbound is the payload of android.enterprise_unbound.
type EnterpriseUnbound struct {
	Enterprise string `json:"enterprise"`
	Devices    int    `json:"devices" doc:"How many devices left management with it."`
}

// PolicyPublished is the payload of android.policy_published.
type PolicyPublished struct {
	PolicyID uuid.UUID `json:"policy_id"`
	Name     string    `json:"name"`
	Version  int64     `json:"version" doc:"The policy's version at Google."`
}

// PubSubNotification is the payload of android.<notification type>: one
// Pub/Sub notification from the Android Management API.
type PubSubNotification struct {
	MessageID string          `json:"message_id" doc:"Pub/Sub's message id."`
	Resource  json.RawMessage `json:"resource" doc:"The notification's resource as Google sent it (a Device, an Operation, ...)."`
}

// Android's event kinds.
const (
	EventEnterpriseBound   = "android.enterprise_bound"
	EventEnterpriseUnbound = "android.enterprise_unbound"
	EventPolicyPublished   = "android.policy_published"
)

// notificationKinds are the Pub/Sub notification types Trident records,
// with what each means.
var notificationKinds = map[string]string{
	"ENROLLMENT":    "A device enrolled with one of the tenant's tokens.",
	"STATUS_REPORT": "A device sent a status report.",
	"COMMAND":       "A command's operation at Google finished.",
	"USAGE_LOGS":    "A device uploaded usage logs.",
}

// NotificationKind is the event kind of a Pub/Sub notification type.
func NotificationKind(typ string) string { return "android." + strings.ToLower(typ) }

func init() {
	events.Declare(
		events.Kind{Name: EventEnterpriseBound, Summary: "The tenant's Android enterprise was bound at Google.", Payload: EnterpriseBound{}},
		events.Kind{Name: EventEnterpriseUnbound, Summary: "The tenant's Android enterprise was deleted: its devices left management.", Payload: EnterpriseUnbound{}},
		events.Kind{Name: EventPolicyPublished, Summary: "A policy was published to Google.", Payload: PolicyPublished{}},
	)
	for typ, what := range notificationKinds {
		events.Declare(events.Kind{Name: NotificationKind(typ), Summary: what, Payload: PubSubNotification{}})
	}
}
