package dashboard

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/identity"
)

// abm lists the tenant's Apple Business Manager tokens with their state,
// and for admins connects and renews them.
func (d *Dashboard) abm(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	d.abmPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) abmPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	if !d.available(w, r, d.opts.DEP != nil, noABM) {
		return
	}
	var tokens []dep.Token
	var profiles []dep.Profile
	err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) error {
		var err error
		if tokens, err = d.opts.DEP.Tokens(ctx); err != nil {
			return err
		}
		profiles, err = d.opts.DEP.Profiles(ctx)
		return err
	})
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard abm", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The ABM tokens cannot be read right now; try again in a moment.")
		return
	}
	d.pageStatus(w, r, code, "abm-content", &abmView{view: s.view("Apple Business Manager", f), Tokens: tokens, Profiles: profiles})
}

// abmToken is the path's token id; a malformed one names no token.
func abmToken(r *http.Request) uuid.UUID { id, _ := uuid.Parse(r.PathValue("token")); return id }

// createABMToken makes the key pair of a new ABM server token (admins).
func (d *Dashboard) createABMToken(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok || !d.available(w, r, d.opts.DEP != nil, noABM) {
		return
	}
	label := strings.TrimSpace(r.PostFormValue("label"))
	sess := sessionFrom(r.Context())
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		t, _, err := d.opts.DEP.CreateToken(ctx, label)
		if err != nil {
			return err
		}
		return d.record(ctx, sess, "create-abm-token", "/v1/tenants/"+s.T.Slug+"/abm/tokens", http.StatusCreated,
			map[string]string{"token": t.ID.String()})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.abmPage(w, r, s, code, flash{Error: msg, Label: label})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/abm", "token-created")
}

// abmCertificate answers a token's public key certificate, for uploading
// to ABM (admins).
func (d *Dashboard) abmCertificate(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok || !d.available(w, r, d.opts.DEP != nil, noABM) {
		return
	}
	id := abmToken(r)
	var pem []byte
	if err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) (err error) {
		pem, err = d.opts.DEP.Certificate(ctx, id)
		return err
	}); err != nil {
		code, msg := d.problem(r, err)
		d.errorPage(w, r, code, msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="trident-abm-`+id.String()+`.pem"`)
	w.Write(pem)
}

// uploadABMToken stores the server token (.p7m) downloaded from ABM
// (admins): connecting a token, or renewing it.
func (d *Dashboard) uploadABMToken(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok || !d.available(w, r, d.opts.DEP != nil, noABM) {
		return
	}
	id := abmToken(r)
	b, err := formFile(r, "server_token")
	if err == nil && len(b) == 0 {
		err = &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose the server token file downloaded from Apple Business Manager (.p7m)."}
	}
	sess := sessionFrom(r.Context())
	if err == nil {
		err = d.db.Within(s.Ctx, func(ctx context.Context) error {
			if _, err := d.opts.DEP.Upload(ctx, id, b); err != nil {
				return err
			}
			return d.record(ctx, sess, "upload-abm-server-token", "/v1/tenants/"+s.T.Slug+"/abm/tokens/"+id.String()+"/server-token",
				http.StatusOK, nil)
		})
	}
	if err != nil {
		code, msg := d.problem(r, err)
		d.abmPage(w, r, s, code, flash{Error: msg})
		return
	}
	// The account's name, for the list; the sync fills in the rest.
	if _, err := d.opts.DEP.AccountDetails(s.Ctx, id); err != nil {
		d.log.InfoContext(s.Ctx, "dashboard abm: account details", "token", id, "err", err)
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/abm", "token-uploaded")
}

// changeABMToken syncs a token now (operators), sets the ADE profile new
// devices get, or deletes it (admins).
func (d *Dashboard) changeABMToken(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Operator)
	if !ok || !d.available(w, r, d.opts.DEP != nil, noABM) {
		return
	}
	id := abmToken(r)
	action := r.PostFormValue("action")
	if action != "sync" && !s.Role.AtLeast(identity.Admin) {
		d.abmPage(w, r, s, http.StatusForbidden, flash{Error: "That needs the admin role in this tenant."})
		return
	}
	if action == "delete" {
		var label string
		_ = d.db.ReadWithin(s.Ctx, func(ctx context.Context) error { // the confirmation names it if it can
			t, err := d.opts.DEP.Token(ctx, id)
			label = t.Label
			return err
		})
		if !d.confirmed(w, r, s, named("the ABM token", label), "/dashboard/t/"+s.T.Slug+"/abm") {
			return
		}
	}
	sess := sessionFrom(r.Context())
	target := "/v1/tenants/" + s.T.Slug + "/abm/tokens/" + id.String()
	var notice string
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		switch action {
		case "sync":
			if _, err := d.opts.DEP.Token(ctx, id); err != nil {
				return err
			}
			notice = "token-sync"
			if err := d.opts.DEP.EnqueueSync(ctx, id); err != nil {
				return err
			}
			return d.record(ctx, sess, "sync-abm-token", target+"/sync", http.StatusAccepted, nil)
		case "profile":
			profile := uuid.Nil
			if p := r.PostFormValue("profile"); p != "" {
				var err error
				if profile, err = uuid.Parse(p); err != nil {
					return &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose an ADE profile."}
				}
			}
			notice = "token-profile"
			if _, err := d.opts.DEP.SetTokenProfile(ctx, id, profile); err != nil {
				return err
			}
			return d.record(ctx, sess, "update-abm-token", target, http.StatusOK, map[string]string{"profile": profile.String()})
		case "delete":
			notice = "token-deleted"
			if err := d.opts.DEP.DeleteToken(ctx, id); err != nil {
				return err
			}
			return d.record(ctx, sess, "delete-abm-token", target, http.StatusNoContent, nil)
		}
		return &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose to sync, set the profile or delete the token."}
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.abmPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/abm", notice)
}
