package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

type listDevicesInput struct {
	TenantPath
	Platform    inventory.Platform `query:"platform" enum:"apple,windows,android" doc:"Only devices of this platform."`
	Status      inventory.Status   `query:"status" enum:"pending,enrolled,unenrolled" doc:"Only devices in this enrollment state."`
	Q           string             `query:"q" maxLength:"200" doc:"Search: part of the name, user or serial number (any case), or the exact platform identifier, or the address of its last check-in."`
	Group       string             `query:"group" format:"uuid" doc:"Only members of this group."`
	Compliance  string             `query:"compliance" enum:"compliant,noncompliant,unevaluated" doc:"Only devices that pass every evaluated rule, fail one, or have no results yet."`
	FailingRule string             `query:"failing_rule" format:"uuid" doc:"Only devices that fail this compliance rule now."`
	Sort        string             `query:"sort" default:"name" enum:"name,-name,last_seen_at,-last_seen_at,created_at,-created_at,serial,-serial" doc:"Order; '-' for descending."`
	PageParams
}

type deviceCursor struct {
	Key  string    `json:"k"`
	ID   uuid.UUID `json:"i"`
	Sort string    `json:"o"`
}

type devicePath struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Device string `path:"device" format:"uuid" doc:"The device's id."`
}

// parseID reads an id from a path; a malformed one names nothing.
func parseID(s string) uuid.UUID {
	id, _ := uuid.Parse(s)
	return id
}

type deviceOutput struct{ Body Device }

type commandOutput struct {
	Location string `header:"Location"`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this answer replays an earlier request with the same Idempotency-Key."`
	Body     Command
}

// CommandKind is a command kind a caller may queue: its schema's enum is
// the command service's list (commands.Offered), not kept by hand.
type CommandKind string

// Schema implements huma.SchemaProvider.
func (CommandKind) Schema(huma.Registry) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString}
	for _, k := range commands.Offered() {
		s.Enum = append(s.Enum, k)
	}
	return s
}

type queueCommandInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Device string `path:"device" format:"uuid" doc:"The device's id."`
	IdempotencyKey
	Body struct {
		Kind     CommandKind    `json:"kind" doc:"What to do; each platform carries it out its own way. erase and clear_passcode need the admin role."`
		Payload  map[string]any `json:"payload,omitempty" doc:"Options of the kind, for example a lock message."`
		Lifetime string         `json:"lifetime,omitempty" pattern:"^[0-9]+(m|h)$" doc:"How long the command may wait for the device (for example 30m or 48h); default 7 days."`
	}
}

type listCommandsInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Device string `path:"device" format:"uuid" doc:"The device's id."`
	PageParams
}

type listTenantCommandsInput struct {
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Status string `query:"status" enum:"queued,sent,not_now,acknowledged,error,expired,canceled" doc:"Only commands in this state."`
	Kind   string `query:"kind" doc:"Only commands of this kind."`
	PageParams
}

type commandPath struct {
	Tenant  string `path:"tenant" doc:"The tenant's slug."`
	Command string `path:"command" format:"uuid" doc:"The command's id."`
}

func (a *API) deviceRoutes() {
	a.inventoryRoutes()
	a.commandRoutes()
}

// inventoryRoutes registers reading the tenant's devices.
func (a *API) inventoryRoutes() {
	tags := []string{"Devices"}
	register(a, huma.Operation{
		OperationID: "list-devices", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/devices", Tags: tags,
		Summary: "List devices", Description: "The tenant's devices of every platform, filtered, sorted and paged.",
	}, viewer, func(ctx context.Context, in *listDevicesInput) (*struct{ Body Page[Device] }, error) {
		var cur deviceCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		if in.Cursor != "" && cur.Sort != in.Sort {
			return nil, huma.Error422UnprocessableEntity("the cursor belongs to another sort order")
		}
		var p inventory.Page
		err := a.read(ctx, func(ctx context.Context) error {
			var err error
			p, err = a.d.Inventory.List(ctx, inventory.Query{Platform: in.Platform, Status: in.Status, Search: in.Q, Group: parseID(in.Group),
				Compliance: in.Compliance, FailingRule: parseID(in.FailingRule), Sort: inventory.Sort(in.Sort), AfterKey: cur.Key, AfterID: cur.ID, Limit: in.Limit + 1})
			return err
		})
		if err != nil {
			return nil, err
		}
		keys := map[uuid.UUID]string{}
		for i, d := range p.Devices {
			keys[d.ID] = p.Keys[i]
		}
		return &struct{ Body Page[Device] }{page(convert(p.Devices, deviceOf), in.Limit, func(d Device) any {
			return deviceCursor{Key: keys[d.ID], ID: d.ID, Sort: in.Sort}
		})}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-device", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/devices/{device}", Tags: tags,
		Summary: "Get a device",
	}, viewer, func(ctx context.Context, in *devicePath) (*deviceOutput, error) {
		d, err := readValue(a, ctx, func(ctx context.Context) (inventory.Device, error) { return a.d.Inventory.Get(ctx, parseID(in.Device)) })
		if err != nil {
			return nil, err
		}
		return &deviceOutput{Body: deviceOf(d)}, nil
	})

}

// commandRoutes registers queuing, reading and canceling a device's commands.
func (a *API) commandRoutes() {
	ctags := []string{"Commands"}
	register(a, huma.Operation{
		OperationID: "queue-command", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/devices/{device}/commands", Tags: ctags,
		Summary: "Send a command to a device", DefaultStatus: http.StatusCreated,
		Description: "Queues the command; the device takes it at its next contact (Trident wakes it where the platform allows). " +
			"Follow it with GET .../commands/{command}, the command.* events, or a webhook. Send Idempotency-Key to retry safely.",
		Errors: []int{http.StatusConflict},
	}, operator, func(ctx context.Context, in *queueCommandInput) (*commandOutput, error) {
		c := callFrom(ctx)
		if err := mayCommand(c, string(in.Body.Kind), in.Body.Payload); err != nil {
			return nil, err
		}
		var lifetime time.Duration
		if in.Body.Lifetime != "" {
			var err error
			if lifetime, err = time.ParseDuration(in.Body.Lifetime); err != nil {
				return nil, huma.Error422UnprocessableEntity("invalid lifetime", &huma.ErrorDetail{Location: "body.lifetime", Message: err.Error()})
			}
		}
		out, replayed, err := idempotent(a, ctx, in.Key, in.Body, func(ctx context.Context) (*commandOutput, error) {
			cmd, err := a.d.Commands.Enqueue(ctx, commands.NewCommand{DeviceID: parseID(in.Device), Kind: string(in.Body.Kind),
				Payload: in.Body.Payload, Lifetime: lifetime, CreatedBy: c.principal.Subject})
			if err != nil {
				return nil, err
			}
			return &commandOutput{Location: fmt.Sprintf("/v1/tenants/%s/commands/%s", in.Tenant, cmd.ID), Body: commandOf(cmd)}, nil
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
		OperationID: "list-device-commands", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/devices/{device}/commands", Tags: ctags,
		Summary: "List a device's commands", Description: "Newest first, with their state and results.",
	}, viewer, func(ctx context.Context, in *listCommandsInput) (*struct{ Body Page[Command] }, error) {
		var cur idCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		cs, err := readValue(a, ctx, func(ctx context.Context) ([]commands.Command, error) {
			return a.d.Commands.ListForDevice(ctx, parseID(in.Device), cur.ID, in.Limit+1)
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Command] }{page(convert(cs, commandOf), in.Limit, func(c Command) any { return idCursor{ID: c.ID} })}, nil
	})

	register(a, huma.Operation{
		OperationID: "list-commands", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/commands", Tags: ctags,
		Summary: "List the tenant's commands", Description: "Every device's, newest first: the tenant's command history.",
	}, viewer, func(ctx context.Context, in *listTenantCommandsInput) (*struct{ Body Page[Command] }, error) {
		var cur idCursor
		if err := decodeCursor(in.Cursor, &cur); err != nil {
			return nil, err
		}
		cs, err := readValue(a, ctx, func(ctx context.Context) ([]commands.Command, error) {
			return a.d.Commands.List(ctx, commands.Query{Status: commands.Status(in.Status), Kind: in.Kind, After: cur.ID, Limit: in.Limit + 1})
		})
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Command] }{page(convert(cs, commandOf), in.Limit, func(c Command) any { return idCursor{ID: c.ID} })}, nil
	})

	register(a, huma.Operation{
		OperationID: "get-command", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/commands/{command}", Tags: ctags,
		Summary: "Get a command",
	}, viewer, func(ctx context.Context, in *commandPath) (*commandOutput, error) {
		cmd, err := readValue(a, ctx, func(ctx context.Context) (commands.Command, error) { return a.d.Commands.Get(ctx, parseID(in.Command)) })
		if err != nil {
			return nil, err
		}
		return &commandOutput{Body: commandOf(cmd)}, nil
	})

	register(a, huma.Operation{
		OperationID: "cancel-command", Method: http.MethodPost, Path: "/v1/tenants/{tenant}/commands/{command}/cancel", Tags: ctags,
		Summary: "Cancel a command", Description: "Only a command the device has not taken yet can be canceled; otherwise 409.",
		Errors: []int{http.StatusConflict},
	}, operator, func(ctx context.Context, in *commandPath) (*commandOutput, error) {
		var cmd commands.Command
		err := a.audited(ctx, func(ctx context.Context) error {
			var err error
			cmd, err = a.d.Commands.Cancel(ctx, parseID(in.Command))
			return err
		})
		if err != nil {
			return nil, err
		}
		return &commandOutput{Body: commandOf(cmd)}, nil
	})
}

// mayCommand asks the commands policy whether the caller may send kind
// with payload in the tenant: 403 with the reason if not.
func mayCommand(c *call, kind string, payload map[string]any) error {
	if err := commands.Authorize(c.access.Role, kind, payload); err != nil {
		return huma.Error403Forbidden(err.Error())
	}
	return nil
}
