package dashboard

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// enrollPage shows how devices join the tenant; operators make Windows
// enrollment tokens here.
func (d *Dashboard) enrollPage(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	role, _ := sessionFrom(r.Context()).principal().RoleIn(t)
	d.page(w, r, "enroll-content", map[string]any{"Title": "Enrollment · " + t.Name, "Tenant": t, "IsAdmin": role.AtLeast(identity.Admin),
		"CanEnroll": role.AtLeast(identity.Operator) && d.opts.Windows != nil, "Links": d.links(t, "", "")})
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
	err := d.db.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if tok, err = d.opts.Windows.NewToken(ctx, tx, 72*time.Hour); err != nil {
			return err
		}
		return auditRecord(ctx, tx, s, "create-windows-enrollment", "/v1/tenants/"+t.Slug+"/enrollments/windows", http.StatusOK, nil)
	})
	if err != nil {
		d.log.ErrorContext(ctx, "dashboard windows token", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusInternalServerError, "The token could not be made; try again.")
		return
	}
	l := d.links(t, tok.Secret, email)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.ExecuteTemplate(w, "windows-token", map[string]any{"Token": tok.Secret, "Expires": tok.ExpiresAt,
		"DeepLink": template.URL(l.DeepLink), "Server": l.Server})
}
