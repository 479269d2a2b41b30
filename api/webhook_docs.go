package api

import (
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
)

// payloadTwins are the event payloads that are also API records: a
// webhook documents the API's type (with its descriptions, and one schema
// of the name), which has the service's JSON field for field (the
// conversion in the handler proves it).
var payloadTwins = map[reflect.Type]reflect.Type{
	reflect.TypeOf(compliance.Rule{}):     reflect.TypeOf(Rule{}),
	reflect.TypeOf(audit.Entry{}):         reflect.TypeOf(Entry{}),
	reflect.TypeOf(identity.Delegation{}): reflect.TypeOf(AccessGrant{}),
}

// webhookDocs documents every declared event kind as an OpenAPI 3.1
// webhook: the POST Trident makes to a subscribed endpoint, with the
// delivery's envelope and the kind's payload schema. The catalogue is the
// services' (events.Declare), so a new kind is documented when it is
// declared, and Publish refuses one that is not.
func (a *API) webhookDocs() {
	doc := a.huma.OpenAPI()
	if doc.Webhooks == nil {
		doc.Webhooks = map[string]*huma.PathItem{}
	}
	reg := doc.Components.Schemas
	header := func(name, desc string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: desc, Schema: &huma.Schema{Type: huma.TypeString}}
	}
	for _, k := range events.Kinds() {
		payload := &huma.Schema{Type: huma.TypeObject, Description: "Empty: the subject says what it happened to."}
		if k.Payload != nil {
			t := reflect.TypeOf(k.Payload)
			if twin, ok := payloadTwins[t]; ok {
				t = twin
			}
			payload = reg.Schema(t, true, "")
		}
		uuid := &huma.Schema{Type: huma.TypeString, Format: "uuid"}
		envelope := &huma.Schema{Type: huma.TypeObject, Required: []string{"delivery_id", "tenant_id", "event"},
			Properties: map[string]*huma.Schema{
				"delivery_id": {Type: huma.TypeString, Format: "uuid", Description: "The same on every retry: de-duplicate on it."},
				"tenant_id":   uuid,
				"event": {Type: huma.TypeObject, Required: []string{"id", "tenant_id", "kind", "subject", "payload", "created_at"},
					Properties: map[string]*huma.Schema{
						"id":         {Type: huma.TypeInteger, Format: "int64", Description: "The event's id, increasing within the tenant."},
						"tenant_id":  uuid,
						"kind":       {Type: huma.TypeString, Enum: []any{k.Name}},
						"subject":    {Type: huma.TypeString, Description: "What it happened to: a device's, command's or token's id, a hostname."},
						"payload":    payload,
						"created_at": {Type: huma.TypeString, Format: "date-time"},
					}},
			}}
		doc.Webhooks[k.Name] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "webhook-" + k.Name, Summary: k.Summary, Tags: []string{"Webhooks"},
			Description: "Sent to every active webhook of the tenant that subscribes to " + k.Name +
				" (the kind, a prefix of it ending in '.', or '*'). See docs/api.md, \"Events, live streams and webhooks\".",
			Parameters: []*huma.Param{
				header("Trident-Event", "The event's kind."),
				header("Trident-Delivery", "The delivery's id, the same on every retry."),
				header("Trident-Signature", "t=<unix seconds>,v1=<hex>: HMAC-SHA256 with the webhook's secret over \"<t>.<body>\"."),
			},
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: envelope}}},
			Responses: map[string]*huma.Response{
				"2XX": {Description: "Delivered. Any other answer (or none within 15 seconds) is retried with backoff for about a day."},
			},
		}}
	}
}
