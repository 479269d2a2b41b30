package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

type bulkInput struct {
	TenantPath
	IdempotencyKey
	Body struct {
		Kind      CommandKind        `json:"kind"`
		Payload   map[string]any     `json:"payload,omitempty"`
		Platform  inventory.Platform `json:"platform,omitempty" enum:"apple,windows,android" doc:"Only devices of this platform."`
		DeviceIDs []uuid.UUID        `json:"device_ids,omitempty" maxItems:"100000" doc:"Only these devices; leave out for every enrolled device (of the platform, or group)."`
		Group     *uuid.UUID         `json:"group,omitempty" doc:"Only this group's devices."`
	}
}

type bulkOutput struct {
	Replayed string `header:"Idempotent-Replayed"`
	Body     struct {
		BulkID uuid.UUID `json:"bulk_id" doc:"The commands queued carry created_by bulk:<bulk_id>:<caller>."`
	}
}

func (a *API) bulkRoutes() {
	register(a, huma.Operation{
		OperationID: "queue-bulk-command", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/commands/bulk", Tags: []string{"Commands"},
		Summary: "Send a command to many devices", DefaultStatus: http.StatusAccepted,
		Description: "Queues the command for every enrolled device that matches (all, a platform, or a list), in batches of " +
			"500 in the background; devices whose platform lacks the command are skipped. Destructive and takeover commands need the admin role (see docs/api.md, who may send what).",
	}, operator, func(ctx context.Context, in *bulkInput) (*bulkOutput, error) {
		c := callFrom(ctx)
		if err := mayCommand(c, string(in.Body.Kind), in.Body.Payload); err != nil {
			return nil, err
		}
		if a.d.Jobs == nil {
			return nil, huma.Error501NotImplemented("background jobs are not configured on this server")
		}
		var group uuid.UUID
		if in.Body.Group != nil {
			group = *in.Body.Group
		}
		out, replayed, err := idempotent(a, ctx, in.Key, in.Body, func(ctx context.Context) (*bulkOutput, error) {
			if group != uuid.Nil {
				gs, err := a.d.Inventory.Groups(ctx)
				if err != nil {
					return nil, err
				}
				if !slices.ContainsFunc(gs, func(g inventory.Group) bool { return g.ID == group }) {
					return nil, huma.Error404NotFound("no such group")
				}
			}
			out := &bulkOutput{}
			var err error
			out.Body.BulkID, err = a.d.Commands.QueueBulk(ctx, c.tenant.ID, commands.Bulk{Kind: string(in.Body.Kind), Payload: in.Body.Payload,
				Platform: in.Body.Platform, Devices: in.Body.DeviceIDs, Group: group, By: c.principal.Subject})
			return out, err
		})
		if err != nil {
			return nil, err
		}
		if replayed {
			out.Replayed = "true"
		}
		return out, nil
	})
}
