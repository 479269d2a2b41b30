package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tridentmdm/trident/services/inventory"
)

type deviceCountsInput struct {
	TenantPath
	By    string `query:"by" enum:"os_version,model" default:"os_version" doc:"What to count enrolled devices by."`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" default:"200" doc:"At most this many groups, the largest first."`
}

type deviceCountsOutput struct {
	Body struct {
		By    string            `json:"by"`
		Items []inventory.Count `json:"items"`
	}
}

type enrollmentWeeksInput struct {
	TenantPath
	Weeks int `query:"weeks" minimum:"1" maximum:"104" default:"12" doc:"How many weeks back, this one included."`
}

type enrollmentWeeksOutput struct {
	Body struct {
		Items []inventory.Week `json:"items"`
	}
}

func (a *API) reportRoutes() {
	tags := []string{"Reports"}
	register(a, huma.Operation{
		OperationID: "count-devices", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/reports/devices", Tags: tags,
		Summary: "Count enrolled devices by OS version or model",
		Description: "The tenant's enrolled devices by platform, device family (an Apple device's family comes from its model: " +
			"an iPhone's 17.4 is not a Mac's) and the value they last reported, the largest groups first. The dashboard's reports page shows the same.",
	}, viewer, func(ctx context.Context, in *deviceCountsInput) (*deviceCountsOutput, error) {
		out := &deviceCountsOutput{}
		out.Body.By = in.By
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out.Body.Items, err = a.d.Inventory.CountBy(ctx, inventory.Property(in.By), in.Limit)
			return err
		})
		return out, err
	})
	register(a, huma.Operation{
		OperationID: "count-enrollments", Method: http.MethodGet, Path: "/v1/tenants/{tenant}/reports/enrollments", Tags: tags,
		Summary:     "Count enrollments by week",
		Description: "The tenant's devices by the week (from Monday, UTC) they enrolled, weeks with none included; a device enrolled again counts in its latest week.",
	}, viewer, func(ctx context.Context, in *enrollmentWeeksInput) (*enrollmentWeeksOutput, error) {
		out := &enrollmentWeeksOutput{}
		err := a.read(ctx, func(ctx context.Context) (err error) {
			out.Body.Items, err = a.d.Inventory.EnrolledByWeek(ctx, in.Weeks)
			return err
		})
		return out, err
	})
}
