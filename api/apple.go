package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

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

// ApplePushCerts stores and lists the tenant's push certificates.
type ApplePushCerts interface {
	StorePushCert(ctx context.Context, certPEM, keyPEM []byte) error
	PushCertificates(ctx context.Context) ([]PushCertificate, error)
}

// ClientError is an error the caller can fix, with the status to answer;
// adapters of other packages' errors return it.
type ClientError struct {
	Status  int
	Message string
}

func (e *ClientError) Error() string { return e.Message }

type pushCertInput struct {
	tenantPath
	Body struct {
		Certificate string `json:"certificate" minLength:"1" maxLength:"20000" doc:"The MDM push certificate from Apple's Push Certificates Portal, PEM."`
		PrivateKey  string `json:"private_key" minLength:"1" maxLength:"20000" doc:"Its private key, PEM (unencrypted). Trident stores it sealed."`
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
		if err := a.d.ApplePush.StorePushCert(tctx, []byte(in.Body.Certificate), []byte(in.Body.PrivateKey)); err != nil {
			return nil, a.problem(ctx, err)
		}
		if err := a.tx(ctx, func(pgx.Tx) error { return nil }); err != nil { // the audit entry
			return nil, err
		}
		certs, err := a.d.ApplePush.PushCertificates(tctx)
		if err != nil || len(certs) == 0 {
			return nil, a.problem(ctx, err)
		}
		return &pushCertOutput{Body: certs[0]}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-apple-push-certificate", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/apple/push-certificate", Tags: tags,
		Summary: "Get the APNs push certificate's details",
	}, admin, func(ctx context.Context, in *tenantPath) (*pushCertOutput, error) {
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
	}, operator, func(ctx context.Context, in *tenantPath) (*profileOutput, error) {
		if a.d.AppleEnrollment == nil {
			return nil, huma.Error501NotImplemented("Apple management is not configured on this server")
		}
		t := callFrom(ctx).tenant
		b, err := a.d.AppleEnrollment.Enrollment(tenantContext(ctx), t)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		if err := a.tx(ctx, func(pgx.Tx) error { return nil }); err != nil { // the audit entry
			return nil, err
		}
		return &profileOutput{ContentType: "application/x-apple-aspen-config",
			ContentDisposition: `attachment; filename="` + t.Slug + `-enrollment.mobileconfig"`, Body: b}, nil
	})
}
