// Package push wakes devices so they contact Trident: Apple devices through
// APNs with the tenant's MDM push certificate (sideshow/apns2). Windows
// devices poll on their schedule; Android devices are reached through the
// Android Management API.
//
// Pushes are sent by the commands' delivery jobs (commands.DeliverArgs),
// enqueued in the transaction that queued the command, so a command is
// never left without its wake-up, and a failed push is tried again.
package push

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/sideshow/apns2"
	"golang.org/x/net/http2"

	"github.com/tridentmdm/trident/tenancy"
)

// AppleSources is where pushes find their targets and certificates:
// Trident's nanomdm storage, for the tenant in the context.
type AppleSources interface {
	RetrievePushInfo(ctx context.Context, ids []string) (map[string]*mdm.Push, error)
	RetrievePushCert(ctx context.Context, topic string) (*tls.Certificate, string, error)
	IsPushCertStale(ctx context.Context, topic, staleToken string) (bool, error)
}

// ErrPermanent marks a push APNs refused for good (the token is
// unregistered, the certificate is wrong for the topic): retrying will not
// help.
var ErrPermanent = errors.New("APNs refused the push for good")

// permanent are APNs reasons that retrying cannot fix.
var permanent = map[string]bool{
	apns2.ReasonBadDeviceToken: true, apns2.ReasonDeviceTokenNotForTopic: true, apns2.ReasonUnregistered: true,
	apns2.ReasonTopicDisallowed: true, apns2.ReasonBadCertificate: true, apns2.ReasonBadCertificateEnvironment: true,
	apns2.ReasonBadTopic: true, apns2.ReasonMissingTopic: true, apns2.ReasonForbidden: true, apns2.ReasonExpiredToken: true,
	apns2.ReasonMissingDeviceToken: true, apns2.ReasonPayloadTooLarge: true, apns2.ReasonBadPath: true,
}

// APNs pushes Apple devices. Clients are kept per tenant and topic, and
// rebuilt when the tenant's push certificate changes.
type APNs struct {
	src  AppleSources
	host string
	// tls adjusts the client TLS configuration (tests trust their local
	// APNs server with it).
	tls func(*tls.Config)

	mu      sync.Mutex
	clients map[string]*client
}

type client struct {
	c     *apns2.Client
	stale string
}

// Option tunes APNs.
type Option func(*APNs)

// WithHost sends pushes to host instead of Apple's production APNs: for
// tests against a local server speaking the APNs protocol.
func WithHost(host string, tlsConfig func(*tls.Config)) Option {
	return func(a *APNs) { a.host, a.tls = host, tlsConfig }
}

// NewAPNs returns the Apple pusher. It talks to Apple's production APNs
// (MDM pushes always do) unless WithHost says otherwise.
func NewAPNs(src AppleSources, opts ...Option) *APNs {
	a := &APNs{src: src, host: apns2.HostProduction, clients: map[string]*client{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Push wakes the enrollments ids of the tenant in ctx. It returns an error
// per enrollment that could not be pushed, wrapping ErrPermanent when
// retrying is pointless; enrollments Trident knows no push details for
// are skipped (they have not finished enrolling).
func (a *APNs) Push(ctx context.Context, ids []string) (map[string]error, error) {
	tenant, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	infos, err := a.src.RetrievePushInfo(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	failed := map[string]error{}
	for id, info := range infos {
		c, err := a.client(ctx, tenant, info.Topic)
		if err != nil {
			failed[id] = err
			continue
		}
		// An MDM push carries only the PushMagic the device gave us
		// (Apple's "Sending MDM commands to a device").
		payload, _ := json.Marshal(map[string]string{"mdm": info.PushMagic})
		n := &apns2.Notification{
			DeviceToken: info.Token.String(),
			Topic:       info.Topic,
			Payload:     payload,
			Priority:    apns2.PriorityHigh,
			PushType:    apns2.PushTypeMDM,
			Expiration:  time.Now().Add(24 * time.Hour),
		}
		resp, err := c.PushWithContext(ctx, n)
		switch {
		case err != nil:
			failed[id] = fmt.Errorf("push %s: %w", id, err)
		case resp.Sent():
		case permanent[resp.Reason]:
			failed[id] = fmt.Errorf("push %s: %w: %d %s", id, ErrPermanent, resp.StatusCode, resp.Reason)
		default:
			failed[id] = fmt.Errorf("push %s: APNs answered %d %s", id, resp.StatusCode, resp.Reason)
		}
	}
	return failed, nil
}

// client returns the APNs client for the tenant's topic, rebuilding it
// when the tenant uploaded a new certificate.
func (a *APNs) client(ctx context.Context, tenant uuid.UUID, topic string) (*apns2.Client, error) {
	key := tenant.String() + "/" + topic
	a.mu.Lock()
	cached := a.clients[key]
	a.mu.Unlock()
	if cached != nil {
		stale, err := a.src.IsPushCertStale(ctx, topic, cached.stale)
		if err == nil && !stale {
			return cached.c, nil
		}
	}
	cert, staleToken, err := a.src.RetrievePushCert(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("push: the tenant's push certificate for %s: %w", topic, err)
	}
	c := apns2.NewClient(*cert)
	c.Host = a.host
	if a.tls != nil {
		if tr, ok := c.HTTPClient.Transport.(*http2.Transport); ok {
			a.tls(tr.TLSClientConfig)
		}
	}
	a.mu.Lock()
	if old := a.clients[key]; old != nil {
		old.c.CloseIdleConnections()
	}
	a.clients[key] = &client{c: c, stale: staleToken}
	a.mu.Unlock()
	return c, nil
}
