package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
)

// Webhook is a webhook endpoint as the API shows it.
type Webhook struct {
	ID          uuid.UUID `json:"id"`
	URL         string    `json:"url"`
	EventKinds  []string  `json:"event_kinds" doc:"Kinds delivered: an exact kind (device.enrolled), a prefix ending in '.' (device.), or '*'."`
	Description string    `json:"description"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Secret      string    `json:"secret,omitempty" doc:"The signing secret; shown only in the answer that creates the webhook. Deliveries carry Trident-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + '.' + body)>."`
}

func webhookOf(e events.Endpoint) Webhook {
	return Webhook{ID: e.ID, URL: e.URL, EventKinds: e.EventKinds, Description: e.Description, Active: e.Active,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

type webhookOutput struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answer replays an earlier request with the same Idempotency-Key."`
	Body     Webhook
}

type webhookBody struct {
	URL         string   `json:"url" minLength:"1" maxLength:"2000" format:"uri" doc:"https:// URL that receives POSTs."`
	EventKinds  []string `json:"event_kinds" minItems:"1" maxItems:"50"`
	Description string   `json:"description,omitempty" maxLength:"500"`
}

type createWebhookInput struct {
	TenantPath
	IdempotencyKey
	Body webhookBody
}

type webhookPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The webhook's id."`
}

// id is the path's webhook id; a malformed one names no webhook.
func (p webhookPath) id() uuid.UUID { return parseID(p.ID) }

type updateWebhookInput struct {
	Tenant  string `path:"tenant" doc:"The tenant's slug."`
	ID      string `path:"id" format:"uuid" doc:"The webhook's id."`
	IfMatch string `header:"If-Match" doc:"The ETag as last read; 412 if the webhook changed since."`
	Body    struct {
		URL         *string  `json:"url,omitempty" minLength:"1" maxLength:"2000" format:"uri"`
		EventKinds  []string `json:"event_kinds,omitempty" minItems:"1" maxItems:"50"`
		Description *string  `json:"description,omitempty" maxLength:"500"`
		Active      *bool    `json:"active,omitempty" doc:"False pauses deliveries; pending ones then fail."`
	}
}

type listWebhooksInput struct {
	TenantPath
	PageParams
}

type listDeliveriesInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The webhook's id."`
	PageParams
}

type deliveryPath struct {
	Tenant   string `path:"tenant" doc:"The tenant's slug."`
	ID       string `path:"id" format:"uuid" doc:"The webhook's id."`
	Delivery string `path:"delivery" format:"uuid" doc:"The delivery's id."`
}

type deliveryOutput struct {
	Body DeliveryWithBody
}

type idCursor struct {
	ID uuid.UUID `json:"i"`
}

type pingOutput struct {
	Body struct {
		EventID int64 `json:"event_id" doc:"The webhook.ping event; its delivery shows in the webhook's deliveries."`
	}
}

func (a *API) webhookRoutes() {
	a.webhookEndpointRoutes()
	a.webhookDeliveryRoutes()
}

// webhookEndpointRoutes registers the tenant's webhook endpoints.
func (a *API) webhookEndpointRoutes() {
	tags := []string{"Webhooks"}
	register(a, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/webhooks", Tags: tags,
		Summary: "List webhooks",
	}, admin, func(ctx context.Context, in *listWebhooksInput) (*struct{ Body Page[Webhook] }, error) {
		var cur idCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		var out []Webhook
		err := a.read(ctx, func(ctx context.Context) error {
			es, err := a.d.Webhooks.List(ctx, cur.ID, in.Limit+1)
			for _, e := range es {
				out = append(out, webhookOf(e))
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Webhook] }{page(out, in.Limit, func(w Webhook) any { return idCursor{ID: w.ID} })}, nil
	})

	register(a, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/webhooks", Tags: tags,
		Summary: "Create a webhook", DefaultStatus: http.StatusCreated,
		Description: "Subscribes a URL to the tenant's events. Deliveries are retried with exponential backoff for about a day " +
			"(14 attempts); each carries Trident-Delivery (stable across retries), Trident-Event and Trident-Signature.",
	}, admin, func(ctx context.Context, in *createWebhookInput) (*webhookOutput, error) {
		out, replayed, err := idempotent(a, ctx, in.Key, in.Body, func(ctx context.Context) (*webhookOutput, error) {
			e, err := a.d.Webhooks.Create(ctx, events.NewEndpoint{URL: in.Body.URL, EventKinds: in.Body.EventKinds, Description: in.Body.Description})
			if err != nil {
				return nil, err
			}
			w := webhookOf(e)
			w.Secret = e.Secret
			return &webhookOutput{ETag: etag(e.UpdatedAt), Location: fmt.Sprintf("/v1/tenants/%s/webhooks/%s", in.Tenant, e.ID), Body: w}, nil
		})
		if err != nil {
			return nil, err
		}
		if replayed {
			out.Replayed = "true"
		}
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/webhooks/{id}", Tags: tags,
		Summary: "Get a webhook",
	}, admin, func(ctx context.Context, in *webhookPath) (*webhookOutput, error) {
		e, err := readValue(a, ctx, func(ctx context.Context) (events.Endpoint, error) { return a.d.Webhooks.Get(ctx, in.id()) })
		if err != nil {
			return nil, err
		}
		return &webhookOutput{ETag: etag(e.UpdatedAt), Body: webhookOf(e)}, nil
	})

	register(a, huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/v1/tenants/{tenant}/webhooks/{id}", Tags: tags,
		Summary: "Update a webhook", Errors: []int{http.StatusPreconditionFailed},
	}, admin, func(ctx context.Context, in *updateWebhookInput) (*webhookOutput, error) {
		since, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		var e events.Endpoint
		err = a.audited(ctx, func(ctx context.Context) error {
			var err error
			e, err = a.d.Webhooks.Update(ctx, parseID(in.ID), events.EndpointUpdate{URL: in.Body.URL, EventKinds: in.Body.EventKinds,
				Description: in.Body.Description, Active: in.Body.Active, IfUpdatedAt: since})
			return err
		})
		if err != nil {
			return nil, err
		}
		return &webhookOutput{ETag: etag(e.UpdatedAt), Body: webhookOf(e)}, nil
	})

	register(a, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/webhooks/{id}", Tags: tags,
		Summary: "Delete a webhook and its delivery history", DefaultStatus: http.StatusNoContent,
	}, admin, func(ctx context.Context, in *webhookPath) (*struct{}, error) {
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.Webhooks.Delete(ctx, in.id()) })
	})

}

// webhookDeliveryRoutes registers a webhook's deliveries and test pings.
func (a *API) webhookDeliveryRoutes() {
	tags := []string{"Webhooks"}
	register(a, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/webhooks/{id}/deliveries", Tags: tags,
		Summary: "List a webhook's deliveries", Description: "Newest first, with each delivery's attempts and last answer.",
	}, admin, func(ctx context.Context, in *listDeliveriesInput) (*struct{ Body Page[Delivery] }, error) {
		var cur idCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		ds, err := readValue(a, ctx, func(ctx context.Context) ([]events.Delivery, error) {
			return a.d.Webhooks.Deliveries(ctx, parseID(in.ID), cur.ID, in.Limit+1)
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Delivery] }{page(convert(ds, deliveryOf), in.Limit, func(d Delivery) any { return idCursor{ID: d.ID} })}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-webhook-delivery", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}", Tags: tags,
		Summary: "Get a delivery with the body it carries", Description: "The body is what the receiver gets; the signature header is made at each attempt.",
	}, admin, func(ctx context.Context, in *deliveryPath) (*deliveryOutput, error) {
		type both struct {
			d events.Delivery
			b events.Body
		}
		got, err := readValue(a, ctx, func(ctx context.Context) (both, error) {
			d, b, err := a.d.Webhooks.Delivery(ctx, parseID(in.ID), parseID(in.Delivery))
			return both{d, b}, err
		})
		if err != nil {
			return nil, err
		}
		body, _ := json.Marshal(got.b)
		return &deliveryOutput{Body: DeliveryWithBody{Delivery: deliveryOf(got.d), Body: body}}, nil
	})

	register(a, huma.Operation{
		OperationID: "redeliver-webhook-delivery", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/redeliver", Tags: tags,
		Summary: "Send a delivery's event again", DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusConflict},
		Description: "A new delivery of the same event, with its own id and attempts; the old one keeps its history. 409 while the webhook is paused.",
	}, admin, func(ctx context.Context, in *deliveryPath) (*struct{ Body Delivery }, error) {
		var d events.Delivery
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			d, err = a.d.Webhooks.Redeliver(ctx, parseID(in.ID), parseID(in.Delivery))
			return err
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Delivery }{deliveryOf(d)}, nil
	})

	register(a, huma.Operation{
		OperationID: "ping-webhook", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/webhooks/{id}/ping", Tags: tags,
		Summary: "Send a test delivery", DefaultStatus: http.StatusAccepted,
	}, admin, func(ctx context.Context, in *webhookPath) (*pingOutput, error) {
		out := &pingOutput{}
		err := a.audited(ctx, func(ctx context.Context) error {
			ev, err := a.d.Webhooks.Ping(ctx, in.id())
			out.Body.EventID = ev.ID
			return err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})
}
