package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/dep"
)

type abmTokenPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Token  string `path:"token" format:"uuid" doc:"The ABM token's id."`
}

type abmTokenOutput struct {
	Location string `header:"Location"`
	Body     ABMToken
}

type createABMTokenInput struct {
	TenantPath
	Body struct {
		Label string `json:"label" minLength:"1" maxLength:"200" doc:"A name for the ABM MDM server this token stands for."`
	}
}

type createABMTokenOutput struct {
	Location string `header:"Location"`
	Body     struct {
		Token       ABMToken `json:"token"`
		Certificate string   `json:"certificate" doc:"The public key certificate (PEM) to upload to Apple Business Manager for the MDM server."`
		NextStep    string   `json:"next_step"`
	}
}

type uploadABMTokenInput struct {
	Tenant  string `path:"tenant" doc:"The tenant's slug."`
	Token   string `path:"token" format:"uuid" doc:"The ABM token's id."`
	RawBody []byte `contentType:"application/pkcs7-mime" doc:"The server token file downloaded from ABM (.p7m), as is."`
}

type updateABMTokenInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Token  string `path:"token" format:"uuid" doc:"The ABM token's id."`
	Body   struct {
		ProfileID *string `json:"profile_id" format:"uuid" doc:"The ADE profile assigned to devices ABM adds from now on; empty string for none."`
	}
}

type listABMDevicesInput struct {
	TenantPath
	Token string `query:"token" format:"uuid" doc:"Only devices of this ABM token."`
	PageParams
}

type serialCursor struct {
	S string `json:"s"`
}

type abmProfileBody struct {
	Name     string          `json:"name" minLength:"1" maxLength:"200"`
	Settings ProfileSettings `json:"settings"`
}

type createABMProfileInput struct {
	TenantPath
	Body abmProfileBody
}

type abmProfilePath struct {
	Tenant  string `path:"tenant" doc:"The tenant's slug."`
	Profile string `path:"profile" format:"uuid" doc:"The ADE profile's id."`
}

type updateABMProfileInput struct {
	Tenant  string `path:"tenant" doc:"The tenant's slug."`
	Profile string `path:"profile" format:"uuid" doc:"The ADE profile's id."`
	Body    abmProfileBody
}

type abmProfileOutput struct {
	Location string `header:"Location"`
	Body     ADEProfile
}

type assignABMInput struct {
	TenantPath
	Body struct {
		ProfileID     string   `json:"profile_id" format:"uuid"`
		SerialNumbers []string `json:"serial_numbers" minItems:"1" maxItems:"1000"`
	}
}

type abmProxyInput struct {
	Tenant   string `path:"tenant" doc:"The tenant's slug."`
	Token    string `path:"token" format:"uuid" doc:"The ABM token's id."`
	Endpoint string `path:"endpoint" doc:"The DEP API path, for example server/devices or device/activationlock."`
	RawBody  []byte
}

// abmProxyGetInput is abmProxyInput without a body (huma requires a
// RawBody when there is one).
type abmProxyGetInput struct {
	Tenant   string `path:"tenant" doc:"The tenant's slug."`
	Token    string `path:"token" format:"uuid" doc:"The ABM token's id."`
	Endpoint string `path:"endpoint" doc:"The DEP API path, for example account or profile."`
}

func tok(t dep.Token, err error) (ABMToken, error)      { return abmToken(t), err }
func prof(p dep.Profile, err error) (ADEProfile, error) { return adeProfile(p), err }
func toks(t []dep.Token, err error) ([]ABMToken, error) {
	return convert(t, abmToken), err
}
func profs(p []dep.Profile, err error) ([]ADEProfile, error) {
	return convert(p, adeProfile), err
}
func devs(d []dep.Device, err error) ([]ABMDevice, error) {
	return convert(d, func(x dep.Device) ABMDevice { return ABMDevice(x) }), err
}

var errNoABM = huma.Error501NotImplemented("Apple Business Manager is not configured on this server")

// abmEndpoint keeps the proxy to Apple's Device Assignment API paths.
func abmEndpoint(e string) (string, bool) {
	e = strings.Trim(e, "/")
	if e == "" || e == "session" || strings.Contains(e, "..") || strings.ContainsAny(e, "?#\\") {
		return "", false
	}
	return "/" + e, true
}

// The ABM operations' tag and path prefix.
var abmTags = []string{"Apple Business Manager"}

const abmBase = "/v1/tenants/{tenant}/abm"

func (a *API) abmRoutes() {
	a.abmTokenReadRoutes()
	a.abmTokenKeyRoutes()
	a.abmTokenChangeRoutes()
	a.abmDeviceRoutes()
	a.abmProfileRoutes()
	a.abmProxyRoutes()
}

// abmTokenReadRoutes registers creating an ABM server token and reading
// the tenant's tokens.
func (a *API) abmTokenReadRoutes() {
	tags, base := abmTags, abmBase
	register(a, huma.Operation{
		OperationID: "create-abm-token", Method: http.MethodPost, Path: base + "/tokens", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Start connecting an ABM MDM server",
		Description: "Makes the key pair of a new ABM server token. Upload the certificate to Apple Business Manager " +
			"(Preferences, your MDM server, Upload MDM Server Public Key), download the server token there, and PUT it to " +
			".../abm/tokens/{token}/server-token.",
	}, admin, func(ctx context.Context, in *createABMTokenInput) (*createABMTokenOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &createABMTokenOutput{}
		err := a.audited(ctx, func(ctx context.Context) error {
			t, cert, err := a.d.DEP.CreateToken(ctx, in.Body.Label)
			out.Body.Token, out.Body.Certificate = abmToken(t), string(cert)
			return err
		})
		if err != nil {
			return nil, err
		}
		out.Location = fmt.Sprintf("/v1/tenants/%s/abm/tokens/%s", in.Tenant, out.Body.Token.ID)
		out.Body.NextStep = "Upload certificate to Apple Business Manager for your MDM server, download its server token, " +
			"and PUT the file to " + out.Location + "/server-token."
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "list-abm-tokens", Method: http.MethodGet, Path: base + "/tokens", Tags: tags,
		Summary: "List ABM tokens", Description: "Every token with its status: anything but active is an alert to act on.",
	}, viewer, func(ctx context.Context, in *TenantPath) (*struct{ Body []ABMToken }, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &struct{ Body []ABMToken }{}
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out.Body, err = toks(a.d.DEP.Tokens(ctx))
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "get-abm-token", Method: http.MethodGet, Path: base + "/tokens/{token}", Tags: tags,
		Summary: "Get an ABM token",
	}, viewer, func(ctx context.Context, in *abmTokenPath) (*abmTokenOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &abmTokenOutput{}
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out.Body, err = tok(a.d.DEP.Token(ctx, parseID(in.Token)))
			return err
		})
		return out, err
	})

}

// abmTokenKeyRoutes registers the token's public key and the upload of
// Apple's server token.
func (a *API) abmTokenKeyRoutes() {
	tags, base := abmTags, abmBase
	register(a, huma.Operation{
		OperationID: "get-abm-token-certificate", Method: http.MethodGet, Path: base + "/tokens/{token}/certificate", Tags: tags,
		Summary: "Download the token's public key certificate", Description: "PEM, for uploading to Apple Business Manager.",
	}, admin, func(ctx context.Context, in *abmTokenPath) (*profileOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		var pemBytes []byte
		err := a.read(ctx, func(ctx context.Context) (err error) {
			pemBytes, err = a.d.DEP.Certificate(ctx, parseID(in.Token))
			return err
		})
		if err != nil {
			return nil, err
		}
		return &profileOutput{ContentType: "application/x-pem-file",
			ContentDisposition: `attachment; filename="trident-abm-` + in.Token + `.pem"`, Body: pemBytes}, nil
	})

	register(a, huma.Operation{
		OperationID: "upload-abm-server-token", Method: http.MethodPut, Path: base + "/tokens/{token}/server-token", Tags: tags,
		Summary: "Upload the server token from ABM",
		Description: "The .p7m file ABM lets you download for the MDM server, as the request body. Trident decrypts it with the " +
			"token's key, stores it sealed, reads the account details and starts a sync. Uploading a newer download renews the token.",
	}, admin, func(ctx context.Context, in *uploadABMTokenInput) (*abmTokenOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		tctx := tenantContext(ctx)
		id := parseID(in.Token)
		out := &abmTokenOutput{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			out.Body, err = tok(a.d.DEP.Upload(tctx, id, in.RawBody))
			return err
		})
		if err != nil {
			return nil, err
		}
		// The account details show the admin which ABM server this is; a
		// failure is on the token's status, not the upload's.
		if t, err := a.d.DEP.AccountDetails(tctx, id); err == nil {
			out.Body = abmToken(t)
		} else if err := a.read(ctx, func(ctx context.Context) (err error) { out.Body, err = tok(a.d.DEP.Token(ctx, id)); return err }); err != nil {
			return nil, err
		}
		return out, nil
	})

}

// abmTokenChangeRoutes registers the changes to a token: its default profile,
// removal, sync and the account refresh.
func (a *API) abmTokenChangeRoutes() {
	tags, base := abmTags, abmBase
	register(a, huma.Operation{
		OperationID: "update-abm-token", Method: http.MethodPatch, Path: base + "/tokens/{token}", Tags: tags,
		Summary: "Choose the ADE profile for new devices",
	}, admin, func(ctx context.Context, in *updateABMTokenInput) (*abmTokenOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		profile := uuid.Nil
		if p := in.Body.ProfileID; p != nil && *p != "" {
			profile = parseID(*p)
		}
		out := &abmTokenOutput{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			out.Body, err = tok(a.d.DEP.SetTokenProfile(ctx, parseID(in.Token), profile))
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "delete-abm-token", Method: http.MethodDelete, Path: base + "/tokens/{token}", Tags: tags,
		DefaultStatus: http.StatusNoContent, Summary: "Delete an ABM token",
		Description: "Forgets the token and the devices synced through it. Enrolled devices stay enrolled.",
	}, admin, func(ctx context.Context, in *abmTokenPath) (*struct{}, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.DEP.DeleteToken(ctx, parseID(in.Token)) })
	})

	register(a, huma.Operation{
		OperationID: "sync-abm-token", Method: http.MethodPost, Path: base + "/tokens/{token}/sync", Tags: tags,
		DefaultStatus: http.StatusAccepted, Summary: "Sync now",
		Description: "Queues a sync of the token's devices (one runs at a time per token; a queued one is not doubled).",
	}, operator, func(ctx context.Context, in *abmTokenPath) (*struct{}, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		return nil, a.audited(ctx, func(ctx context.Context) error {
			if _, err := a.d.DEP.Token(ctx, parseID(in.Token)); err != nil {
				return err
			}
			return a.d.DEP.EnqueueSync(ctx, parseID(in.Token))
		})
	})

	register(a, huma.Operation{
		OperationID: "refresh-abm-account", Method: http.MethodPost, Path: base + "/tokens/{token}/account", Tags: tags,
		Summary: "Read the account details from Apple", Errors: []int{http.StatusBadGateway, http.StatusConflict},
	}, admin, func(ctx context.Context, in *abmTokenPath) (*abmTokenOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		var t dep.Token
		if err := a.audited(ctx, func(ctx context.Context) (err error) {
			t, err = a.d.DEP.AccountDetails(ctx, parseID(in.Token))
			return err
		}); err != nil {
			return nil, err
		}
		return &abmTokenOutput{Body: abmToken(t)}, nil
	})

}

// abmDeviceRoutes registers the devices ABM assigned to the tenant and
// profile assignment.
func (a *API) abmDeviceRoutes() {
	tags, base := abmTags, abmBase
	register(a, huma.Operation{
		OperationID: "list-abm-devices", Method: http.MethodGet, Path: base + "/devices", Tags: tags,
		Summary: "List the devices ABM assigned to the tenant", Description: "By serial number.",
	}, viewer, func(ctx context.Context, in *listABMDevicesInput) (*struct{ Body Page[ABMDevice] }, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		var cur serialCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		var out []ABMDevice
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out, err = devs(a.d.DEP.Devices(ctx, dep.DeviceQuery{Token: parseID(in.Token), After: cur.S, Limit: in.Limit + 1}))
			return err
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[ABMDevice] }{page(out, in.Limit, func(d ABMDevice) any { return serialCursor{S: d.SerialNumber} })}, nil
	})

	register(a, huma.Operation{
		OperationID: "assign-abm-profile", Method: http.MethodPost, Path: base + "/devices/assign", Tags: tags,
		DefaultStatus: http.StatusAccepted, Summary: "Assign an ADE profile to devices",
		Description: "Queues the assignment (re-assigning devices that have a profile); failures at Apple are retried. " +
			"Each device's assign_status shows the outcome.",
	}, operator, func(ctx context.Context, in *assignABMInput) (*struct {
		Body struct {
			Queued int `json:"queued"`
		}
	}, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &struct {
			Body struct {
				Queued int `json:"queued"`
			}
		}{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			out.Body.Queued, err = a.d.DEP.RequestAssign(ctx, parseID(in.Body.ProfileID), in.Body.SerialNumbers)
			return err
		})
		return out, err
	})

}

// abmProfileRoutes registers the ADE enrollment profiles.
func (a *API) abmProfileRoutes() {
	tags, base := abmTags, abmBase
	register(a, huma.Operation{
		OperationID: "create-abm-profile", Method: http.MethodPost, Path: base + "/profiles", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Create an ADE profile",
		Description: "Setup Assistant settings for devices enrolling through ADE. Its enrollment URL is always the tenant's own; " +
			"Trident defines it with Apple for each token when it first assigns it.",
	}, admin, func(ctx context.Context, in *createABMProfileInput) (*abmProfileOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &abmProfileOutput{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			out.Body, err = prof(a.d.DEP.CreateProfile(ctx, in.Body.Name, dep.ProfileSettings(in.Body.Settings)))
			return err
		})
		out.Location = fmt.Sprintf("/v1/tenants/%s/abm/profiles/%s", in.Tenant, out.Body.ID)
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "list-abm-profiles", Method: http.MethodGet, Path: base + "/profiles", Tags: tags, Summary: "List ADE profiles",
	}, viewer, func(ctx context.Context, in *TenantPath) (*struct{ Body []ADEProfile }, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &struct{ Body []ADEProfile }{}
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out.Body, err = profs(a.d.DEP.Profiles(ctx))
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "get-abm-profile", Method: http.MethodGet, Path: base + "/profiles/{profile}", Tags: tags, Summary: "Get an ADE profile",
	}, viewer, func(ctx context.Context, in *abmProfilePath) (*abmProfileOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &abmProfileOutput{}
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out.Body, err = prof(a.d.DEP.Profile(ctx, parseID(in.Profile)))
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "update-abm-profile", Method: http.MethodPut, Path: base + "/profiles/{profile}", Tags: tags, Summary: "Replace an ADE profile",
		Description: "Devices assigned before keep the old settings at Apple until assigned again.",
	}, admin, func(ctx context.Context, in *updateABMProfileInput) (*abmProfileOutput, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		out := &abmProfileOutput{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			out.Body, err = prof(a.d.DEP.UpdateProfile(ctx, parseID(in.Profile), in.Body.Name, dep.ProfileSettings(in.Body.Settings)))
			return err
		})
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "delete-abm-profile", Method: http.MethodDelete, Path: base + "/profiles/{profile}", Tags: tags,
		DefaultStatus: http.StatusNoContent, Summary: "Delete an ADE profile",
	}, admin, func(ctx context.Context, in *abmProfilePath) (*struct{}, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.DEP.DeleteProfile(ctx, parseID(in.Profile)) })
	})

}

// abmProxyRoutes registers the pass-through to Apple's Device Assignment API.
func (a *API) abmProxyRoutes() {
	tags, base := abmTags, abmBase
	proxyOp := func(method string) huma.Operation {
		return huma.Operation{
			OperationID: "abm-proxy-" + strings.ToLower(method), Method: method, Path: base + "/tokens/{token}/proxy/{endpoint...}", Tags: tags,
			Summary: "Call Apple's Device Assignment API as the token (" + method + ")",
			Description: "For integrators who need an endpoint Trident does not wrap: the request (body, query, Content-Type, Accept, " +
				"X-Server-Protocol-Version) goes to Apple's DEP API at {endpoint}, authenticated as the token, and Apple's answer " +
				"comes back as is. Admins only; every call is audited.",
		}
	}
	proxy := func(ctx context.Context, tenant, token, endpoint string, body []byte) (*huma.StreamResponse, error) {
		if a.d.DEP == nil {
			return nil, errNoABM
		}
		path, ok := abmEndpoint(endpoint)
		if !ok {
			return nil, huma.Error400BadRequest("not a Device Assignment API endpoint: " + endpoint)
		}
		id := parseID(token)
		// The token must be the tenant's; the call is audited, reads too.
		if err := a.problem(ctx, a.rawAudited(ctx, true, func(ctx context.Context) error {
			_, err := a.d.DEP.Token(ctx, id)
			return err
		})); err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			r, w := humago.Unwrap(hctx)
			ans, err := a.d.DEP.Proxy(tenantContext(ctx), id, dep.ProxyCall{Method: r.Method, Endpoint: path,
				Query: r.URL.RawQuery, Header: r.Header, Body: body})
			if err != nil {
				a.writeProblem(ctx, hctx, err)
				return
			}
			for k, v := range ans.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(ans.Status)
			_, _ = w.Write(ans.Body)
		}}, nil
	}
	register(a, proxyOp(http.MethodGet), admin, func(ctx context.Context, in *abmProxyGetInput) (*huma.StreamResponse, error) {
		return proxy(ctx, in.Tenant, in.Token, in.Endpoint, nil)
	})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		register(a, proxyOp(method), admin, func(ctx context.Context, in *abmProxyInput) (*huma.StreamResponse, error) {
			return proxy(ctx, in.Tenant, in.Token, in.Endpoint, in.RawBody)
		})
	}
}
