package dashboard

import (
	"context"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/logctx"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// accessView is the tenant's page of its MSP's access: the setting, the
// grants, and what the MSP did lately.
type accessView struct {
	view
	Mode    identity.MSPAccess
	Own     bool // the person is one of the tenant's own admins: they decide
	Current []identity.Delegation
	Past    []identity.Delegation
	Actions []audit.Entry
}

// access shows the MSP's access to the tenant (admins).
func (d *Dashboard) accessPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	d.renderAccess(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) renderAccess(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	v := &accessView{view: s.view("Access", f), Own: d.access(r, s.T).Source == identity.FromTenant}
	err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) (err error) {
		if v.Mode, err = d.opts.Grants.MSPAccessOf(ctx); err != nil {
			return err
		}
		if v.Current, err = d.opts.Grants.List(ctx, identity.GrantFilter{Status: "current"}); err != nil {
			return err
		}
		all, err := d.opts.Grants.List(ctx, identity.GrantFilter{Limit: 50})
		for _, g := range all {
			if g.Status != identity.Requested && g.Status != identity.Active {
				v.Past = append(v.Past, g)
			}
		}
		if err != nil {
			return err
		}
		v.Actions, err = d.opts.Audit.List(ctx, audit.Filter{MSP: true, Limit: 20})
		return err
	})
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard access", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The MSP's access cannot be read right now; try again in a moment.")
		return
	}
	d.pageStatus(w, r, code, "access-content", v)
}

// setMSPAccess changes how the MSP reaches the tenant (its own admins),
// as the API's set-msp-access.
func (d *Dashboard) setMSPAccess(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	mode := identity.MSPAccess(r.PostFormValue("msp_access"))
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		if _, err := d.opts.Grants.SetMSPAccess(ctx, sess.principal(), s.T, mode); err != nil {
			return err
		}
		return d.record(ctx, sess, "set-msp-access", "/v1/tenants/"+s.T.Slug+"/msp-access", http.StatusOK, map[string]string{"msp_access": string(mode)})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.renderAccess(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/access", "msp-access-saved")
}

// approveGrant, denyGrant and revokeGrant decide on a grant, as the
// API's operations of those names.
func (d *Dashboard) approveGrant(w http.ResponseWriter, r *http.Request) {
	d.changeGrant(w, r, "approve-access-grant", "approve", d.opts.Grants.Approve)
}

func (d *Dashboard) denyGrant(w http.ResponseWriter, r *http.Request) {
	d.changeGrant(w, r, "deny-access-grant", "deny", d.opts.Grants.Deny)
}

func (d *Dashboard) revokeGrant(w http.ResponseWriter, r *http.Request) {
	d.changeGrant(w, r, "revoke-access-grant", "revoke", d.opts.Grants.Revoke)
}

// changeGrant runs one decision on the path's grant, audited as action.
func (d *Dashboard) changeGrant(w http.ResponseWriter, r *http.Request, action, verb string,
	do func(context.Context, *identity.Principal, tenancy.Tenant, uuid.UUID) (identity.Delegation, error)) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	sess := sessionFrom(r.Context())
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such grant.")
		return
	}
	err = d.db.Within(s.Ctx, func(ctx context.Context) error {
		if _, err := do(ctx, sess.principal(), s.T, id); err != nil {
			return err
		}
		return d.record(ctx, sess, action, "/v1/tenants/"+s.T.Slug+"/access-grants/"+id.String()+"/"+verb, http.StatusOK, nil)
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.renderAccess(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/access", "grant-"+verb)
}

// requestGrant asks the tenant for access, from the page that refused
// someone of its MSP, as the API's request-access-grant.
func (d *Dashboard) requestGrant(w http.ResponseWriter, r *http.Request) {
	t, err := d.dir.TenantBySlug(r.Context(), r.PathValue("tenant"))
	sess := sessionFrom(r.Context())
	p := sess.principal()
	if err != nil || !p.WorksFor(t.MSPSlug) {
		d.errorPage(w, r, http.StatusNotFound, "There is no such tenant, or your account has no role in it.")
		return
	}
	hours, _ := strconv.Atoi(r.PostFormValue("hours"))
	req := identity.GrantRequest{Role: identity.Role(r.PostFormValue("role")), Reason: r.PostFormValue("reason"), Hours: hours,
		BreakGlass: r.PostFormValue("break_glass") == "on"}
	var g identity.Delegation
	// Recorded as the MSP's action (it holds no access in the tenant yet).
	sess.access = map[uuid.UUID]identity.Access{t.ID: {Source: identity.FromMSP}}
	ctx := logctx.WithMSP(tenancy.WithTenant(r.Context(), t.ID), t.MSPSlug)
	err = d.db.Within(ctx, func(ctx context.Context) (err error) {
		if g, err = d.opts.Grants.Request(ctx, p, t, req); err != nil {
			return err
		}
		return d.record(ctx, sess, "request-access-grant", "/v1/msps/"+t.MSPSlug+"/tenants/"+t.Slug+"/access-grants", http.StatusCreated,
			map[string]string{"grant": g.ID.String(), "role": string(g.Role), "hours": strconv.Itoa(g.Hours)})
	})
	if err != nil {
		_, msg := d.problem(r, err)
		d.errorPage(w, r, http.StatusUnprocessableEntity, "The request was refused: "+msg)
		return
	}
	if g.Status == identity.Active {
		http.Redirect(w, r, "/dashboard/t/"+t.Slug+"/", http.StatusSeeOther)
		return
	}
	d.errorPage(w, r, http.StatusAccepted, "Asked: the tenant's admins decide. The grant lasts "+strconv.Itoa(g.Hours)+" hours from their approval.")
}

// askForGrant is the page that refuses someone of the tenant's MSP who
// holds no grant in it, with the form that asks for one.
func (d *Dashboard) askForGrant(w http.ResponseWriter, r *http.Request, t tenancy.Tenant) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	pages.ExecuteTemplate(w, "grant-request", map[string]any{"Tenant": t, "Session": sessionFrom(r.Context()), "Max": identity.MaxHours, "MaxBreakGlass": identity.MaxBreakGlass})
}
