package dashboard

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// enrollPage shows how devices join the tenant: Apple's enrollment
// profile and push certificate, Windows tokens, Android's enterprise and
// enrollment tokens with their QR codes.
func (d *Dashboard) enrollPage(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	d.enrollPageStatus(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

// pushWarning is how long before its expiry the push certificate is
// flagged.
const pushWarning = 30 * 24 * time.Hour

func (d *Dashboard) enrollPageStatus(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	v := &enrollView{view: s.view("Enrollment", f), CanEnroll: s.Role.AtLeast(identity.Operator) && d.opts.Windows != nil,
		Links: d.links(s.T, "", "")}
	if d.opts.Apple != nil {
		v.HasApple = true
		if s.Role.AtLeast(identity.Admin) {
			cert, ok, err := d.opts.Apple.PushCertificate(s.Ctx)
			if err != nil {
				d.log.ErrorContext(s.Ctx, "dashboard enroll: push certificate", "tenant", s.T.ID, "err", err)
				v.PushUnknown = true
			} else if ok {
				v.Push = &cert
				v.PushExpired = time.Now().After(cert.NotAfter)
				v.PushSoon = time.Until(cert.NotAfter) < pushWarning
			}
		}
	}
	if d.opts.Android != nil {
		v.HasAndroid = true
		var ent android.Enterprise
		var policies []android.Policy
		var tokens []android.EnrollmentToken
		err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) error {
			var err error
			if ent, err = d.opts.Android.Enterprise(ctx); errors.Is(err, tenancy.ErrNotFound) {
				ent = android.Enterprise{Status: "unbound"}
			} else if err != nil {
				return err
			}
			if policies, err = d.opts.Android.Policies(ctx); err != nil {
				return err
			}
			if s.Role.AtLeast(identity.Operator) {
				tokens, err = d.opts.Android.EnrollmentTokens(ctx)
			}
			return err
		})
		if err != nil {
			d.log.ErrorContext(s.Ctx, "dashboard enroll: android", "tenant", s.T.ID, "err", err)
			d.errorPage(w, r, http.StatusServiceUnavailable, "The enrollment settings cannot be read right now; try again in a moment.")
			return
		}
		published := policies[:0:0]
		for _, p := range policies {
			if p.Version > 0 {
				published = append(published, p)
			}
		}
		v.Enterprise, v.Policies, v.AndroidTokens = ent, published, tokens
	}
	d.pageStatus(w, r, code, "enroll-content", v)
}

// links are t's Windows enrollment links, for token and email if given.
func (d *Dashboard) links(t tenancy.Tenant, token, email string) enrollment.WindowsLinks {
	if d.opts.DeviceURL == nil {
		return enrollment.WindowsLinks{}
	}
	return enrollment.WindowsEnrollmentLinks(d.opts.DeviceURL(t), token, email)
}

// windowsToken makes a one-time Windows enrollment token (operators),
// audited like the API's create-windows-enrollment.
func (d *Dashboard) windowsToken(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Operator)
	if !ok {
		return
	}
	if d.opts.Windows == nil {
		d.errorPage(w, r, http.StatusNotFound, "Windows management is off on this server.")
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	if len(email) > 250 {
		email = email[:250]
	}
	s := sessionFrom(r.Context())
	ctx := tenancy.WithTenant(r.Context(), t.ID)
	var tok enrollment.Token
	err := d.db.Within(ctx, func(ctx context.Context) error {
		var err error
		if tok, err = d.opts.Windows.NewToken(ctx, 72*time.Hour); err != nil {
			return err
		}
		return d.record(ctx, s, "create-windows-enrollment", "/v1/tenants/"+t.Slug+"/enrollments/windows", http.StatusOK, nil)
	})
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard windows token", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusInternalServerError, "The token could not be made; try again.")
		return
	}
	l := d.links(t, tok.Secret, email)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "windows-token", windowsTokenView{Token: tok.Secret, Expires: tok.ExpiresAt,
		DeepLink: template.URL(l.DeepLink), Server: l.Server})
}
