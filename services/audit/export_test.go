package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The audit log exports whole, oldest first, in JSON Lines and in CSV
// (safe to open in a spreadsheet), past a page, filtered as the list is;
// another tenant's entries are not in it.
func TestExport(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	store := audit.NewStore(db, events.NewPublisher(nil))
	for i := range 1005 {
		actor := "ana"
		if i%2 == 1 {
			actor = "=cmd|' /C calc'!A0" // a subject that would be a formula
		}
		if err := store.Record(tenancy.WithTenant(context.Background(), a.ID), audit.Entry{Actor: actor, Action: "create-group", Target: "/v1/tenants/" + a.Slug + "/groups",
			Status: 201, Details: json.RawMessage(`{"name":"Kiosks"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Record(tenancy.WithTenant(context.Background(), b.ID), audit.Entry{Actor: "other", Action: "create-group", Status: 201}); err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), a.ID)
	var jl bytes.Buffer
	if err := store.Export(ctx, audit.Filter{}, audit.JSONLines, &jl); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jl.String()), "\n")
	if len(lines) != 1005 {
		t.Fatalf("JSON Lines: %d entries, want 1005", len(lines))
	}
	var first, last audit.Entry
	if json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1004]), &last) != nil || first.ID >= last.ID || first.Actor != "ana" {
		t.Errorf("not oldest first: %s ... %s", lines[0], lines[1004])
	}
	if strings.Contains(jl.String(), `"other"`) {
		t.Error("another tenant's entry is in the export")
	}
	var c bytes.Buffer
	if err := store.Export(ctx, audit.Filter{Actor: "=cmd|' /C calc'!A0"}, audit.CSV, &c); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 503 || rows[0][0] != "id" || rows[1][2] != "'=cmd|' /C calc'!A0" || rows[1][8] != `{"name": "Kiosks"}` {
		t.Errorf("CSV: %d rows, first %v", len(rows), rows[1])
	}
	if err := store.Export(ctx, audit.Filter{}, "xml", &c); !fault.Is(err, fault.Invalid) {
		t.Errorf("a format that is not one: %v", err)
	}
}
