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
	MSPAdmin []string         `json:"msp_admin" nullable:"false" doc:"Slugs of the MSPs the caller administers (every tenant of each)."`
	Grants   []identity.Grant `json:"grants" nullable:"false" doc:"The caller's role (admin, operator or viewer) in single tenants, each named with its MSP."`
}

type meOutput struct{ Body Me }

func (a *API) meRoutes() {
	register(a, huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/v1/me", Tags: []string{"Identity"},
		Summary:     "Who am I",
		Description: "The caller's identity and grants, as mapped from the bearer token's claims.",
	}, anyCaller, func(ctx context.Context, _ *struct{}) (*meOutput, error) {
		p := callFrom(ctx).principal
		m := Me{Subject: p.Subject, Name: p.Name, Client: p.Client, MSPAdmin: p.MSPAdmin, Grants: p.Grants}
		if m.MSPAdmin == nil {
			m.MSPAdmin = []string{}
		}
		if m.Grants == nil {
			m.Grants = []identity.Grant{}
		}
		return &meOutput{Body: m}, nil
	})
}
