package pki

import (
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// CertificateRenewed is the payload of device.certificate_renewed: a
// device's identity certificate was renewed (Windows WSTEP renewal).
type CertificateRenewed struct {
	Platform string    `json:"platform" enum:"apple,windows"`
	Serial   string    `json:"serial" doc:"The new certificate's serial number."`
	Renews   string    `json:"renews" doc:"The serial number of the certificate it replaces."`
	NotAfter time.Time `json:"not_after"`
}

// RenewalQueued is the payload of device.identity_renewal_queued: a new
// enrollment profile was queued to a device whose identity expires soon
// (Apple).
type RenewalQueued struct {
	Platform  string    `json:"platform" enum:"apple"`
	CommandID uuid.UUID `json:"command_id"`
	ExpiresAt time.Time `json:"expires_at" doc:"When the current identity expires."`
}

// CertificatesRevoked is the payload of device.certificates_revoked.
type CertificatesRevoked struct {
	Revoked int `json:"revoked" doc:"How many of the device's certificates were revoked."`
}

// The device identities' event kinds.
const (
	EventCertificateRenewed  = "device.certificate_renewed"
	EventRenewalQueued       = "device.identity_renewal_queued"
	EventCertificatesRevoked = "device.certificates_revoked"
)

func init() {
	events.Declare(
		events.Kind{Name: EventCertificateRenewed, Summary: "A device renewed its identity certificate.", Payload: CertificateRenewed{}},
		events.Kind{Name: EventRenewalQueued, Summary: "A device's identity expires soon: its renewal was queued.", Payload: RenewalQueued{}},
		events.Kind{Name: EventCertificatesRevoked, Summary: "An admin revoked a device's identity certificates: it can no longer check in.", Payload: CertificatesRevoked{}},
	)
}
