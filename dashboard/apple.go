package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// Apple is what the enrollment page asks of the Apple edge (cmd/trident
// adapts protocols/apple to it, as it does for the API). Errors the person
// can fix are *UserError.
type Apple interface {
	// Enrollment makes a signed enrollment profile for one device.
	Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error)
	// PushCertificate is the tenant's APNs certificate, if it has one.
	PushCertificate(ctx context.Context) (PushCertificate, bool, error)
	// StorePushCert stores a certificate; keyPEM may be empty when the
	// certificate answers one of the tenant's requests.
	StorePushCert(ctx context.Context, certPEM, keyPEM []byte, replaceTopic bool) error
	// RequestPushCert starts a push certificate request.
	RequestPushCert(ctx context.Context, t tenancy.Tenant) (PushCertRequest, error)
}

// PushCertificate describes a tenant's APNs push certificate.
type PushCertificate struct {
	Topic     string
	NotAfter  time.Time
	UpdatedAt time.Time
}

// PushCertRequest is what an admin takes to Apple's Push Certificates
// Portal: the signed request file when the server has an MDM vendor
// certificate, else the CSR for a vendor to sign.
type PushCertRequest struct {
	RequestFile string
	CSR         string
}

// audit records an action done outside a transaction of its own (the
// services that call Apple and Google commit their own).
// audited runs change (a service call that opens its own transactions)
// and its audit entry in one transaction: both commit, or neither.
func (d *Dashboard) audited(s scope, r *http.Request, action, target string, change func(ctx context.Context) error) error {
	return d.auditedAs(s, r, action, target, http.StatusOK, func(ctx context.Context) (map[string]string, error) { return nil, change(ctx) })
}

// auditedAs is audited for an entry with the API operation's status and
// details change returns (a new token's id, say).
func (d *Dashboard) auditedAs(s scope, r *http.Request, action, target string, status int, change func(ctx context.Context) (map[string]string, error)) error {
	sess := sessionFrom(r.Context())
	return d.db.Within(s.Ctx, func(ctx context.Context) error {
		details, err := change(ctx)
		if err != nil {
			return err
		}
		return d.record(ctx, sess, action, target, status, details)
	})
}

// appleProfile answers a signed enrollment profile for one device
// (operators), as the API's create-apple-enrollment-profile.
func (d *Dashboard) appleProfile(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Operator)
	if !ok {
		return
	}
	if !d.available(w, r, d.opts.Apple != nil, noApple) {
		return
	}
	var b []byte
	err := d.audited(s, r, "create-apple-enrollment-profile", "/v1/tenants/"+s.T.Slug+"/enrollments/apple", func(ctx context.Context) error {
		var err error
		b, err = d.opts.Apple.Enrollment(ctx, s.T)
		return err
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.enrollPageStatus(w, r, s, code, flash{Error: msg})
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Header().Set("Content-Disposition", `attachment; filename="`+s.T.Slug+`-enrollment.mobileconfig"`)
	w.Write(b)
}

// pushRequest starts a push certificate request and answers the file to
// take to Apple (admins).
func (d *Dashboard) pushRequest(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	if !d.available(w, r, d.opts.Apple != nil, noApple) {
		return
	}
	var req PushCertRequest
	err := d.audited(s, r, "request-apple-push-certificate", "/v1/tenants/"+s.T.Slug+"/apple/push-certificate/request", func(ctx context.Context) error {
		var err error
		req, err = d.opts.Apple.RequestPushCert(ctx, s.T)
		return err
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.enrollPageStatus(w, r, s, code, flash{Error: msg})
		return
	}
	body, name := req.RequestFile, s.T.Slug+"-push-request.b64"
	if body == "" {
		body, name = req.CSR, s.T.Slug+"-push-request.csr"
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	io.WriteString(w, body)
}

// maxUpload bounds an uploaded certificate, key or token file.
const maxUpload = 64 << 10

// formFile reads an uploaded file of at most maxUpload bytes; a missing
// optional one is empty.
func formFile(r *http.Request, name string) ([]byte, error) { return formFileMax(r, name, maxUpload) }

func formFileMax(r *http.Request, name string, limit int64) ([]byte, error) {
	if err := r.ParseMultipartForm(limit + 64<<10); err != nil && err != http.ErrNotMultipart {
		return nil, &UserError{Status: http.StatusRequestEntityTooLarge, Message: "The upload is too large."}
	}
	f, _, err := r.FormFile(name)
	if err == http.ErrMissingFile {
		return nil, nil
	} else if err != nil {
		return nil, &UserError{Status: http.StatusBadRequest, Message: "The upload did not arrive whole; try again."}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil || int64(len(b)) > limit {
		return nil, &UserError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("That file is larger than %d KiB.", limit>>10)}
	}
	return b, nil
}

// pushUpload stores the push certificate Apple issued (admins).
func (d *Dashboard) pushUpload(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok {
		return
	}
	if !d.available(w, r, d.opts.Apple != nil, noApple) {
		return
	}
	cert, err := formFile(r, "certificate")
	var key []byte
	if err == nil {
		key, err = formFile(r, "private_key")
	}
	if err == nil && len(cert) == 0 {
		err = &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose the certificate file Apple issued (.pem)."}
	}
	if err == nil {
		err = d.audited(s, r, "put-apple-push-certificate", "/v1/tenants/"+s.T.Slug+"/apple/push-certificate", func(ctx context.Context) error {
			return d.opts.Apple.StorePushCert(ctx, cert, key, r.PostFormValue("replace_topic") == "yes")
		})
	}
	if err != nil {
		code, msg := d.problem(r, err)
		if f, ok := fault.As(err); ok && f.Code == fault.Conflict && slices.ContainsFunc(f.Fields, func(fl fault.Field) bool { return fl.Name == "replace_topic" }) {
			msg += " To accept it, tick the box to accept a new topic."
		}
		d.enrollPageStatus(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/enroll", "push-stored")
}
