package dashboard

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// operationsView is an MSP's commands to many tenants: the form, the
// latest operations.
type operationsView struct {
	view
	MSP        tenancy.MSP
	Kinds      []commandForm
	Platforms  []inventory.Platform
	Tenants    []tenancy.Tenant
	Tags       []string
	Operations []msp.Operation
	Reach      []msp.Reach // a dry run's answer
	ReachTotal int
}

// operationView is one operation and each tenant's progress.
type operationView struct {
	view
	MSP tenancy.MSP
	Op  msp.Operation
}

// mspOf resolves the path's MSP for one of its admins; anyone else gets
// a 404 page.
func (d *Dashboard) mspOf(w http.ResponseWriter, r *http.Request) (tenancy.MSP, bool) {
	slug := r.PathValue("msp")
	if d.opts.MSP != nil && sessionFrom(r.Context()).principal().AdministersMSP(slug) {
		if m, err := d.dir.MSPBySlug(r.Context(), slug); err == nil {
			return m, true
		}
	}
	d.errorPage(w, r, http.StatusNotFound, "There is no such MSP, or you are not its admin.")
	return tenancy.MSP{}, false
}

// target is the operation form's target.
func operationTarget(r *http.Request) msp.Target {
	t := msp.Target{Command: r.PostFormValue("kind"), Platform: inventory.Platform(r.PostFormValue("platform")), Tag: strings.TrimSpace(r.PostFormValue("tag"))}
	for _, slug := range r.PostForm["tenant"] {
		if slug != "" {
			t.Tenants = append(t.Tenants, slug)
		}
	}
	return t
}

func (d *Dashboard) operationsPage(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	d.renderOperations(w, r, m, http.StatusOK, flash{Notice: notice(r)}, nil)
}

func (d *Dashboard) renderOperations(w http.ResponseWriter, r *http.Request, m tenancy.MSP, code int, f flash, reach []msp.Reach) {
	v := &operationsView{view: view{Title: "Commands to many tenants · " + m.Name, Crumbs: []crumb{{Name: "Commands to many tenants"}}, flash: f},
		MSP: m, Kinds: groupForms(identity.Admin), Platforms: []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}, Reach: reach}
	for _, x := range reach {
		v.ReachTotal += x.Devices
	}
	var err error
	if v.Tenants, err = d.dir.ListTenants(r.Context(), m.ID); err == nil {
		if v.Tags, err = d.opts.MSP.MSPTags(r.Context(), m.ID); err == nil {
			v.Operations, err = d.opts.MSP.Operations(r.Context(), m.ID, 50)
		}
	}
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard operations", "msp", m.Slug, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The MSP's operations cannot be read right now; try again in a moment.")
		return
	}
	if v.Form == nil {
		v.Form = map[string]string{}
	}
	d.pageStatus(w, r, code, "operations-content", v)
}

// runOperation counts (action=count: a dry run) or sends (action=send)
// a command to the devices of many tenants, as the API's
// dry-run-msp-operation and run-msp-operation.
func (d *Dashboard) runOperation(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	target := operationTarget(r)
	form := map[string]string{"kind": target.Command, "platform": string(target.Platform), "tag": target.Tag,
		"tenants": strings.Join(target.Tenants, ",")}
	fail := func(err error) {
		code, msg := d.problem(r, err)
		d.renderOperations(w, r, m, code, flash{Error: msg, Form: form}, nil)
	}
	if r.PostFormValue("action") == "count" {
		_, tenants, err := d.opts.MSP.Resolve(r.Context(), m.ID, target, nil)
		if err != nil {
			fail(err)
			return
		}
		reach, err := d.opts.MSP.DryRun(r.Context(), d.cmds, tenants, target.Command, target.Platform)
		if err != nil {
			fail(err)
			return
		}
		d.renderOperations(w, r, m, http.StatusOK, flash{Form: form}, reach)
		return
	}
	payload, code, problem := typedPayload(r, target.Command, "")
	if problem != "" {
		d.renderOperations(w, r, m, code, flash{Error: problem, Form: form}, nil)
		return
	}
	op, err := d.opts.MSP.Run(r.Context(), d.cmds, m, target, payload, strings.TrimSpace(r.PostFormValue("confirm_name")), sess.Subject,
		func(ctx context.Context, t tenancy.Tenant) error {
			// As the API's: the part needs the caller's power in t, which
			// a tenant asking for grants gives only through one.
			got, err := d.opts.Grants.Reach(ctx, sess.principal(), t, func(r identity.Role) error {
				return commands.Authorize(r, target.Command, payload)
			})
			if err != nil {
				return err
			}
			if sess.access == nil {
				sess.access = map[uuid.UUID]identity.Access{}
			}
			sess.access[t.ID] = got
			return d.record(ctx, sess, "run-msp-operation", "/v1/msps/"+m.Slug+"/operations", http.StatusAccepted,
				map[string]string{"command": target.Command})
		})
	if err != nil {
		fail(err)
		return
	}
	done(w, r, "/dashboard/msps/"+m.Slug+"/operations/"+op.ID.String(), "operation-started")
}

func (d *Dashboard) operationPage(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such operation in the MSP.")
		return
	}
	op, err := d.opts.MSP.Progress(r.Context(), d.cmds, m.ID, id)
	if err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	v := &operationView{view: view{Title: op.Command + " · " + m.Name, flash: flash{Notice: notice(r)},
		Crumbs: []crumb{{Name: "Commands to many tenants", Link: "/dashboard/msps/" + m.Slug + "/operations"}, {Name: op.Command}}}, MSP: m, Op: op}
	if r.Header.Get("HX-Request") == "true" {
		d.fragment(w, r, "operation-parts", v)
		return
	}
	d.page(w, r, "operation-content", v)
}

// operationFields answers the operation form's fields for the chosen
// kind (its MSP's admins), as the group composer's.
func (d *Dashboard) operationFields(w http.ResponseWriter, r *http.Request) {
	if _, ok := d.mspOf(w, r); ok {
		d.kindFields(w, r, identity.Admin) // an MSP admin is an admin in every tenant
	}
}
