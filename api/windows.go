package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/enrollment"
)

// WindowsEnrollment is what a person needs to enroll one Windows device.
type WindowsEnrollment struct {
	Token        string    `json:"token" doc:"The one-time enrollment token: the password Windows asks for (OnPremise authentication). Shown once."`
	ExpiresAt    time.Time `json:"expires_at"`
	Server       string    `json:"server" doc:"What to type as the server in Settings > Accounts > Access work or school > Enroll only in device management, when the email's domain has no enterpriseenrollment record."`
	DiscoveryURL string    `json:"discovery_url" doc:"The MS-MDE2 discovery service. Register enterpriseenrollment.{customer domain} as a tenant hostname (CNAME to the tenant's) and Windows finds it from the email alone."`
	DeepLink     string    `json:"deep_link" doc:"An ms-device-enrollment: link that opens Windows' MDM enrollment with the server and token filled in."`
}

func (a *API) windowsRoutes() {
	tags := []string{"Windows"}
	register(a, huma.Operation{
		OperationID: "create-windows-enrollment", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/enrollments/windows", Tags: tags,
		Summary: "Make a Windows enrollment token",
		Description: "A one-time token that enrolls one Windows 10/11 device in MDM (MS-MDE2, OnPremise authentication): " +
			"the device's certificate is signed by the tenant's CA and it starts polling the tenant's management service.",
	}, operator, func(ctx context.Context, in *struct {
		TenantPath
		Body *struct {
			Lifetime string `json:"lifetime,omitempty" doc:"How long the token is good for, as a Go duration (1m to 2160h); default 336h (14 days)." example:"72h"`
			Email    string `json:"email,omitempty" maxLength:"250" doc:"Fill in the deep link's user name."`
		}
	}) (*struct{ Body WindowsEnrollment }, error) {
		if a.d.Windows == nil {
			return nil, huma.Error501NotImplemented("Windows management is off on this server (see --windows-device-identity)")
		}
		var ttl time.Duration
		if in.Body != nil && in.Body.Lifetime != "" {
			d, err := time.ParseDuration(in.Body.Lifetime)
			if err != nil {
				return nil, huma.Error422UnprocessableEntity("lifetime: " + err.Error())
			}
			ttl = d
		}
		var tok enrollment.Token
		err := a.tx(ctx, func(tx pgx.Tx) error {
			var err error
			tok, err = a.d.Windows.NewToken(ctx, tx, ttl)
			return err
		})
		if err != nil {
			return nil, err
		}
		base := a.d.DeviceURL(callFrom(ctx).tenant)
		u, _ := url.Parse(base)
		q := url.Values{"mode": {"mdm"}, "servername": {base + "/EnrollmentServer/Discovery.svc"}, "accesstoken": {tok.Secret}}
		if in.Body != nil && in.Body.Email != "" {
			q.Set("username", in.Body.Email)
		}
		return &struct{ Body WindowsEnrollment }{Body: WindowsEnrollment{Token: tok.Secret, ExpiresAt: tok.ExpiresAt, Server: u.Host,
			DiscoveryURL: base + "/EnrollmentServer/Discovery.svc", DeepLink: "ms-device-enrollment:?" + q.Encode()}}, nil
	})
}
