package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/identity"
)

// androidSignup sends an admin to Google's signup for a managed Google
// Play enterprise; Google brings them back to the tenant's callback.
func (d *Dashboard) androidSignup(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	if !d.available(w, r, d.opts.Android != nil, noAndroid) {
		return
	}
	var u string
	err := d.audited(s, r, "android-signup", "/v1/tenants/"+s.T.Slug+"/android/enterprise/signup", func(ctx context.Context) (err error) {
		u, err = d.opts.Android.Signup(ctx, r.PostFormValue("admin_email"))
		return err
	})
	htmx := r.Header.Get("HX-Request") == "true"
	if err != nil {
		code, msg := d.problem(r, err)
		if htmx {
			d.errorPage(w, r, code, msg)
			return
		}
		d.enrollPageStatus(w, r, s, code, flash{Error: msg})
		return
	}
	// Not a redirect: the page's Content-Security-Policy (form-action
	// 'self') stops a form's answer from taking the browser to Google.
	// htmx navigates there itself; without script the person follows a
	// link.
	if htmx {
		w.Header().Set("HX-Redirect", u)
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "continue", struct{ Title, URL, Link string }{
		"Continue at Google", u, "Sign up for a managed Google Play enterprise at Google"})
}

// androidToken makes an enrollment token for a published policy
// (operators).
func (d *Dashboard) androidToken(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Operator)
	if !ok {
		return
	}
	if !d.available(w, r, d.opts.Android != nil, noAndroid) {
		return
	}
	policy, err := uuid.Parse(r.PostFormValue("policy"))
	if err != nil {
		d.enrollPageStatus(w, r, s, http.StatusUnprocessableEntity, flash{Error: "Choose a policy for the devices."})
		return
	}
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || days < 1 || days > 90 {
		d.enrollPageStatus(w, r, s, http.StatusUnprocessableEntity, flash{Error: "A token lasts 1 to 90 days."})
		return
	}
	err = d.auditedAs(s, r, "create-android-enrollment-token", "/v1/tenants/"+s.T.Slug+"/android/enrollment-tokens", http.StatusCreated,
		func(ctx context.Context) (map[string]string, error) {
			t, err := d.opts.Android.CreateEnrollmentToken(ctx, policy, time.Duration(days)*24*time.Hour, r.PostFormValue("one_time") == "yes")
			return map[string]string{"token": t.ID.String(), "policy": policy.String()}, err
		})
	if err != nil {
		code, msg := d.problem(r, err)
		d.enrollPageStatus(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/enroll", "android-token")
}

// androidRevoke revokes an enrollment token (operators).
func (d *Dashboard) androidRevoke(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Operator)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("token"))
	if d.opts.Android == nil || err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such enrollment token in this tenant.")
		return
	}
	err = d.auditedAs(s, r, "revoke-android-enrollment-token", "/v1/tenants/"+s.T.Slug+"/android/enrollment-tokens/"+id.String(), http.StatusNoContent,
		func(ctx context.Context) (map[string]string, error) {
			return nil, d.opts.Android.RevokeEnrollmentToken(ctx, id)
		})
	if err != nil {
		code, msg := d.problem(r, err)
		d.enrollPageStatus(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/enroll", "android-revoked")
}

// androidQR answers an enrollment token's QR code (operators).
func (d *Dashboard) androidQR(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Operator)
	if !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("token"))
	if d.opts.Android == nil || err != nil {
		http.NotFound(w, r)
		return
	}
	var t android.EnrollmentToken
	if err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) (err error) {
		t, err = d.opts.Android.EnrollmentToken(ctx, id)
		return err
	}); err != nil {
		code, msg := d.problem(r, err)
		http.Error(w, msg, code)
		return
	}
	png, err := android.QRCodePNG(t, 384)
	if err != nil {
		code, msg := d.problem(r, err)
		http.Error(w, msg, code)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(png)
}
