package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
)

// BaselineRule is the compliance rule a baseline item makes in each
// tenant.
type BaselineRule struct {
	Name        string                 `json:"name" minLength:"1" maxLength:"200"`
	Platform    inventory.Platform     `json:"platform,omitempty" doc:"Only devices of this platform or Apple device family; empty for all."`
	Kind        compliance.Kind        `json:"kind"`
	Params      compliance.Params      `json:"params,omitempty"`
	Remediation compliance.Remediation `json:"remediation,omitempty"`
}

// BaselineItem is one item of a baseline, under a key that stays the
// same across versions: a compliance rule, an Apple profile, Windows
// settings or an Android policy fragment (exactly one).
type BaselineItem struct {
	Key             string               `json:"key" pattern:"^[a-z0-9][a-z0-9._-]{0,62}$"`
	Rule            *BaselineRule        `json:"rule,omitempty" doc:"A compliance rule each tenant gets."`
	AppleProfile    *BaselineProfile     `json:"apple_profile,omitempty" doc:"A configuration profile every enrolled Apple device of each tenant installs, once per version of it."`
	WindowsSettings *msp.WindowsSettings `json:"windows_settings,omitempty" doc:"OMA-DM settings every enrolled Windows device of each tenant applies (as the apply_settings command), once per version of them."`
	AndroidPolicy   *android.Fragment    `json:"android_policy,omitempty" doc:"Android policy settings laid over each of each tenant's Android policies: the settings it names replace the policy's, the rest stay the tenant's."`
}

// BaselineReach is what a baseline's next version would touch in one
// tenant.
type BaselineReach struct {
	Tenant  string       `json:"tenant"`
	Changes []msp.Change `json:"changes" nullable:"false" doc:"The items it would add, change or remove in the tenant."`
	Devices int          `json:"devices" doc:"Enrolled devices of the platforms those items are for."`
}

// BaselineProfile is an Apple configuration profile of a baseline.
type BaselineProfile struct {
	Profile    []byte `json:"profile" minLength:"1" maxLength:"700000" doc:"The .mobileconfig, unsigned, in base64."`
	Identifier string `json:"identifier,omitempty" readOnly:"true" doc:"Its PayloadIdentifier, read from it."`
	Name       string `json:"name,omitempty" readOnly:"true" doc:"Its PayloadDisplayName, read from it."`
}

// Baseline is an MSP's versioned set of items and whom it is for.
type Baseline struct {
	ID         uuid.UUID      `json:"id"`
	Name       string         `json:"name"`
	Version    int            `json:"version"`
	Items      []BaselineItem `json:"items"`
	AssignedTo []string       `json:"assigned_to" doc:"all, tenant:<slug>, tag:<tag>."`
	Rings      []msp.Ring     `json:"rings" doc:"The tenants a new version reaches first, in order, each at the version it was promoted to."`
	Released   int            `json:"released" doc:"The version the baseline's tenants in no ring have."`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func baselineOf(b msp.Baseline) Baseline {
	out := Baseline{ID: b.ID, Name: b.Name, Version: b.Version, AssignedTo: append([]string{}, b.AssignedTo...), CreatedBy: b.CreatedBy,
		Rings: append([]msp.Ring{}, b.Rings...), Released: b.Released,
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, Items: []BaselineItem{}}
	for _, it := range b.Items {
		item := BaselineItem{Key: it.Key, WindowsSettings: it.WindowsSettings, AndroidPolicy: it.AndroidPolicy}
		switch it.Kind() {
		case msp.ItemAppleProfile:
			p := it.AppleProfile
			item.AppleProfile = &BaselineProfile{Profile: p.Profile, Identifier: p.Identifier, Name: p.Name}
		case msp.ItemRule:
			r := it.Rule
			item.Rule = &BaselineRule{Name: r.Name, Platform: r.Platform, Kind: r.Kind, Params: r.Params, Remediation: r.Remediation}
		}
		out.Items = append(out.Items, item)
	}
	return out
}

func itemsOf(in []BaselineItem) []msp.Item {
	out := make([]msp.Item, len(in))
	for i, it := range in {
		out[i] = msp.Item{Key: it.Key, WindowsSettings: it.WindowsSettings, AndroidPolicy: it.AndroidPolicy}
		if r := it.Rule; r != nil {
			out[i].Rule = compliance.Rule{Name: r.Name, Platform: r.Platform, Kind: r.Kind, Params: r.Params, Remediation: r.Remediation, Enabled: true}
		}
		if p := it.AppleProfile; p != nil {
			out[i].AppleProfile = &msp.AppleProfile{Profile: p.Profile}
		}
	}
	return out
}

// maxBaselineBody bounds a baseline's items in a request: profiles are
// up to 512 KiB each.
const maxBaselineBody = 8 << 20

type baselineBody struct {
	Name  string         `json:"name" minLength:"1" maxLength:"200"`
	Items []BaselineItem `json:"items" maxItems:"200" doc:"Compliance rules, Apple profiles, Windows settings and Android policy fragments, each under a key that stays the same across versions."`
}

type baselineInput struct {
	MSP  string `path:"msp" doc:"The MSP's slug."`
	Body baselineBody
}

type BaselinePath struct {
	MSP string `path:"msp" doc:"The MSP's slug."`
	ID  string `path:"id" format:"uuid"`
}

type itemsInput struct {
	BaselinePath
	Body struct {
		Items []BaselineItem `json:"items" maxItems:"200"`
	}
}

type assignInput struct {
	BaselinePath
	Body struct {
		AssignedTo []string `json:"assigned_to" maxItems:"1000" doc:"all, tenant:<slug> or tag:<tag>, any of them."`
	}
}

type ringsInput struct {
	BaselinePath
	Body struct {
		Rings []RingDef `json:"rings" maxItems:"20" doc:"In order: each a name and its tenants. Each starts at the released version."`
	}
}

// RingDef is a ring of a baseline's rollout: a name and its tenants.
type RingDef struct {
	Name    string   `json:"name" minLength:"1" maxLength:"100"`
	Targets []string `json:"targets" minItems:"1" maxItems:"1000" doc:"tenant:<slug> or tag:<tag>; or one group:<name>, a ring of devices: in every tenant, the devices of its device group of that name get the ring's version of the profiles and settings first."`
	// SoakHours passes the ring's version on by itself.
	SoakHours int `json:"soak_hours,omitempty" minimum:"0" maximum:"2160" doc:"Once the ring has had a version this many hours with no failed application in its tenants, the next ring gets it without a person (checked every 10 minutes). 0 or absent: promoted by hand."`
}

type ringInput struct {
	BaselinePath
	Body struct {
		Ring string `json:"ring" minLength:"1" maxLength:"100" doc:"A ring's name, or everyone (the baseline's tenants in no ring)."`
	}
}

type overrideInput struct {
	TenantPath
	ID   string `path:"id" format:"uuid" doc:"The baseline."`
	Item string `path:"item" maxLength:"63" doc:"The item's key."`
	Body struct {
		Disabled bool               `json:"disabled,omitempty" doc:"Turn the item off in this tenant."`
		Params   *compliance.Params `json:"params,omitempty" doc:"A rule item's params, changed: version, hours or identifier, as the rule's kind takes."`
		Android  *android.Fragment  `json:"android_policy,omitempty" doc:"An Android policy item's settings, changed: those named replace the item's (its name is ignored)."`
		Settings map[string]string  `json:"settings,omitempty" doc:"A Windows settings item's values, changed, by node URI (only nodes the item sets)."`
		Reason   string             `json:"reason" minLength:"1" maxLength:"500"`
	}
}

func (a *API) baselineRoutes() {
	tags := []string{"Baselines"}
	register(a, huma.Operation{
		OperationID: "create-baseline", Method: http.MethodPost, Path: "/v1/msps/{msp}/baselines", Tags: tags,
		Summary: "Create a baseline", DefaultStatus: http.StatusCreated, MaxBodyBytes: maxBaselineBody,
		Description: "A versioned set of items (compliance rules, Apple profiles, Windows settings, Android policy fragments) the MSP assigns to its tenants; version 1, assigned to nobody yet.",
		Errors:      []int{http.StatusConflict},
	}, mspAdmin, func(ctx context.Context, in *baselineInput) (*struct{ Body Baseline }, error) {
		c := callFrom(ctx)
		b, err := a.d.MSP.CreateBaseline(ctx, c.msp.ID, in.Body.Name, itemsOf(in.Body.Items), c.principal.Subject)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Baseline }{baselineOf(b)}, nil
	})
	register(a, huma.Operation{
		OperationID: "list-baselines", Method: http.MethodGet, Path: "/v1/msps/{msp}/baselines", Tags: tags,
		Summary: "The MSP's baselines",
	}, mspAdmin, func(ctx context.Context, in *struct {
		MSP string `path:"msp"`
	}) (*struct{ Body Page[Baseline] }, error) {
		bs, err := a.d.MSP.Baselines(ctx, callFrom(ctx).msp.ID)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := make([]Baseline, len(bs))
		for i, b := range bs {
			out[i] = baselineOf(b)
		}
		return &struct{ Body Page[Baseline] }{Page[Baseline]{Items: out}}, nil
	})
	register(a, huma.Operation{
		OperationID: "set-baseline-items", Method: http.MethodPut, Path: "/v1/msps/{msp}/baselines/{id}/items", Tags: tags,
		Summary: "Make a baseline's next version", MaxBodyBytes: maxBaselineBody,
		Description: "The items become the next version; every tenant it is assigned to gets it applied in the background.",
	}, mspAdmin, func(ctx context.Context, in *itemsInput) (*struct{ Body Baseline }, error) {
		c := callFrom(ctx)
		b, err := a.d.MSP.SetItems(ctx, c.msp.ID, parseID(in.ID), itemsOf(in.Body.Items), c.principal.Subject)
		if err == nil {
			err = a.d.MSP.QueueApply(ctx, a.d.Jobs, c.msp.ID)
		}
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Baseline }{baselineOf(b)}, nil
	})
	register(a, huma.Operation{
		OperationID: "dry-run-baseline-items", Method: http.MethodPost, Path: "/v1/msps/{msp}/baselines/{id}/items/dry-run", Tags: tags,
		Summary: "What a baseline's next version would touch", MaxBodyBytes: maxBaselineBody,
		Description: "For each tenant the version would reach (its first ring, or every tenant it is for): the items it adds, changes or removes there (less those the tenant turned off), and the enrolled devices of their platforms. Nothing is changed.",
	}, mspAdmin, func(ctx context.Context, in *itemsInput) (*struct{ Body Page[BaselineReach] }, error) {
		ps, err := a.d.MSP.PreviewItems(ctx, callFrom(ctx).msp.ID, parseID(in.ID), itemsOf(in.Body.Items))
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := make([]BaselineReach, len(ps))
		for i, p := range ps {
			out[i] = BaselineReach{Tenant: p.Tenant.Slug, Devices: p.Devices, Changes: p.Changes}
		}
		return &struct{ Body Page[BaselineReach] }{Page[BaselineReach]{Items: out}}, nil
	})
	register(a, huma.Operation{
		OperationID: "assign-baseline", Method: http.MethodPut, Path: "/v1/msps/{msp}/baselines/{id}/assignment", Tags: tags,
		Summary:     "Assign a baseline to tenants",
		Description: "all, tenant:<slug> or tag:<tag>. Tenants it is now for get its items; tenants it is no longer for lose them, in the background.",
	}, mspAdmin, func(ctx context.Context, in *assignInput) (*struct{ Body Baseline }, error) {
		c := callFrom(ctx)
		b, err := a.d.MSP.Assign(ctx, c.msp.ID, parseID(in.ID), in.Body.AssignedTo)
		if err == nil {
			err = a.d.MSP.QueueApply(ctx, a.d.Jobs, c.msp.ID)
		}
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Baseline }{baselineOf(b)}, nil
	})
	a.baselineRingRoutes(tags)
	a.baselineTenantRoutes(tags)
}

// baselineRingRoutes are a baseline's rollout: rings, promotion, rollback.
func (a *API) baselineRingRoutes(tags []string) {
	for _, op := range []struct {
		id, path, summary, desc string
		move                    func(context.Context, uuid.UUID, uuid.UUID, string) (msp.Baseline, error)
	}{
		{"promote-baseline", "/promote", "Promote a baseline's version to the next ring",
			"The ring gets the version of the ring before it (the first ring: the latest version; everyone: the last ring's). Applied in the background.", a.d.MSP.Promote},
		{"roll-back-baseline", "/rollback", "Roll a ring back to the version before",
			"The ring (or everyone) gets the version before the one it has. Applied in the background.", a.d.MSP.Rollback},
	} {
		register(a, huma.Operation{OperationID: op.id, Method: http.MethodPost, Path: "/v1/msps/{msp}/baselines/{id}" + op.path, Tags: tags,
			Summary: op.summary, Description: op.desc, Errors: []int{http.StatusConflict}},
			mspAdmin, func(ctx context.Context, in *ringInput) (*struct{ Body Baseline }, error) {
				c := callFrom(ctx)
				b, err := op.move(ctx, c.msp.ID, parseID(in.ID), in.Body.Ring)
				if err == nil {
					err = a.d.MSP.QueueApply(ctx, a.d.Jobs, c.msp.ID)
				}
				if err != nil {
					return nil, a.problem(ctx, err)
				}
				return &struct{ Body Baseline }{baselineOf(b)}, nil
			})
	}
	register(a, huma.Operation{
		OperationID: "set-baseline-rings", Method: http.MethodPut, Path: "/v1/msps/{msp}/baselines/{id}/rings", Tags: tags,
		Summary:     "Set a baseline's rollout rings",
		Description: "A new version reaches the first ring only; promote it ring by ring, then to everyone, by hand or after a ring's soak time. Each ring starts at the released version.",
	}, mspAdmin, func(ctx context.Context, in *ringsInput) (*struct{ Body Baseline }, error) {
		c := callFrom(ctx)
		rings := make([]msp.Ring, len(in.Body.Rings))
		for i, r := range in.Body.Rings {
			rings[i] = msp.Ring{Name: r.Name, Targets: r.Targets, SoakHours: r.SoakHours}
		}
		b, err := a.d.MSP.SetRings(ctx, c.msp.ID, parseID(in.ID), rings)
		if err == nil {
			err = a.d.MSP.QueueApply(ctx, a.d.Jobs, c.msp.ID)
		}
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		return &struct{ Body Baseline }{baselineOf(b)}, nil
	})
}

// baselineTenantRoutes are a tenant's side of its baselines: overrides
// and drift.
func (a *API) baselineTenantRoutes(tags []string) {
	register(a, huma.Operation{
		OperationID: "set-baseline-override", Method: http.MethodPut, Path: "/v1/tenants/{tenant}/baselines/{id}/overrides/{item}", Tags: tags,
		Summary:     "Override one baseline item in the tenant",
		Description: "Turn the item off, or change its values (a rule's params, an Android policy item's settings, a Windows settings item's values), with a reason: the tenant keeps the baseline for everything else. An Apple profile item can only be turned off. Audited.",
	}, admin, func(ctx context.Context, in *overrideInput) (*struct{}, error) {
		c := callFrom(ctx)
		o := msp.Override{Baseline: parseID(in.ID), Item: in.Item, Disabled: in.Body.Disabled, Params: in.Body.Params, Android: in.Body.Android,
			Settings: in.Body.Settings, Reason: in.Body.Reason, By: c.principal.Subject}
		err := a.audited(ctx, func(ctx context.Context) error {
			if err := a.d.MSP.SetOverride(ctx, c.tenant, o); err != nil {
				return err
			}
			return a.d.MSP.QueueApplyTenantTx(ctx, a.d.Jobs, c.tenant)
		})
		return nil, err
	})
	register(a, huma.Operation{
		OperationID: "get-baseline-drift", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/baselines/drift", Tags: tags,
		Summary:     "How the tenant deviates from its baselines",
		Description: "Each item of each baseline assigned to the tenant: applied, overridden (with the reason), missing, changed locally; and not_applied for a baseline rule the tenant keeps that no baseline gives it any more.",
	}, viewer, func(ctx context.Context, in *struct{ TenantPath }) (*struct{ Body Page[msp.Drift] }, error) {
		ds, err := a.d.MSP.DriftOf(ctx, callFrom(ctx).tenant)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		if ds == nil {
			ds = []msp.Drift{}
		}
		return &struct{ Body Page[msp.Drift] }{Page[msp.Drift]{Items: ds}}, nil
	})
}
