package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
)

type ruleBody struct {
	Name        string                 `json:"name" minLength:"1" maxLength:"200"`
	Platform    inventory.Platform     `json:"platform,omitempty" enum:"apple,windows,android,macos,ios,ipados,tvos" doc:"Only devices of this platform, or of this Apple device family (macos, ios, ipados, tvos; from the device's model); leave out for all. A rule checks only families that have what it checks (firewall_enabled: macos and windows); it has no result for other devices, which count neither way."`
	Kind        compliance.Kind        `json:"kind" enum:"os_version_min,disk_encrypted,passcode_set,checked_in_within,firewall_enabled,app_required,app_forbidden"`
	Params      compliance.Params      `json:"params,omitempty" doc:"version for os_version_min; hours for checked_in_within; identifier for app_required and app_forbidden."`
	Remediation compliance.Remediation `json:"remediation,omitempty" doc:"A command to queue, once, when a device falls out of compliance with the rule."`
	Enabled     *bool                  `json:"enabled,omitempty" doc:"Default true."`
}

type createRuleInput struct {
	TenantPath
	IdempotencyKey
	Body ruleBody
}

type rulePath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The rule's id."`
}

type updateRuleInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The rule's id."`
	Body   struct {
		Enabled bool `json:"enabled"`
	}
}

type ruleOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     Rule
}

type rulesOutput struct {
	Body struct {
		Items []Rule `json:"items" nullable:"false"`
	}
}

type deviceComplianceOutput struct {
	Body struct {
		Compliant bool                `json:"compliant" doc:"Whether the device passes every rule that applies to it."`
		Results   []compliance.Result `json:"results" nullable:"false"`
	}
}

func (a *API) complianceRoutes() {
	tags := []string{"Compliance"}
	register(a, huma.Operation{
		OperationID: "list-compliance-rules", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/compliance/rules", Tags: tags,
		Summary: "List compliance rules",
	}, viewer, func(ctx context.Context, in *TenantPath) (*rulesOutput, error) {
		out := &rulesOutput{}
		err := a.read(ctx, func(ctx context.Context) error {
			rs, err := a.d.Compliance.Rules(ctx)
			out.Body.Items = convert(rs, func(r compliance.Rule) Rule { return Rule(r) })
			return err
		})
		if out.Body.Items == nil {
			out.Body.Items = []Rule{}
		}
		return out, err
	})

	register(a, huma.Operation{
		OperationID: "create-compliance-rule", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/compliance/rules", Tags: tags,
		Summary: "Create a compliance rule", DefaultStatus: http.StatusCreated,
		Description: "Every device of the tenant is evaluated against the rules again, in batches, after a rule changes.",
	}, admin, func(ctx context.Context, in *createRuleInput) (*ruleOutput, error) {
		out, replayed, err := idempotent(a, ctx, in.Key, in.Body, func(ctx context.Context) (*ruleOutput, error) {
			enabled := in.Body.Enabled == nil || *in.Body.Enabled
			r, err := a.d.Compliance.Create(ctx, compliance.Rule{Name: in.Body.Name, Platform: in.Body.Platform, Kind: in.Body.Kind,
				Params: in.Body.Params, Remediation: in.Body.Remediation, Enabled: enabled})
			if err != nil {
				return nil, err
			}
			return &ruleOutput{Body: Rule(r)}, nil
		})
		if err != nil {
			return nil, err
		}
		if replayed {
			out.Replayed = "true"
		}
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "update-compliance-rule", Method: http.MethodPatch, Path: "/v1/tenants/{tenant}/compliance/rules/{id}", Tags: tags,
		Summary: "Turn a compliance rule on or off",
	}, admin, func(ctx context.Context, in *updateRuleInput) (*ruleOutput, error) {
		out := &ruleOutput{}
		err := a.audited(ctx, func(ctx context.Context) error {
			r, err := a.d.Compliance.SetEnabled(ctx, parseID(in.ID), in.Body.Enabled)
			out.Body = Rule(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "delete-compliance-rule", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/compliance/rules/{id}", Tags: tags,
		Summary: "Delete a compliance rule", DefaultStatus: http.StatusNoContent,
	}, admin, func(ctx context.Context, in *rulePath) (*struct{}, error) {
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.Compliance.Delete(ctx, parseID(in.ID)) })
	})

	register(a, huma.Operation{
		OperationID: "get-device-compliance", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/devices/{device}/compliance", Tags: tags,
		Summary: "A device's compliance, rule by rule",
	}, viewer, func(ctx context.Context, in *devicePath) (*deviceComplianceOutput, error) {
		out := &deviceComplianceOutput{}
		err := a.read(ctx, func(ctx context.Context) error {
			if _, err := a.d.Inventory.Get(ctx, parseID(in.Device)); err != nil {
				return err
			}
			rs, err := a.d.Compliance.Results(ctx, parseID(in.Device))
			out.Body.Results = rs
			return err
		})
		if err != nil {
			return nil, err
		}
		out.Body.Compliant = true
		for _, r := range out.Body.Results {
			out.Body.Compliant = out.Body.Compliant && r.Compliant
		}
		if out.Body.Results == nil {
			out.Body.Results = []compliance.Result{}
		}
		return out, nil
	})
}
