package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

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
			return nil, errNoWindows
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
		err := a.audited(ctx, func(ctx context.Context) error {
			var err error
			tok, err = a.d.Windows.NewToken(ctx, ttl)
			return err
		})
		if err != nil {
			return nil, err
		}
		email := ""
		if in.Body != nil {
			email = in.Body.Email
		}
		l := enrollment.WindowsEnrollmentLinks(a.d.DeviceURL(callFrom(ctx).tenant), tok.Secret, email)
		return &struct{ Body WindowsEnrollment }{Body: WindowsEnrollment{Token: tok.Secret, ExpiresAt: tok.ExpiresAt, Server: l.Server,
			DiscoveryURL: l.DiscoveryURL, DeepLink: l.DeepLink}}, nil
	})

	fed := "/v1/tenants/{tenant}/windows/federation"
	register(a, huma.Operation{
		OperationID: "get-windows-federation", Method: http.MethodGet, Path: fed, Tags: tags,
		Summary: "Get the tenant's Windows federated sign-in",
		Description: "The OIDC provider people sign in with to enroll Windows devices (the Federated authentication policy). " +
			"Register redirect_uri with the provider for the client.",
	}, viewer, func(ctx context.Context, in *TenantPath) (*federationOutput, error) {
		if a.d.Windows == nil {
			return nil, errNoWindows
		}
		out := &federationOutput{}
		err := a.read(ctx, func(ctx context.Context) error {
			f, err := a.d.Windows.Federation(ctx)
			out.Body = a.federation(ctx, f)
			return err
		})
		return out, err
	})
	register(a, huma.Operation{
		OperationID: "put-windows-federation", Method: http.MethodPut, Path: fed, Tags: tags,
		Summary: "Set the tenant's Windows federated sign-in",
		Description: "From then on, Windows devices that offer the Federated policy (Settings > Accounts > Access work or school) " +
			"sign the person in with this provider on the tenant's login page instead of asking for an enrollment token.",
	}, admin, func(ctx context.Context, in *struct {
		TenantPath
		Body struct {
			Issuer         string   `json:"issuer" maxLength:"500" doc:"The provider's issuer URL (https), as its /.well-known/openid-configuration names it." example:"https://login.microsoftonline.com/{tenant-id}/v2.0"`
			ClientID       string   `json:"client_id" maxLength:"500"`
			ClientSecret   string   `json:"client_secret" maxLength:"2000" doc:"Stored sealed; never returned."`
			AllowedDomains []string `json:"allowed_domains,omitempty" maxItems:"50" doc:"Only people with a verified email in these domains may enroll; empty: anyone the provider signs in."`
		}
	}) (*federationOutput, error) {
		if a.d.Windows == nil {
			return nil, errNoWindows
		}
		out := &federationOutput{}
		err := a.audited(ctx, func(ctx context.Context) error {
			f, err := a.d.Windows.SetFederation(ctx, enrollment.Federation{Issuer: in.Body.Issuer, ClientID: in.Body.ClientID,
				ClientSecret: in.Body.ClientSecret, AllowedDomains: in.Body.AllowedDomains})
			out.Body = a.federation(ctx, f)
			return err
		})
		return out, err
	})
	register(a, huma.Operation{
		OperationID: "delete-windows-federation", Method: http.MethodDelete, Path: fed, Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Turn the tenant's Windows federated sign-in off", Description: "Devices are offered OnPremise (enrollment token) sign-in again.",
	}, admin, func(ctx context.Context, in *TenantPath) (*struct{}, error) {
		if a.d.Windows == nil {
			return nil, errNoWindows
		}
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.Windows.DeleteFederation(ctx) })
	})
}

var errNoWindows = huma.Error501NotImplemented("Windows management is off on this server (see --windows-device-identity)")

// WindowsFederation is a tenant's federated sign-in, without its secret.
type WindowsFederation struct {
	enrollment.Federation
	RedirectURI string `json:"redirect_uri" doc:"Register this with the provider as the client's redirect URI."`
}

type federationOutput struct{ Body WindowsFederation }

func (a *API) federation(ctx context.Context, f enrollment.Federation) WindowsFederation {
	return WindowsFederation{Federation: f, RedirectURI: a.d.DeviceURL(callFrom(ctx).tenant) + "/EnrollmentServer/Auth/callback"}
}
