package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/logctx"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// UserError is the dashboard's own refusal of a form (a file too large, a
// choice not made), with the status to answer. Services' errors are
// faults, mapped by problem.
type UserError struct {
	Status  int
	Message string
}

func (e *UserError) Error() string { return e.Message }

// problem turns a failed action's error into a status and a sentence for
// the person: the one place where faults become form messages, by their
// code. Errors without a fault are logged and answered without their text.
func (d *Dashboard) problem(r *http.Request, err error) (int, string) {
	var uerr *UserError
	switch {
	case errors.As(err, &uerr):
		return uerr.Status, uerr.Message
	case errors.Is(err, context.Canceled):
		return 499, "The request was cancelled."
	}
	f, ok := fault.As(err)
	if !ok {
		f = &fault.Error{} // no code: unexpected, logged below
	}
	switch f.Code {
	case fault.NotFound:
		return http.StatusNotFound, "It is not there any more: reload the page."
	case fault.Conflict:
		return http.StatusConflict, sentence(err.Error())
	case fault.Stale:
		return http.StatusConflict, "Someone changed it since this page loaded: reload the page and try again."
	case fault.Invalid:
		return http.StatusUnprocessableEntity, sentence(strings.ReplaceAll(err.Error(), "\n", "; "))
	case fault.Forbidden:
		return http.StatusForbidden, sentence(err.Error())
	case fault.Upstream:
		return http.StatusBadGateway, sentence(f.Message)
	case fault.Unavailable:
		return http.StatusServiceUnavailable, sentence(f.Message)
	case fault.Unsupported:
		return http.StatusNotImplemented, sentence(f.Message)
	}
	d.log.ErrorContext(r.Context(), "dashboard action failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "That did not work because of an error on the server; it is logged. Try again in a moment."
}

// sentence makes a service's message a sentence.
func sentence(s string) string { return capitalize(s) + "." }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// scope is a tenant page's tenant, the person's role in it, and a context
// in the tenant.
type scope struct {
	T    tenancy.Tenant
	Role identity.Role
	Ctx  context.Context
}

// scoped resolves the path's tenant for a person of at least role min;
// otherwise it answers the 404 page.
func (d *Dashboard) scoped(w http.ResponseWriter, r *http.Request, min identity.Role) (scope, bool) {
	t, ok := d.tenant(w, r, min)
	if !ok {
		return scope{}, false
	}
	role, _ := d.roleIn(r, t)
	return scope{T: t, Role: role, Ctx: logctx.WithMSP(tenancy.WithTenant(r.Context(), t.ID), t.MSPSlug)}, true
}

// tenantView starts a tenant page's view model: its title and the
// tenant, with what the layout's navigation needs for role.
func tenantView(title string, t tenancy.Tenant, role identity.Role) view {
	v := view{Title: title, Tenant: &t, IsAdmin: role.AtLeast(identity.Admin), IsOperator: role.AtLeast(identity.Operator)}
	if name, ok := strings.CutSuffix(title, " · "+t.Name); ok && name != "" {
		v.Crumbs = []crumb{{Name: name}}
	}
	return v
}

// done sends the person back to a page after an action (post, redirect,
// get), with the notice key the page shows.
func done(w http.ResponseWriter, r *http.Request, path, notice string) {
	http.Redirect(w, r, path+"?done="+url.QueryEscape(notice), http.StatusSeeOther)
}

// notices are what a page says after an action, by the key done gave it:
// fixed sentences, so a link cannot make the page say something else.
var notices = map[string]string{
	"rule-created":         "The rule is saved; every device is being evaluated against it.",
	"view-saved":           "The view is saved: it is in your saved views above the list.",
	"view-deleted":         "The saved view is deleted.",
	"tenant-created":       "The tenant is made. Enroll its first devices from Enrollment.",
	"tenant-suspended":     "The tenant is suspended: its devices check in and get no commands, no new device enrolls, and nothing in it can be changed until it is resumed.",
	"branding-saved":       "Saved: the tenant's pages, profiles and enrollment show its branding from now (an ADE profile at its next assignment).",
	"msp-access-saved":     "Saved: the MSP reaches the tenant as chosen from its next call; grants active now stay until they end.",
	"grant-approve":        "Approved: the grant is active from now for its hours.",
	"grant-deny":           "Denied.",
	"grant-revoke":         "Revoked: the grantee's next call is refused.",
	"tenant-resumed":       "The tenant is active again: its devices get the commands that waited, and its baselines are applied.",
	"webhook-redelivered":  "The event is being delivered again, as a new delivery.",
	"group-created":        "The group is made: pick its devices in the device list.",
	"group-deleted":        "The group is deleted; its devices are not.",
	"rule-on":              "The rule is on; devices are being evaluated against it.",
	"rule-off":             "The rule is off; it no longer counts.",
	"rule-deleted":         "The rule is deleted.",
	"push-stored":          "The push certificate is saved. Devices get pushes through it now.",
	"token-created":        "The ABM token is made. Download its public key, upload it in Apple Business Manager, then upload the server token Apple gives you.",
	"token-uploaded":       "The server token is saved; devices are being synced from Apple Business Manager.",
	"token-sync":           "A sync from Apple Business Manager is queued.",
	"token-deleted":        "The ABM token is deleted.",
	"token-profile":        "New devices from this token get the chosen ADE profile.",
	"webhook-deleted":      "The webhook is deleted.",
	"webhook-paused":       "The webhook is paused: events are not delivered to it.",
	"webhook-resumed":      "The webhook is active again.",
	"webhook-ping":         "A webhook.ping event is on its way; its delivery shows below.",
	"android-token":        "The enrollment token is made; its QR code is below.",
	"android-revoked":      "The enrollment token is revoked.",
	"tenant-renamed":       "The tenant's name is saved.",
	"tags-saved":           "The tenant's tags are saved.",
	"operation-started":    "The operation started: each tenant's part queues its commands in the background.",
	"baseline-created":     "The baseline is made: add its items, then say whom it is for.",
	"baseline-changed":     "The baseline is saved; its tenants get it applied in the background.",
	"baseline-promoted":    "The ring is promoted; its tenants get the version in the background.",
	"baseline-rolled-back": "The ring is rolled back to the version before; its tenants get it in the background.",
	"hostname-added":       "The hostname is registered and pending: publish its TXT record below, then check it. Trident also checks by itself, soon and then hourly.",
	"hostname-verified":    "The hostname is verified: devices reach the tenant at it once its DNS points at Trident.",
	"hostname-removed":     "The hostname is removed.",
}

// notice is the page's notice for the request's done key, if any.
func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }

// What a page says when the server runs without one of its parts.
const (
	noApple         = "Apple management is not configured on this server."
	noAndroid       = "Android management is not configured on this server."
	noABM           = "Apple Business Manager is not configured on this server."
	noCompliance    = "Compliance is not available on this server."
	noWebhooks      = "Webhooks are not available on this server."
	noGroupCommands = "Group commands are not available on this server."
)

// available answers whether a part of the server is on; when it is off it
// answers the 404 page saying so.
func (d *Dashboard) available(w http.ResponseWriter, r *http.Request, on bool, off string) bool {
	if !on {
		d.errorPage(w, r, http.StatusNotFound, off)
	}
	return on
}

// confirmView asks before a delete.
type confirmView struct {
	view
	What   string // "the rule Modern OS"
	Action string // where the confirmed delete posts
	Back   string // where Cancel goes
}

// named is what, followed by its name when it has one ("the rule
// Modern OS").
func named(what, name string) string {
	if name == "" {
		return what
	}
	return what + " " + name
}

// confirmed reports whether a delete form came confirmed (confirm=yes).
// If not, it answers a page that names what would go and posts the
// delete again, confirmed; nothing changes until then (issue 24: one
// click deleted rules, webhooks and ABM tokens).
func (d *Dashboard) confirmed(w http.ResponseWriter, r *http.Request, s scope, what, back string) bool {
	if r.PostFormValue("confirm") == "yes" {
		return true
	}
	d.page(w, r, "confirm-content", &confirmView{view: tenantView("Delete "+what, s.T, s.Role), What: what, Action: r.URL.Path, Back: back})
	return false
}
