package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/tenancy"
)

// AppleEnrollment makes a tenant's signed enrollment profile, each with a
// fresh one-time challenge (protocols/apple, wired in by cmd/trident).
type AppleEnrollment interface {
	Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error)
}

// PushCertificate describes a tenant's APNs push certificate.
type PushCertificate struct {
	Topic     string    `json:"topic" doc:"The APNs topic, from the certificate's UID."`
	NotAfter  time.Time `json:"not_after" doc:"When Apple's certificate expires: renew it before, keeping the topic, or every device must re-enroll."`
	UpdatedAt time.Time `json:"updated_at"`
}

// PushCertRequest is what an admin takes to Apple's Push Certificates
// Portal.
type PushCertRequest struct {
	RequestFile string `json:"request_file,omitempty" doc:"The signed request to upload to Apple's Push Certificates Portal (present when the server has an MDM vendor certificate). Save it as a file."`
	CSR         string `json:"csr" doc:"The certificate request, PEM: for an MDM vendor to sign when request_file is absent."`
	NextStep    string `json:"next_step"`
}

// ApplePushCerts stores, lists and requests the tenant's push
// certificates.
type ApplePushCerts interface {
	// StorePushCert stores a certificate; keyPEM may be empty when the
	// certificate answers one of the tenant's requests. A certificate
	// with another topic than the tenant's is refused unless replaceTopic.
	StorePushCert(ctx context.Context, certPEM, keyPEM []byte, replaceTopic bool) error
	PushCertificates(ctx context.Context) ([]PushCertificate, error)
	RequestPushCert(ctx context.Context, t tenancy.Tenant) (PushCertRequest, error)
}

type pushCertInput struct {
	TenantPath
	Body struct {
		Certificate  string `json:"certificate" minLength:"1" maxLength:"20000" doc:"The MDM push certificate from Apple's Push Certificates Portal, PEM."`
		PrivateKey   string `json:"private_key,omitempty" maxLength:"20000" doc:"Its private key, PEM (unencrypted); leave out when the certificate answers a request made with POST .../push-certificate/request. Trident stores it sealed."`
		ReplaceTopic bool   `json:"replace_topic,omitempty" doc:"Accept a certificate whose topic differs from the current one. Devices enrolled under the old topic then no longer get pushes and must re-enroll."`
	}
}

type pushCertOutput struct{ Body PushCertificate }

type profileOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func (a *API) appleRoutes() {
	tags := []string{"Apple"}
	register(a, huma.Operation{
		OperationID: "put-apple-push-certificate", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/apple/push-certificate", Tags: tags,
		Summary: "Upload the APNs push certificate",
		Description: "The tenant's MDM push certificate and key. Uploading a renewal (same topic) replaces it without " +
			"re-enrolling devices; a certificate with another topic orphans the devices enrolled under the old one.",
	}, admin, func(ctx context.Context, in *pushCertInput) (*pushCertOutput, error) {
		if a.d.ApplePush == nil {
			return nil, huma.Error501NotImplemented("Apple management is not configured on this server")
		}
		tctx := tenantContext(ctx)
		if err := a.audited(ctx, func(ctx context.Context) error {
			return a.d.ApplePush.StorePushCert(ctx, []byte(in.Body.Certificate), []byte(in.Body.PrivateKey), in.Body.ReplaceTopic)
		}); err != nil {
			return nil, err
		}
		certs, err := a.d.ApplePush.PushCertificates(tctx)
		if err != nil || len(certs) == 0 {
			return nil, a.problem(ctx, err)
		}
		return &pushCertOutput{Body: certs[0]}, nil
	})

	register(a, huma.Operation{
		OperationID: "request-apple-push-certificate", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/apple/push-certificate/request", Tags: tags,
		Summary: "Start a push certificate request",
		Description: "Makes a key and certificate request for the tenant's APNs push certificate; the key stays on the server. " +
			"Upload request_file at Apple's Push Certificates Portal (renewing the existing certificate keeps its topic), then " +
			"PUT the certificate Apple issues to .../apple/push-certificate, without a key.",
	}, admin, func(ctx context.Context, in *TenantPath) (*struct{ Body PushCertRequest }, error) {
		if a.d.ApplePush == nil {
			return nil, huma.Error501NotImplemented("Apple management is not configured on this server")
		}
		var req PushCertRequest
		if err := a.audited(ctx, func(ctx context.Context) error {
			var err error
			req, err = a.d.ApplePush.RequestPushCert(ctx, callFrom(ctx).tenant)
			return err
		}); err != nil {
			return nil, err
		}
		return &struct{ Body PushCertRequest }{req}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-apple-push-certificate", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/apple/push-certificate", Tags: tags,
		Summary: "Get the APNs push certificate's details",
	}, admin, func(ctx context.Context, in *TenantPath) (*pushCertOutput, error) {
		if a.d.ApplePush == nil {
			return nil, huma.Error501NotImplemented("Apple management is not configured on this server")
		}
		certs, err := a.d.ApplePush.PushCertificates(tenantContext(ctx))
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		if len(certs) == 0 {
			return nil, huma.Error404NotFound("the tenant has no push certificate yet")
		}
		return &pushCertOutput{Body: certs[0]}, nil
	})

	register(a, huma.Operation{
		OperationID: "create-apple-enrollment-profile", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/enrollments/apple", Tags: tags,
		Summary: "Make an Apple enrollment profile",
		Description: "A signed .mobileconfig that enrolls one device: installing it gets the device a certificate from the " +
			"tenant's CA (SCEP, with a one-time challenge valid for 14 days) and enrolls it in MDM. Re-installing a newer " +
			"profile replaces the older one.",
		Errors: []int{http.StatusConflict},
	}, operator, func(ctx context.Context, in *TenantPath) (*profileOutput, error) {
		if a.d.AppleEnrollment == nil {
			return nil, huma.Error501NotImplemented("Apple management is not configured on this server")
		}
		t := callFrom(ctx).tenant
		var b []byte
		if err := a.audited(ctx, func(ctx context.Context) error {
			var err error
			b, err = a.d.AppleEnrollment.Enrollment(ctx, t)
			return err
		}); err != nil {
			return nil, err
		}
		return &profileOutput{ContentType: "application/x-apple-aspen-config",
			ContentDisposition: `attachment; filename="` + t.Slug + `-enrollment.mobileconfig"`, Body: b}, nil
	})
}
