package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
)

// webhooks lists the tenant's webhooks and makes new ones (admins).
func (d *Dashboard) webhooks(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	d.webhooksPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) webhooksPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	if !d.available(w, r, d.opts.Webhooks != nil, noWebhooks) {
		return
	}
	var list []events.Endpoint
	var health map[uuid.UUID]events.Health
	if err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) (err error) {
		if list, err = d.opts.Webhooks.List(ctx, uuid.Nil, 200); err != nil {
			return err
		}
		health, err = d.opts.Webhooks.Healths(ctx)
		return err
	}); err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard webhooks", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The webhooks cannot be read right now; try again in a moment.")
		return
	}
	if f.Form == nil {
		f.Form = map[string]string{"kinds": "device."}
	}
	d.pageStatus(w, r, code, "webhooks-content", &webhooksView{view: s.view("Webhooks", f), Webhooks: webhookRows(list, health)})
}

func webhookRows(list []events.Endpoint, health map[uuid.UUID]events.Health) []webhookRow {
	out := make([]webhookRow, len(list))
	for i, e := range list {
		out[i] = webhookRow{Endpoint: e, Health: health[e.ID]}
	}
	return out
}

// kindsOf splits a form's event kinds, separated by commas, spaces or
// lines.
func kindsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// createWebhook subscribes a URL to the tenant's events and shows its
// signing secret, once (admins), as the API's create-webhook.
func (d *Dashboard) createWebhook(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok || !d.available(w, r, d.opts.Webhooks != nil, noWebhooks) {
		return
	}
	form := map[string]string{"url": strings.TrimSpace(r.PostFormValue("url")), "kinds": r.PostFormValue("kinds"),
		"description": strings.TrimSpace(r.PostFormValue("description"))}
	sess := sessionFrom(r.Context())
	var e events.Endpoint
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		var err error
		e, err = d.opts.Webhooks.Create(ctx, events.NewEndpoint{URL: form["url"], EventKinds: kindsOf(form["kinds"]), Description: form["description"]})
		if err != nil {
			return err
		}
		return d.record(ctx, sess, "create-webhook", "/v1/tenants/"+s.T.Slug+"/webhooks", http.StatusCreated, map[string]string{"webhook": e.ID.String()})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.webhooksPage(w, r, s, code, flash{Error: msg, Form: form})
		return
	}
	d.webhooksPage(w, r, s, http.StatusCreated, flash{Created: &e})
}

// webhook shows one webhook with its latest deliveries.
func (d *Dashboard) webhook(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	d.webhookPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) webhookPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	id, err := uuid.Parse(r.PathValue("id"))
	if d.opts.Webhooks == nil || err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such webhook in this tenant.")
		return
	}
	live := d.liveURL(s.Ctx, s.T) // before the deliveries: none is missed
	if live != "" {
		live += "&parts=deliveries&webhook=" + id.String()
	}
	var e events.Endpoint
	var ds []events.Delivery
	err = d.db.ReadWithin(s.Ctx, func(ctx context.Context) error {
		var err error
		if e, err = d.opts.Webhooks.Get(ctx, id); err != nil {
			return err
		}
		ds, err = d.opts.Webhooks.Deliveries(ctx, id, uuid.Nil, 50)
		return err
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	v := s.view("Webhook", f)
	v.Crumbs = append([]crumb{{Name: "Webhooks", Link: "/dashboard/t/" + s.T.Slug + "/webhooks"}}, v.Crumbs...)
	d.pageStatus(w, r, code, "webhook-content", &webhookView{view: v, Webhook: e, Deliveries: deliveryRows(s.T.Slug, ds), Live: live})
}

func deliveryRows(slug string, ds []events.Delivery) []deliveryRow {
	rows := make([]deliveryRow, len(ds))
	for i, d := range ds {
		rows[i] = deliveryRow{Delivery: d, Slug: slug}
	}
	return rows
}

// deliveryRowPage answers a delivery's row as it is now: a pending row
// asks for it until the delivery is done.
func (d *Dashboard) deliveryRowPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	endpoint, id, ok := d.deliveryPath(w, r)
	if !ok {
		return
	}
	dl, _, err := d.opts.Webhooks.Delivery(s.Ctx, endpoint, id)
	if err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	d.fragment(w, r, "delivery-row", deliveryRow{Delivery: dl, Slug: s.T.Slug})
}

// deliveriesLive renders endpoint's deliveries of ev for its open pages,
// once for all of them; "" when it has none.
func (d *Dashboard) deliveriesLive(ctx context.Context, slug string, endpoint uuid.UUID, ev events.Event) (string, error) {
	ds, err := d.opts.Webhooks.DeliveriesOf(ctx, endpoint, ev.ID)
	if err != nil || len(ds) == 0 {
		return "", err
	}
	var b bytes.Buffer
	for _, row := range deliveryRows(slug, ds) {
		if err := pages.ExecuteTemplate(&b, "delivery-row", row); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// changeWebhook pauses, resumes, pings or deletes a webhook (admins).
func (d *Dashboard) changeWebhook(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if d.opts.Webhooks == nil || err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such webhook in this tenant.")
		return
	}
	sess := sessionFrom(r.Context())
	target := "/v1/tenants/" + s.T.Slug + "/webhooks/" + id.String()
	action, notice, back := r.PostFormValue("action"), "", target
	if action == "delete" {
		what := "the webhook"
		if e, err := d.opts.Webhooks.Get(s.Ctx, id); err == nil { // the confirmation names it if it can
			what = named(what, "to "+e.URL)
		}
		if !d.confirmed(w, r, s, what, r.URL.Path) {
			return
		}
	}
	err = d.db.Within(s.Ctx, func(ctx context.Context) error {
		switch action {
		case "pause", "resume":
			active := action == "resume"
			if _, err := d.opts.Webhooks.Update(ctx, id, events.EndpointUpdate{Active: &active}); err != nil {
				return err
			}
			notice = map[bool]string{true: "webhook-resumed", false: "webhook-paused"}[active]
			return d.record(ctx, sess, "update-webhook", target, http.StatusOK, map[string]string{"action": action})
		case "ping":
			if _, err := d.opts.Webhooks.Ping(ctx, id); err != nil {
				return err
			}
			notice = "webhook-ping"
			return d.record(ctx, sess, "ping-webhook", target+"/ping", http.StatusAccepted, nil)
		case "delete":
			if err := d.opts.Webhooks.Delete(ctx, id); err != nil {
				return err
			}
			notice, back = "webhook-deleted", ""
			return d.record(ctx, sess, "delete-webhook", target, http.StatusNoContent, nil)
		}
		return &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose to pause, resume, ping or delete the webhook."}
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.webhookPage(w, r, s, code, flash{Error: msg})
		return
	}
	if back == "" {
		done(w, r, "/dashboard/t/"+s.T.Slug+"/webhooks", notice)
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/webhooks/"+id.String(), notice)
}

// deliveryPath is the webhook and the delivery the path names; a path
// that names none answers the 404 page.
func (d *Dashboard) deliveryPath(w http.ResponseWriter, r *http.Request) (endpoint, id uuid.UUID, ok bool) {
	endpoint, err1 := uuid.Parse(r.PathValue("id"))
	id, err2 := uuid.Parse(r.PathValue("delivery"))
	if d.opts.Webhooks == nil || err1 != nil || err2 != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such delivery in this tenant.")
		return uuid.Nil, uuid.Nil, false
	}
	return endpoint, id, true
}

// deliveryBody answers a delivery's body, as its receiver gets it, for
// the webhook page's disclosure (admins).
func (d *Dashboard) deliveryBody(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	endpoint, id, ok := d.deliveryPath(w, r)
	if !ok {
		return
	}
	_, body, err := d.opts.Webhooks.Delivery(s.Ctx, endpoint, id)
	if err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	pretty, _ := json.MarshalIndent(body, "", "  ")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "delivery-body", string(pretty))
}

// redeliver sends a delivery's event to the webhook again, as a new
// delivery (admins), as the API's redeliver-webhook-delivery.
func (d *Dashboard) redeliver(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	endpoint, id, ok := d.deliveryPath(w, r)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	target := "/v1/tenants/" + s.T.Slug + "/webhooks/" + endpoint.String() + "/deliveries/" + id.String() + "/redeliver"
	var again events.Delivery
	err := d.db.Within(s.Ctx, func(ctx context.Context) (err error) {
		if again, err = d.opts.Webhooks.Redeliver(ctx, endpoint, id); err != nil {
			return err
		}
		return d.record(ctx, sess, "redeliver-webhook-delivery", target, http.StatusAccepted, map[string]string{"delivery": again.ID.String()})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.webhookPage(w, r, s, code, flash{Error: msg})
		return
	}
	if r.Header.Get("HX-Request") == "true" { // the row's button: the new delivery's row goes on top
		d.fragment(w, r, "delivery-row", deliveryRow{Delivery: again, Slug: s.T.Slug})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/webhooks/"+endpoint.String(), "webhook-redelivered")
}
