package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// Console is an MSP's console: its tenants' figures totalled, each
// tenant's, and what needs attention across them, the most urgent first.
type Console struct {
	MSP       string          `json:"msp"`
	Totals    msp.Counts      `json:"totals" doc:"Every counted tenant's figures added up."`
	Tenants   []ConsoleTenant `json:"tenants" doc:"The counted tenants, by slug."`
	Pending   []string        `json:"pending" doc:"Tenants not counted yet (just made): their slugs. They are counted within the console's refresh interval."`
	Attention []ConsoleItem   `json:"attention" doc:"What needs an admin in the tenants: critical first, then the soonest due, then the most devices."`
	Tag       string          `json:"tag,omitempty" doc:"The tag the console is narrowed to."`
	Tags      []string        `json:"tags" doc:"Every tag of the MSP's tenants."`
}

// ConsoleTenant is one tenant's figures on the console.
type ConsoleTenant struct {
	Slug       string         `json:"slug"`
	Name       string         `json:"name"`
	Status     tenancy.Status `json:"status" enum:"active,suspended"`
	ComputedAt time.Time      `json:"computed_at" doc:"When the figures were counted."`
	Tags       []string       `json:"tags"`
	msp.Counts
	Attention int    `json:"attention" doc:"How many items need attention in the tenant."`
	Unread    string `json:"unread,omitempty" doc:"What could not be read at the last count (its items are missing until the next)."`
}

// ConsoleItem is one needs-attention item.
type ConsoleItem struct {
	Tenant   string             `json:"tenant" doc:"The tenant's slug."`
	Kind     string             `json:"kind" enum:"push_certificate,abm_token,failing_compliance,silent_devices,device_identities,android_enterprise,failing_webhook,pending_hostname,baseline_drift,android_quota,failed_bulk,failed_operation,device_limit"`
	Severity attention.Severity `json:"severity" enum:"critical,warning,notice"`
	Text     string             `json:"text"`
	Link     string             `json:"link" doc:"The dashboard page that fixes it."`
	Count    int                `json:"count,omitempty" doc:"How many devices, where it is about devices."`
	Due      *time.Time         `json:"due,omitempty" doc:"When it expires, or expired."`
}

type consoleInput struct {
	MSP string `path:"msp" doc:"The MSP's slug."`
	Tag string `query:"tag" maxLength:"63" doc:"Only the tenants with this tag."`
}

func (a *API) consoleRoutes() {
	register(a, huma.Operation{
		OperationID: "get-msp-console", Method: http.MethodGet, Path: "/v1/msps/{msp}/console", Tags: []string{"Tenants"},
		Summary: "An MSP's console: totals and what needs attention",
		Description: "Devices by platform, state and last check-in, and compliance, for every tenant of the MSP and in total; and what needs " +
			"an admin across them (expired or expiring push certificates and ABM tokens, failing compliance, silent devices, device " +
			"identities expiring unrenewed, Android Enterprise bindings, failing webhooks, hostnames waiting for DNS), ranked by urgency. " +
			"Each tenant's figures are counted in the background in its own transaction and answered from one read, so the answer " +
			"costs the same at any fleet size; they are a few seconds old (computed_at).",
	}, mspAdmin, func(ctx context.Context, in *consoleInput) (*struct{ Body Console }, error) {
		m := callFrom(ctx).msp
		c, err := a.d.MSP.Console(ctx, m.ID, in.Tag)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := Console{MSP: m.Slug, Totals: c.Totals, Tenants: []ConsoleTenant{}, Pending: []string{}, Attention: []ConsoleItem{},
			Tag: in.Tag, Tags: append([]string{}, c.Tags...)}
		for _, t := range c.Tenants {
			out.Tenants = append(out.Tenants, ConsoleTenant{Slug: t.Tenant.Slug, Name: t.Tenant.Name, Status: t.Tenant.Status,
				ComputedAt: t.ComputedAt, Tags: append([]string{}, t.Tags...), Counts: t.Counts, Attention: len(t.Attention), Unread: t.Unread})
		}
		for _, t := range c.Pending {
			out.Pending = append(out.Pending, t.Slug)
		}
		for _, it := range c.Attention {
			out.Attention = append(out.Attention, ConsoleItem{Tenant: it.Tenant.Slug, Kind: it.Kind, Severity: it.Severity, Text: it.Text,
				Link: it.Href(it.Tenant.Slug), Count: it.Count, Due: it.Due})
		}
		return &struct{ Body Console }{out}, nil
	})
}

// FoundDevice is a device a cross-tenant search found, with its tenant.
type FoundDevice struct {
	Tenant string `json:"tenant" doc:"The tenant's slug."`
	Device Device `json:"device"`
}

type searchInput struct {
	MSP string `path:"msp" doc:"The MSP's slug."`
	Q   string `query:"q" required:"true" minLength:"2" maxLength:"200" doc:"A device's name, user or serial number, or part of one; or its identifier (a UDID, a Windows device id) whole; or the IP address its last check-in came from."`
	PageParams
}

func (a *API) searchRoutes() {
	register(a, huma.Operation{
		OperationID: "search-msp-devices", Method: http.MethodGet, Path: "/v1/msps/{msp}/devices", Tags: []string{"Tenants"},
		Summary: "Find a device in any tenant of the MSP",
		Description: "Searches every tenant of the MSP, tenant by tenant (in slug order), each in its own transaction under its own " +
			"row-level security: names, users and serial numbers in part (case-insensitive), identifiers whole.",
	}, mspAdmin, func(ctx context.Context, in *searchInput) (*struct{ Body Page[FoundDevice] }, error) {
		var after msp.After
		if err := decodeCursor(in.Cursor, &after); err != nil {
			return nil, err
		}
		m := callFrom(ctx).msp
		tenants, err := a.d.Directory.ListTenants(ctx, m.ID)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		found, err := a.d.MSP.Search(ctx, tenants, in.Q, in.Limit+1, after)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		items := make([]FoundDevice, len(found))
		for i, f := range found {
			items[i] = FoundDevice{Tenant: f.Tenant.Slug, Device: deviceOf(f.Device)}
		}
		return &struct{ Body Page[FoundDevice] }{page(items, in.Limit, func(d FoundDevice) any {
			i := slices.IndexFunc(items, func(x FoundDevice) bool { return x.Device.ID == d.Device.ID })
			return msp.After{Tenant: found[i].Tenant.Slug, Key: found[i].Key, ID: found[i].Device.ID}
		})}, nil
	})
}

type tagsInput struct {
	MSP    string `path:"msp" doc:"The MSP's slug."`
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Body   struct {
		Tags []string `json:"tags" maxItems:"20" doc:"Lower-case letters, digits and : . _ -, a letter or digit first, at most 63 each: region:eu, plan:gold."`
	}
}

type tagsOutput struct {
	Body struct {
		Tags []string `json:"tags"`
	}
}

func (a *API) tagRoutes() {
	register(a, huma.Operation{
		OperationID: "set-tenant-tags", Method: http.MethodPut, Path: "/v1/msps/{msp}/tenants/{tenant}/tags", Tags: []string{"Tenants"},
		Summary:     "Set a tenant's tags",
		Description: "Replaces the tenant's tags (the MSP's labels: filter the console by them with ?tag=). Recorded in the tenant's audit log.",
	}, mspAdmin, func(ctx context.Context, in *tagsInput) (*tagsOutput, error) {
		c := callFrom(ctx)
		t, err := a.mspTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		c.tenant = t // the audit entry is the tenant's
		out := &tagsOutput{}
		err = a.audited(ctx, func(ctx context.Context) (err error) {
			if out.Body.Tags, err = a.d.MSP.SetTags(ctx, t, in.Body.Tags); err != nil {
				return err
			}
			return a.d.MSP.QueueApplyTenantTx(ctx, a.d.Jobs, t) // baselines assigned by tag
		})
		return out, err
	})
}

type setStatusInput struct {
	MSP    string `path:"msp" doc:"The MSP's slug."`
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Body   struct {
		Status tenancy.Status `json:"status" enum:"active,suspended"`
	}
}

// statusRoutes lets an MSP suspend and resume its tenants whatever access
// to their data each allows it: the customer relationship is the MSP's.
func (a *API) statusRoutes() {
	register(a, huma.Operation{
		OperationID: "set-tenant-status", Method: http.MethodPut, Path: "/v1/msps/{msp}/tenants/{tenant}/status", Tags: []string{"Tenants"},
		Summary: "Suspend or resume a tenant",
		Description: "As update-tenant's status, from the MSP's side: it needs no grant in the tenant, since it reads and changes none of " +
			"its data. A suspended tenant is read-only; its enrolled devices keep checking in and get no commands, and no new device enrolls. Recorded in the tenant's audit log.",
	}, mspAdmin, func(ctx context.Context, in *setStatusInput) (*tenantOutput, error) {
		c := callFrom(ctx)
		t, err := a.mspTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		c.tenant = t
		st := in.Body.Status
		err = a.audited(ctx, func(ctx context.Context) (err error) {
			t, err = a.d.Tenants.Update(ctx, tenancy.TenantUpdate{Status: &st})
			return err
		})
		if err != nil {
			return nil, err
		}
		return &tenantOutput{ETag: etag(t.UpdatedAt), Body: tenantOf(t)}, nil
	})
}

// mspTenant is the call's MSP's tenant of that slug: a tenant of another
// MSP, or none, is a 404.
func (a *API) mspTenant(ctx context.Context, slug string) (tenancy.Tenant, error) {
	t, err := a.d.Directory.TenantBySlug(ctx, slug)
	switch {
	case errors.Is(err, tenancy.ErrNotFound) || (err == nil && t.MSPID != callFrom(ctx).msp.ID):
		return tenancy.Tenant{}, huma.Error404NotFound("no such tenant in the MSP")
	case err != nil:
		return tenancy.Tenant{}, a.problem(ctx, err)
	}
	return t, nil
}
