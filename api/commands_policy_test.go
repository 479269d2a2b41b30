package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// One policy for single and bulk commands: an operator's takeover-class
// command (a setting that moves the device to another management server)
// is 403 with the reason, an admin's is queued; a viewer's reads show the
// command's secret values redacted, and neither the command rows nor
// River's job rows hold them.
func TestCommandPolicyAndSecrets(t *testing.T) {
	w := newWorld(t, api.Limits{})
	devs := w.enroll(t, w.a, inventory.Report{Platform: inventory.Windows, Identifier: "W-POLICY", Status: inventory.Enrolled})
	path := "/v1/tenants/" + w.a.Slug + "/devices/" + devs[0].ID.String() + "/commands"
	takeover := map[string]any{"kind": "apply_settings", "payload": map[string]any{"settings": []any{map[string]any{
		"loc_uri": "./Vendor/MSFT/DMClient/Provider/MS DM Server/ManagementServiceAddress", "value": "https://evil.example/mdm", "format": "chr"}}}}
	r := w.do(t, "operator-a", "POST", path, takeover)
	if r.status != 403 || !strings.Contains(r.raw, "management server") {
		t.Fatalf("an operator moving the device to another server: %d %s; want 403 with the reason", r.status, r.raw)
	}
	r = w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", takeover)
	if r.status != 403 {
		t.Fatalf("the same as a bulk command: %d %s; want 403", r.status, r.raw)
	}
	if r = w.do(t, "admin-a", "POST", path, takeover); r.status != 201 {
		t.Fatalf("an admin: %d %s", r.status, r.raw)
	}
	secret := map[string]any{"kind": "apply_settings", "payload": map[string]any{"settings": []any{map[string]any{
		"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Wifi/AllowInternetSharing", "value": "pre-shared-key-42", "format": "chr"}}}}
	if r = w.do(t, "operator-a", "POST", path, secret); r.status != 201 || strings.Contains(r.raw, "pre-shared-key-42") {
		t.Fatalf("an operator's ordinary setting: %d %s", r.status, r.raw)
	}
	if r = w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", secret); r.status != 202 {
		t.Fatalf("the same as a bulk command: %d %s", r.status, r.raw)
	}
	list := w.do(t, "viewer-a", "GET", path, nil)
	if list.status != 200 || strings.Contains(list.raw, "pre-shared-key-42") || strings.Contains(list.raw, "evil.example") ||
		!strings.Contains(list.raw, "[redacted]") || !strings.Contains(list.raw, "AllowInternetSharing") {
		t.Fatalf("a viewer's list: %s", list.raw)
	}
	ctx := tenancy.WithTenant(context.Background(), w.a.ID)
	var rows string
	if err := w.db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce(string_agg(payload::text, ' '), '') FROM commands`).Scan(&rows)
	}); err != nil {
		t.Fatal(err)
	}
	var jobs string
	if err := w.db.Writer().QueryRow(ctx, `SELECT coalesce(string_agg(args::text, ' '), '') FROM river.river_job`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]string{"command rows": rows, "River's jobs": jobs} {
		if strings.Contains(v, "pre-shared-key-42") || strings.Contains(v, "evil.example") {
			t.Errorf("%s hold a secret: %.300s", what, v)
		}
	}
}
