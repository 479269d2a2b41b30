package enrollment

import (
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
)

// CheckedIn is the payload of device.checked_in: a Windows management
// session began.
type CheckedIn struct {
	Platform  inventory.Platform `json:"platform" enum:"apple,windows,android"`
	SessionID string             `json:"session_id" doc:"The SyncML session's id."`
}

// FederatedSignIn is the payload of windows.federated_sign_in; the
// subject is the person's subject at the identity provider.
type FederatedSignIn struct {
	Email   string `json:"email"`
	Issuer  string `json:"issuer"`
	TokenID string `json:"token_id" doc:"The enrollment token the sign-in got."`
}

// Enrollment's event kinds.
const (
	EventCheckedIn       = "device.checked_in"
	EventFederatedSignIn = "windows.federated_sign_in"
)

func init() {
	events.Declare(
		events.Kind{Name: EventCheckedIn, Summary: "A Windows device began a management session.", Payload: CheckedIn{}},
		events.Kind{Name: EventFederatedSignIn, Summary: "A person signed in with the tenant's identity provider to enroll a Windows device.", Payload: FederatedSignIn{}},
	)
}
