package dashboard_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// The reports page (issue 24: missing) counts the tenant's own devices by
// OS version and model, by last check-in and by enrollment week, and a
// rule's failing devices, each table also a spreadsheet-safe CSV.
func TestReports(t *testing.T) {
	f := setup(t)
	f.as("cy") // a viewer
	ctx := tenancy.WithTenant(context.Background(), f.a.ID)
	if err := f.db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := f.inv.RecordTx(ctx, tx, inventory.Report{Platform: inventory.Apple, Identifier: "MAC-1", Name: "=HYPERLINK()",
			Model: "Mac14,2", OSVersion: "=1+1"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	base := "/dashboard/t/" + f.a.Slug + "/reports"
	code, page := f.get(base)
	want(t, "reports", code, page, 200, "Operating system versions", "10.0.22631", "Models", "Surface", "Last check-in",
		"Enrollments by week", base+"/os-versions.csv", `aria-labelledby="enrolled-weekly"`)
	if strings.Contains(page, "Secret Lab Mac") {
		t.Error("another tenant's device is counted")
	}
	code, body := f.get(base + "/os-versions.csv")
	if code != 200 {
		t.Fatalf("the CSV: %d %s", code, body)
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 || strings.Join(records[0], ",") != "Family,Version,Devices" {
		t.Fatalf("the OS versions CSV: %v", records)
	}
	if !strings.Contains(body, "'=1+1") || strings.Contains(body, "\n=1+1") {
		t.Errorf("a device's own text is a formula in the CSV: %s", body)
	}
	if code, _ := f.get(base + "/nothing.csv"); code != 404 {
		t.Errorf("a report that is not: %d", code)
	}
	if code, _ := f.get("/dashboard/t/" + f.b.Slug + "/reports"); code != 404 {
		t.Errorf("another tenant's reports: %d", code)
	}
}
