package apple

import (
	"context"
	"errors"
	"fmt"

	"github.com/micromdm/nanomdm/cryptoutil"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
)

// ErrTopicChanged refuses a push certificate whose topic is not the
// tenant's current one unless the admin accepts the change: devices
// enrolled under the old topic get no more pushes and must re-enroll.
// Each edge says how to accept (the API's replace_topic, the dashboard's
// box).
var ErrTopicChanged = errors.New("the certificate's topic is not the tenant's")

// StorePushCert is the use case "upload the tenant's APNs push
// certificate": a renewal (the same topic) replaces the current one
// without re-enrolling devices; another topic needs replaceTopic. keyPEM
// may be empty when the certificate answers a request this server made
// (PushRequests), whose key it kept. A certificate or key that cannot be
// used is Invalid, with what is wrong.
func StorePushCert(ctx context.Context, store *mdmstore.Store, certPEM, keyPEM []byte, replaceTopic bool) error {
	topic, err := cryptoutil.TopicFromPEMCert(certPEM)
	if err != nil {
		return asUnusable(fmt.Errorf("%w: the certificate names no APNs topic (%v)", mdmstore.ErrBadPushCert, err))
	}
	current, err := store.PushCerts(ctx)
	if err != nil {
		return err
	}
	if len(current) > 0 && current[0].Topic != topic && !replaceTopic {
		return &fault.Error{Code: fault.Conflict, Err: ErrTopicChanged, Message: "the certificate's topic " + topic +
			" is not the tenant's " + current[0].Topic + ": devices enrolled under it would get no more pushes. " +
			"Renew the existing certificate in Apple's portal (it keeps the topic), or accept the new topic",
			Fields: []fault.Field{{Name: "replace_topic", Problem: "accepts the new topic; devices enrolled under the old one must re-enroll"}}}
	}
	if len(keyPEM) == 0 {
		if keyPEM, err = store.PendingPushKey(ctx, certPEM); err != nil {
			return asUnusable(err)
		}
	}
	return asUnusable(store.StorePushCert(ctx, certPEM, keyPEM))
}

// asUnusable makes the store's refusal of a certificate or key Invalid.
func asUnusable(err error) error {
	if errors.Is(err, mdmstore.ErrBadPushCert) {
		return &fault.Error{Code: fault.Invalid, Message: err.Error(), Err: err}
	}
	return err
}
