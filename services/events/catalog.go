package events

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/tenancy"
)

// A Kind is an event kind, as its owning service declares it: the name
// webhooks subscribe to, what it means, and the type of its payload. The
// catalogue of kinds is the public contract of events and webhooks: the
// API documents every kind as an OpenAPI webhook, with its payload's
// schema; Publish refuses a kind that is not declared, or a payload of
// another type; a webhook cannot subscribe to an undeclared kind.
type Kind struct {
	Name    string
	Summary string
	// Payload is a zero value of the payload's struct type; nil for a
	// kind without one (its payload is {}).
	Payload any
	// AdminOnly kinds are read by the tenant's admins only: the API's
	// event list and stream leave them out for everyone else (an audit
	// entry says who did what, which the audit log shows admins only).
	// Webhooks, which only admins make, may subscribe to them.
	AdminOnly bool
}

var catalog = struct {
	sync.RWMutex
	kinds map[string]Kind
}{kinds: map[string]Kind{}}

// Declare adds kinds to the catalogue; owning services call it from an
// init function, next to their payload types. It panics on a malformed
// or repeated name, or a payload that is not a struct: both are
// programming errors.
func Declare(kinds ...Kind) {
	catalog.Lock()
	defer catalog.Unlock()
	for _, k := range kinds {
		if !kindRE.MatchString(k.Name) || strings.HasSuffix(k.Name, ".") {
			panic(fmt.Sprintf("events: malformed kind %q", k.Name))
		}
		if _, dup := catalog.kinds[k.Name]; dup {
			panic(fmt.Sprintf("events: kind %q declared twice", k.Name))
		}
		if k.Payload != nil && payloadType(k.Payload).Kind() != reflect.Struct {
			panic(fmt.Sprintf("events: kind %q: its payload must be a struct, not %T", k.Name, k.Payload))
		}
		catalog.kinds[k.Name] = k
	}
}

// Kinds returns the catalogue, by name.
func Kinds() []Kind {
	catalog.RLock()
	defer catalog.RUnlock()
	out := make([]Kind, 0, len(catalog.kinds))
	for _, k := range catalog.kinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Kind) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Declared returns the kind named name.
func Declared(name string) (Kind, bool) {
	catalog.RLock()
	defer catalog.RUnlock()
	k, ok := catalog.kinds[name]
	return k, ok
}

// AdminOnly reports whether kind is read by the tenant's admins only.
func AdminOnly(kind string) bool {
	k, ok := Declared(kind)
	return ok && k.AdminOnly
}

// adminOnlyKinds are the names of the AdminOnly kinds.
func adminOnlyKinds() []string {
	catalog.RLock()
	defer catalog.RUnlock()
	out := []string{} // never NULL in SQL
	for name, k := range catalog.kinds {
		if k.AdminOnly {
			out = append(out, name)
		}
	}
	return out
}

// Subscribable reports whether a webhook's kind pattern (an exact kind, a
// prefix ending in '.', or '*') names at least one declared kind.
func Subscribable(pattern string) bool {
	if pattern == "*" {
		return true
	}
	catalog.RLock()
	defer catalog.RUnlock()
	if !strings.HasSuffix(pattern, ".") {
		_, ok := catalog.kinds[pattern]
		return ok
	}
	for name := range catalog.kinds {
		if strings.HasPrefix(name, pattern) {
			return true
		}
	}
	return false
}

// checkPayload refuses an undeclared kind, or a payload whose type is not
// the declared one.
func checkPayload(kind string, payload any) error {
	k, ok := Declared(kind)
	if !ok {
		return fmt.Errorf("events: %q is not a declared event kind (events.Declare)", kind)
	}
	switch {
	case k.Payload == nil && payload == nil:
		return nil
	case k.Payload == nil || payload == nil:
		return fmt.Errorf("events: %s carries %T, declared %T", kind, payload, k.Payload)
	case payloadType(payload) != payloadType(k.Payload):
		return fmt.Errorf("events: %s carries %T, declared %T", kind, payload, k.Payload)
	}
	return nil
}

func payloadType(v any) reflect.Type {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// The kinds of the tenant directory (tenancy, below the services, cannot
// declare them itself) and of webhooks.
type (
	// TenantChanged is the payload of tenant.created and tenant.updated:
	// the tenant as it is now.
	TenantChanged struct {
		ID        uuid.UUID `json:"id"`
		Slug      string    `json:"slug"`
		Name      string    `json:"name"`
		Status    string    `json:"status" enum:"active,suspended"`
		MSP       string    `json:"msp" doc:"The slug of the MSP the tenant belongs to."`
		CreatedAt time.Time `json:"created_at"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	// HostnameAdded is the payload of tenant.hostname_added.
	HostnameAdded struct {
		Status string `json:"status" enum:"pending,verified" doc:"pending until its DNS TXT record is checked."`
	}
	// WebhookCreated is the payload of webhook.created.
	WebhookCreated struct {
		URL        string   `json:"url"`
		EventKinds []string `json:"event_kinds"`
	}
	// WebhookPing is the payload of webhook.ping.
	WebhookPing struct {
		EndpointID string `json:"endpoint_id"`
	}
)

// TenantPayload is t as tenant.created and tenant.updated carry it.
func TenantPayload(t tenancy.Tenant) TenantChanged {
	return TenantChanged{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: string(t.Status), MSP: t.MSPSlug, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// Kind names of this package's events, for the edges that publish them.
const (
	TenantCreated          = "tenant.created"
	TenantUpdated          = "tenant.updated"
	TenantHostnameAdded    = "tenant.hostname_added"
	TenantHostnameRemoved  = "tenant.hostname_removed"
	TenantHostnameVerified = "tenant.hostname_verified"
	WebhookCreatedKind     = "webhook.created"
	WebhookPingKind        = "webhook.ping"
)

func init() {
	Declare(
		Kind{Name: TenantCreated, Summary: "A tenant was created in the MSP.", Payload: TenantChanged{}},
		Kind{Name: TenantUpdated, Summary: "A tenant's name or status changed.", Payload: TenantChanged{}},
		Kind{Name: TenantHostnameAdded, Summary: "A custom hostname was added; it serves devices once its DNS record proves ownership.", Payload: HostnameAdded{}},
		Kind{Name: TenantHostnameRemoved, Summary: "A custom hostname was removed; the subject is the name."},
		Kind{Name: TenantHostnameVerified, Summary: "A custom hostname's DNS TXT record was found: it serves the tenant's devices now."},
		Kind{Name: WebhookCreatedKind, Summary: "A webhook endpoint was created.", Payload: WebhookCreated{}},
		Kind{Name: WebhookPingKind, Summary: "A test delivery asked for with ping-webhook; it goes to that endpoint only.", Payload: WebhookPing{}},
	)
}
