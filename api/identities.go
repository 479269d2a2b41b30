package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/pki"
)

type identitiesOutput struct {
	Body struct {
		Items []pki.Identity `json:"items" nullable:"false" doc:"The device's identity certificates, newest first: the one it enrolled with and its renewals."`
	}
}

type revokeOutput struct {
	Body struct {
		Revoked int `json:"revoked" doc:"How many current certificates were revoked."`
	}
}

// identityRoutes show and revoke devices' identity certificates.
func (a *API) identityRoutes() {
	tags := []string{"Devices"}
	register(a, huma.Operation{
		OperationID: "list-device-certificates", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/devices/{device}/certificates", Tags: tags,
		Summary:     "List a device's identity certificates",
		Description: "The certificates issued by the tenant's CA that the device authenticates with (Apple's SCEP identity, Windows' enrollment certificate), with their expiry (`not_after`) and renewals. Windows renews its own before it expires; Apple devices get a fresh enrollment profile.",
	}, viewer, func(ctx context.Context, in *devicePath) (*identitiesOutput, error) {
		if a.d.PKI == nil {
			return nil, huma.Error501NotImplemented("device certificates are not available on this server")
		}
		out := &identitiesOutput{}
		err := a.read(ctx, func(ctx context.Context) error {
			if _, err := a.d.Inventory.Get(ctx, parseID(in.Device)); err != nil {
				return err
			}
			var err error
			out.Body.Items, err = a.d.PKI.Identities(ctx, parseID(in.Device))
			return err
		})
		if err != nil {
			return nil, err
		}
		if out.Body.Items == nil {
			out.Body.Items = []pki.Identity{}
		}
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "revoke-device-certificates", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/devices/{device}/certificates/revoke", Tags: tags,
		Summary: "Revoke a device's identity certificates",
		Description: "Every current certificate of the device is revoked at once: its Apple check-ins, Windows management sessions and renewals are refused at every endpoint of the tenant. " +
			"The device must enroll again to be managed. Unenrolling (Windows' own unenrollment, Apple's CheckOut) and an acknowledged erase revoke them too. Publishes device.certificates_revoked.",
	}, admin, func(ctx context.Context, in *devicePath) (*revokeOutput, error) {
		if a.d.PKI == nil {
			return nil, huma.Error501NotImplemented("device certificates are not available on this server")
		}
		out := &revokeOutput{}
		err := a.audited(ctx, func(ctx context.Context) error {
			d, err := a.d.Inventory.Get(ctx, parseID(in.Device))
			if err != nil {
				return err
			}
			out.Body.Revoked, err = a.d.PKI.Revoke(ctx, d.ID)
			return err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})
}
