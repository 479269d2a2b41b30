package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
)

type groupsOutput struct {
	Body struct {
		Items []Group `json:"items" nullable:"false"`
	}
}

type createGroupInput struct {
	TenantPath
	IdempotencyKey
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"200"`
	}
}

type groupOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     Group
}

type groupPath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The group's id."`
}

type membersInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	ID     string `path:"id" format:"uuid" doc:"The group's id."`
	Body   struct {
		Add    []uuid.UUID `json:"add,omitempty" maxItems:"10000" doc:"Devices to add."`
		Remove []uuid.UUID `json:"remove,omitempty" maxItems:"10000" doc:"Devices to remove."`
	}
}

type membersOutput struct {
	Body struct {
		Added   int `json:"added"`
		Removed int `json:"removed"`
	}
}

func (a *API) groupRoutes() {
	tags := []string{"Devices"}
	register(a, huma.Operation{
		OperationID: "list-groups", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/groups", Tags: tags,
		Summary: "List device groups",
	}, viewer, func(ctx context.Context, in *TenantPath) (*groupsOutput, error) {
		gs, err := a.d.Inventory.Groups(tenantContext(ctx))
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := &groupsOutput{}
		out.Body.Items = convert(gs, groupOf)
		return out, nil
	})

	register(a, huma.Operation{
		OperationID: "create-group", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/groups", Tags: tags,
		Summary: "Create a device group", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
	}, admin, func(ctx context.Context, in *createGroupInput) (*groupOutput, error) {
		out, replayed, err := idempotent(a, ctx, in.Key, in.Body, func(ctx context.Context) (*groupOutput, error) {
			g, err := a.d.Inventory.CreateGroup(ctx, in.Body.Name)
			return &groupOutput{Body: groupOf(g)}, err
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
		OperationID: "delete-group", Method: http.MethodDelete, Path: "/v1/tenants/{tenant}/groups/{id}", Tags: tags,
		Summary: "Delete a device group (not its devices)", DefaultStatus: http.StatusNoContent,
	}, admin, func(ctx context.Context, in *groupPath) (*struct{}, error) {
		return nil, a.audited(ctx, func(ctx context.Context) error { return a.d.Inventory.DeleteGroup(ctx, parseID(in.ID)) })
	})

	register(a, huma.Operation{
		OperationID: "change-group-members", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/groups/{id}/members", Tags: tags,
		Summary: "Add devices to a group, or remove them",
	}, admin, func(ctx context.Context, in *membersInput) (*membersOutput, error) {
		out := &membersOutput{}
		err := a.audited(ctx, func(ctx context.Context) (err error) {
			if len(in.Body.Add) > 0 {
				if out.Body.Added, err = a.d.Inventory.SetMembers(ctx, parseID(in.ID), in.Body.Add, true); err != nil {
					return err
				}
			}
			if len(in.Body.Remove) > 0 {
				out.Body.Removed, err = a.d.Inventory.SetMembers(ctx, parseID(in.ID), in.Body.Remove, false)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	})
}
