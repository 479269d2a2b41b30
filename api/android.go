package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/android"
)

var errNoAndroid = huma.Error501NotImplemented("Android management is not configured on this server (--android-project)")

type androidPolicyBody struct {
	Name     string         `json:"name" minLength:"1" maxLength:"200"`
	GroupID  string         `json:"group_id,omitempty" format:"uuid" doc:"Move this device group's Android devices to the policy."`
	Settings PolicySettings `json:"settings"`
}

type androidPolicyPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Policy string `path:"policy" format:"uuid" doc:"The policy's id."`
}

type androidTokenPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Token  string `path:"token" format:"uuid" doc:"The enrollment token's id."`
}

func optionalID(s string) *uuid.UUID {
	if s == "" {
		return nil
	}
	id := parseID(s)
	return &id
}

// The Android operations' tag, path prefix, and the answers a call that
// reaches Google may give besides success.
var (
	androidTags = []string{"Android"}
	googleErrs  = []int{http.StatusConflict, http.StatusBadGateway, http.StatusServiceUnavailable}
)

const androidBase = "/v1/tenants/{tenant}/android"

func (a *API) androidRoutes() {
	a.androidEnterpriseRoutes()
	a.androidPolicyRoutes()
	a.androidTokenRoutes()
}

// androidEnterpriseRoutes registers the tenant's Android enterprise:
// reading it, signing up, unbinding and syncing.
func (a *API) androidEnterpriseRoutes() {
	tags, base := androidTags, androidBase
	register(a, huma.Operation{
		OperationID: "get-android-enterprise", Method: http.MethodGet, Path: base + "/enterprise", Tags: tags,
		Summary: "Get the tenant's Android enterprise",
	}, viewer, func(ctx context.Context, in *TenantPath) (*struct{ Body AndroidEnterprise }, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		out := &struct{ Body AndroidEnterprise }{}
		err := a.read(ctx, func(ctx context.Context) error {
			e, err := a.d.Android.Enterprise(ctx)
			out.Body = AndroidEnterprise(e)
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "android-signup", Method: http.MethodPost, Path: base + "/enterprise/signup", Tags: tags,
		Summary: "Start binding an Android enterprise", Errors: googleErrs,
		Description: "Answers Google's signup URL: the admin opens it, signs up (or picks) the organization's managed Google " +
			"account, and Google sends them back to the tenant's /android/callback, which creates the enterprise.",
	}, admin, func(ctx context.Context, in *struct {
		TenantPath
		Body struct {
			AdminEmail string `json:"admin_email,omitempty" maxLength:"250" doc:"Pre-fill Google's signup with this admin."`
		}
	}) (*struct {
		Body struct {
			SignupURL string `json:"signup_url"`
		}
	}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		var u string
		if err := a.audited(ctx, func(ctx context.Context) (err error) {
			u, err = a.d.Android.Signup(ctx, in.Body.AdminEmail)
			return err
		}); err != nil {
			return nil, err
		}
		out := &struct {
			Body struct {
				SignupURL string `json:"signup_url"`
			}
		}{}
		out.Body.SignupURL = u
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "android-unbind", Method: http.MethodDelete, Path: base + "/enterprise", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Unbind the Android enterprise", Errors: googleErrs,
		Description: "Deletes the enterprise at Google: its devices leave management. They show unenrolled.",
	}, admin, func(ctx context.Context, in *TenantPath) (*struct{}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		return nil, a.audited(ctx, a.d.Android.Unbind)
	})

	register(a, huma.Operation{
		OperationID: "android-sync", Method: http.MethodPost, Path: base + "/sync", Tags: tags, DefaultStatus: http.StatusAccepted,
		Summary: "Sync Android devices from Google", Description: "Notifications keep devices current; this lists them all again.",
	}, operator, func(ctx context.Context, in *TenantPath) (*struct{}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		return nil, a.audited(ctx, a.d.Android.RequestSync)
	})

}

// androidPolicyRoutes registers the Android policies.
func (a *API) androidPolicyRoutes() {
	tags, base := androidTags, androidBase
	register(a, huma.Operation{
		OperationID: "create-android-policy", Method: http.MethodPost, Path: base + "/policies", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Create an Android policy",
		Description: "Password, encryption, camera, apps and compliance enforcement. It is published to Google by a job " +
			"(retried with backoff); version and publish_error show the outcome.",
	}, admin, func(ctx context.Context, in *struct {
		TenantPath
		Body androidPolicyBody
	}) (*struct {
		Location string `header:"Location"`
		Body     AndroidPolicy
	}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		out := &struct {
			Location string `header:"Location"`
			Body     AndroidPolicy
		}{}
		err := a.audited(ctx, func(ctx context.Context) error {
			p, err := a.d.Android.SavePolicy(ctx, uuid.Nil, in.Body.Name, optionalID(in.Body.GroupID), in.Body.Settings.settings())
			out.Body = androidPolicy(p)
			return err
		})
		out.Location = fmt.Sprintf("/v1/tenants/%s/android/policies/%s", in.Tenant, out.Body.ID)
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "update-android-policy", Method: http.MethodPut, Path: base + "/policies/{policy}", Tags: tags,
		Summary: "Replace an Android policy", Description: "Published again; devices on it take the new version.",
	}, admin, func(ctx context.Context, in *struct {
		Tenant string `path:"tenant" doc:"The tenant's slug."`
		Policy string `path:"policy" format:"uuid" doc:"The policy's id."`
		Body   androidPolicyBody
	}) (*struct{ Body AndroidPolicy }, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		out := &struct{ Body AndroidPolicy }{}
		err := a.audited(ctx, func(ctx context.Context) error {
			p, err := a.d.Android.SavePolicy(ctx, parseID(in.Policy), in.Body.Name, optionalID(in.Body.GroupID), in.Body.Settings.settings())
			out.Body = androidPolicy(p)
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "list-android-policies", Method: http.MethodGet, Path: base + "/policies", Tags: tags, Summary: "List Android policies",
	}, viewer, func(ctx context.Context, in *TenantPath) (*struct{ Body []AndroidPolicy }, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		out := &struct{ Body []AndroidPolicy }{}
		err := a.read(ctx, func(ctx context.Context) error {
			ps, err := a.d.Android.Policies(ctx)
			out.Body = convert(ps, androidPolicy)
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "get-android-policy", Method: http.MethodGet, Path: base + "/policies/{policy}", Tags: tags, Summary: "Get an Android policy",
	}, viewer, func(ctx context.Context, in *androidPolicyPath) (*struct{ Body AndroidPolicy }, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		out := &struct{ Body AndroidPolicy }{}
		err := a.read(ctx, func(ctx context.Context) error {
			p, err := a.d.Android.Policy(ctx, parseID(in.Policy))
			out.Body = androidPolicy(p)
			return err
		})
		return out, err
	})

}

// androidTokenRoutes registers the Android enrollment tokens and their QR
// codes.
func (a *API) androidTokenRoutes() {
	tags, base := androidTags, androidBase
	register(a, huma.Operation{
		OperationID: "create-android-enrollment-token", Method: http.MethodPost, Path: base + "/enrollment-tokens", Tags: tags,
		DefaultStatus: http.StatusCreated, Summary: "Create an Android enrollment token", Errors: googleErrs,
		Description: "For a published policy. Show the QR code (.../qr.png) at a factory-reset device's welcome screen (tap six " +
			"times), or use the link.",
	}, operator, func(ctx context.Context, in *struct {
		TenantPath
		Body struct {
			PolicyID string `json:"policy_id" format:"uuid"`
			Lifetime string `json:"lifetime,omitempty" doc:"How long it can be used, as a Go duration (1m to 2160h); default 24h."`
			OneTime  bool   `json:"one_time,omitempty" doc:"Only one device may enroll with it."`
		}
	}) (*struct {
		Location string `header:"Location"`
		Body     AndroidEnrollmentToken
	}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		lifetime := 24 * time.Hour
		if in.Body.Lifetime != "" {
			d, err := time.ParseDuration(in.Body.Lifetime)
			if err != nil {
				return nil, a.problem(ctx, fault.InvalidField("lifetime", "not a duration such as 24h"))
			}
			lifetime = d
		}
		var t android.EnrollmentToken
		if err := a.audited(ctx, func(ctx context.Context) (err error) {
			t, err = a.d.Android.CreateEnrollmentToken(ctx, parseID(in.Body.PolicyID), lifetime, in.Body.OneTime)
			return err
		}); err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     AndroidEnrollmentToken
		}{fmt.Sprintf("/v1/tenants/%s/android/enrollment-tokens/%s", in.Tenant, t.ID), AndroidEnrollmentToken(t)}, nil
	})

	register(a, huma.Operation{
		OperationID: "list-android-enrollment-tokens", Method: http.MethodGet, Path: base + "/enrollment-tokens", Tags: tags,
		Summary: "List usable Android enrollment tokens",
	}, operator, func(ctx context.Context, in *TenantPath) (*struct{ Body []AndroidEnrollmentToken }, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		out := &struct{ Body []AndroidEnrollmentToken }{}
		err := a.read(ctx, func(ctx context.Context) error {
			ts, err := a.d.Android.EnrollmentTokens(ctx)
			out.Body = convert(ts, func(t android.EnrollmentToken) AndroidEnrollmentToken { return AndroidEnrollmentToken(t) })
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "get-android-enrollment-qr", Method: http.MethodGet, Path: base + "/enrollment-tokens/{token}/qr.png", Tags: tags,
		Summary: "The enrollment token's QR code", Description: "A PNG of the provisioning payload, for a device's setup to scan.",
	}, operator, func(ctx context.Context, in *struct {
		Tenant string `path:"tenant" doc:"The tenant's slug."`
		Token  string `path:"token" format:"uuid" doc:"The enrollment token's id."`
		Size   int    `query:"size" minimum:"128" maximum:"2048" default:"512" doc:"Width and height in pixels."`
	}) (*struct {
		ContentType string `header:"Content-Type"`
		Body        []byte
	}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		var t android.EnrollmentToken
		if err := a.read(ctx, func(ctx context.Context) (err error) {
			t, err = a.d.Android.EnrollmentToken(ctx, parseID(in.Token))
			return err
		}); err != nil {
			return nil, err
		}
		png, err := android.QRCodePNG(t, in.Size)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct {
			ContentType string `header:"Content-Type"`
			Body        []byte
		}{"image/png", png}, nil
	})

	register(a, huma.Operation{
		OperationID: "revoke-android-enrollment-token", Method: http.MethodDelete, Path: base + "/enrollment-tokens/{token}", Tags: tags,
		DefaultStatus: http.StatusNoContent, Summary: "Revoke an Android enrollment token", Errors: googleErrs,
	}, operator, func(ctx context.Context, in *androidTokenPath) (*struct{}, error) {
		if a.d.Android == nil {
			return nil, errNoAndroid
		}
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.Android.RevokeEnrollmentToken(ctx, parseID(in.Token)) })
	})
}
