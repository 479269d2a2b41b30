package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/identity"
)

// Me is the caller as Trident sees them.
type Me struct {
	Subject  string           `json:"subject"`
	Name     string           `json:"name"`
	Client   bool             `json:"client" doc:"A service account (client-credentials grant)."`
	MSPAdmin []string         `json:"msp_admin" nullable:"false" doc:"Slugs of the MSPs the caller administers (and every tenant of each that allows its MSP standing access)."`
	MSPTech  []string         `json:"msp_technician" nullable:"false" doc:"Slugs of the MSPs the caller is a technician of: a role in their tenants comes from access grants only (list-msp-access-grants)."`
	Grants   []identity.Grant `json:"grants" nullable:"false" doc:"The caller's role (admin, operator or viewer) in single tenants, each named with its MSP, from the token."`
	MFA      bool             `json:"mfa" doc:"Whether the caller signed in with a second factor, as the token's amr or acr claim says (an MSP may require it: set-msp-sign-in-policy)."`
	AMR      []string         `json:"amr" nullable:"false" doc:"The token's amr claim: how the caller signed in (RFC 8176)."`
	ACR      string           `json:"acr,omitempty" doc:"The token's acr claim."`
}

type meOutput struct{ Body Me }

func (a *API) meRoutes() {
	register(a, huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/v1/me", Tags: []string{"Identity"},
		Summary:     "Who am I",
		Description: "The caller's identity and grants, as mapped from the bearer token's claims.",
	}, anyCaller, func(ctx context.Context, _ *struct{}) (*meOutput, error) {
		p := callFrom(ctx).principal
		m := Me{Subject: p.Subject, Name: p.Name, Client: p.Client, MSPAdmin: p.MSPAdmin, MSPTech: p.MSPTechnician, Grants: p.Grants,
			MFA: p.MFA, AMR: p.AMR, ACR: p.ACR}
		if m.AMR == nil {
			m.AMR = []string{}
		}
		if m.MSPAdmin == nil {
			m.MSPAdmin = []string{}
		}
		if m.MSPTech == nil {
			m.MSPTech = []string{}
		}
		if m.Grants == nil {
			m.Grants = []identity.Grant{}
		}
		return &meOutput{Body: m}, nil
	})
}
