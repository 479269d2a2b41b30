package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
)

// UsageTotal is one tenant's use of one platform over a month.
type UsageTotal struct {
	Tenant        string             `json:"tenant" doc:"The tenant's slug."`
	Platform      inventory.Platform `json:"platform" enum:"apple,windows,android"`
	DeviceDays    int                `json:"device_days" doc:"Devices enrolled on each day, added up: a device counts on every UTC day it was enrolled at some moment of."`
	Enrollments   int                `json:"enrollments"`
	Unenrollments int                `json:"unenrollments"`
	Days          int                `json:"days" doc:"How many of the month's days are metered yet (a day is metered within the hour after it ends, UTC)."`
}

// UsageDay is a tenant's use of one platform on one UTC day.
type UsageDay struct {
	Day           string             `json:"day" format:"date"`
	Platform      inventory.Platform `json:"platform" enum:"apple,windows,android"`
	DeviceDays    int                `json:"device_days" doc:"1 if a device was enrolled at some moment of the day, added up over the devices."`
	Enrollments   int                `json:"enrollments"`
	Unenrollments int                `json:"unenrollments"`
}

type MonthQuery struct {
	Month string `query:"month" required:"true" pattern:"^[0-9]{4}-[0-9]{2}$" doc:"The month, YYYY-MM (UTC days)." example:"2026-11"`
}

type mspUsageOutput struct {
	Body struct {
		Month   string       `json:"month"`
		Tenants []UsageTotal `json:"tenants" nullable:"false"`
	}
}

type tenantUsageOutput struct {
	Body struct {
		Days []UsageDay `json:"days" nullable:"false"`
	}
}

func (q MonthQuery) month() (time.Time, error) { return msp.Month(q.Month) }

func (a *API) usageRoutes() {
	tags := []string{"Usage"}
	register(a, huma.Operation{
		OperationID: "get-msp-usage", Method: http.MethodGet, Path: "/v1/msps/{msp}/usage", Tags: tags,
		Summary: "The MSP's usage of a month, per tenant and platform",
		Description: "Device-days, enrollments and unenrollments of each tenant's days metered so far, for billing. " +
			"Each UTC day is metered once it has ended (within the hour), from the devices' enrolled history; a metered day never changes.",
	}, mspAdmin, func(ctx context.Context, in *struct {
		MSP string `path:"msp" doc:"The MSP's slug."`
		MonthQuery
	}) (*mspUsageOutput, error) {
		m, err := in.month()
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		ts, err := a.d.MSP.MSPUsage(ctx, callFrom(ctx).msp.ID, m)
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		out := &mspUsageOutput{}
		out.Body.Month = in.Month
		out.Body.Tenants = convert(ts, func(u msp.UsageTotal) UsageTotal {
			return UsageTotal{Tenant: u.Tenant, Platform: u.Platform, DeviceDays: u.DeviceDays, Enrollments: u.Enrollments, Unenrollments: u.Unenrollments, Days: u.Days}
		})
		return out, nil
	})
	register(a, huma.Operation{
		OperationID: "export-msp-usage", Method: http.MethodGet, Path: "/v1/msps/{msp}/usage/export", Tags: tags,
		Summary:     "Export the MSP's usage of a month as CSV",
		Description: "A row a tenant, metered day and platform (zeros included): tenant,day,platform,device_days,enrollments,unenrollments.",
		Responses:   map[string]*huma.Response{"200": {Description: "The rows.", Content: map[string]*huma.MediaType{"text/csv": {}}}},
	}, mspAdmin, func(ctx context.Context, in *struct {
		MSP string `path:"msp" doc:"The MSP's slug."`
		MonthQuery
	}) (*huma.StreamResponse, error) {
		m, err := in.month()
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		c := callFrom(ctx)
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "text/csv; charset=utf-8")
			hctx.SetHeader("Content-Disposition", `attachment; filename="`+c.msp.Slug+`-usage-`+in.Month+`.csv"`)
			if err := a.d.MSP.ExportUsage(ctx, c.msp.ID, m, hctx.BodyWriter()); err != nil {
				a.d.Log.ErrorContext(ctx, "usage export", "msp", c.msp.Slug, "err", err)
			}
		}}, nil
	})
	register(a, huma.Operation{
		OperationID: "get-tenant-usage", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/usage", Tags: tags,
		Summary:     "The tenant's metered days of a month",
		Description: "What its MSP bills by, day by day and platform by platform: the days metered so far.",
	}, admin, func(ctx context.Context, in *struct {
		TenantPath
		MonthQuery
	}) (*tenantUsageOutput, error) {
		m, err := in.month()
		if err != nil {
			return nil, a.problem(ctx, err)
		}
		days, err := readValue(a, ctx, func(ctx context.Context) ([]msp.UsageDay, error) { return a.d.MSP.TenantUsage(ctx, m) })
		if err != nil {
			return nil, err
		}
		out := &tenantUsageOutput{}
		out.Body.Days = convert(days, func(u msp.UsageDay) UsageDay {
			return UsageDay{Day: u.Day.Format(time.DateOnly), Platform: u.Platform, DeviceDays: u.DeviceDays, Enrollments: u.Enrollments, Unenrollments: u.Unenrollments}
		})
		return out, nil
	})
}

// DeviceLimit is a tenant's device limit and how much of it is used.
type DeviceLimit struct {
	Limit    *int `json:"limit" doc:"How many devices the tenant may have enrolled; null: no limit. At it, every platform's enrollment is refused; from 90% of it the console and the tenant's overview say so."`
	Enrolled int  `json:"enrolled"`
}

type deviceLimitOutput struct{ Body DeviceLimit }

type setDeviceLimitInput struct {
	MSP    string `path:"msp" doc:"The MSP's slug."`
	Tenant string `path:"tenant" doc:"The tenant's slug."`
	Body   struct {
		Limit *int `json:"limit" required:"true" nullable:"true" doc:"The most devices enrolled at once; null removes the limit. Below the devices enrolled now, it refuses new ones and leaves those as they are."`
	}
}

func (a *API) limitRoutes() {
	tags := []string{"Usage"}
	register(a, huma.Operation{
		OperationID: "set-device-limit", Method: http.MethodPut, Path: "/v1/msps/{msp}/tenants/{tenant}/device-limit", Tags: tags,
		Summary: "Set a tenant's device limit",
		Description: "The MSP caps the devices a tenant has enrolled (its contract). Past it, each platform's enrollment is refused with a clear error: " +
			"Windows' DeviceCapReached fault, a 403 to an Apple device's first check-in, no new Android enrollment token (a device Google enrolls " +
			"with an older token is held pending). Recorded in the tenant's audit log.",
	}, mspAdmin, func(ctx context.Context, in *setDeviceLimitInput) (*deviceLimitOutput, error) {
		t, err := a.mspTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		callFrom(ctx).tenant = t
		out := &deviceLimitOutput{}
		err = a.audited(ctx, func(ctx context.Context) error {
			l, err := a.d.Inventory.SetDeviceLimit(ctx, t, in.Body.Limit)
			out.Body = DeviceLimit(l)
			return err
		})
		return out, err
	})
	register(a, huma.Operation{
		OperationID: "get-device-limit", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/device-limit", Tags: tags,
		Summary: "The tenant's device limit and use",
	}, viewer, func(ctx context.Context, in *TenantPath) (*deviceLimitOutput, error) {
		l, err := readValue(a, ctx, a.d.Inventory.DeviceLimit)
		return &deviceLimitOutput{Body: DeviceLimit(l)}, err
	})
}
