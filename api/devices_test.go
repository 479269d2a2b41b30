package api_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/migrations"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
	"github.com/tridentmdm/trident/workers"
)

// enroll records devices as the platform protocols do when devices check in.
func (w *world) enroll(t testing.TB, tn tenancy.Tenant, reports ...inventory.Report) []inventory.Device {
	t.Helper()
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	var out []inventory.Device
	err := w.db.Tx(ctx, func(tx pgx.Tx) error {
		for _, r := range reports {
			d, err := w.inv.RecordTx(ctx, tx, r)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The integrator's day: with a client-credentials token, list, filter and
// page devices; queue a command idempotently; receive the signed webhook
// when the device acknowledges it.
func TestIntegratorFlow(t *testing.T) {
	w := newWorld(t, api.Limits{})
	var reports []inventory.Report
	for i := range 7 {
		p := []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}[i%3]
		reports = append(reports, inventory.Report{Platform: p, Identifier: fmt.Sprintf("dev-%d", i),
			SerialNumber: fmt.Sprintf("SN%03d", i), Name: fmt.Sprintf("Laptop %d", i), OSVersion: "1.0"})
	}
	devs := w.enroll(t, w.a, reports...)
	w.enroll(t, w.b, inventory.Report{Platform: inventory.Apple, Identifier: "b-only", Name: "Laptop B"})

	// Pages of two, by name, walk all seven devices of tenant A only.
	var names []string
	cursor := ""
	for {
		r := w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?limit=2&sort=name&cursor="+url.QueryEscape(cursor), nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		for _, it := range r.body["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(names) != 7 || names[0] != "Laptop 0" || names[6] != "Laptop 6" {
		t.Fatalf("paged names %v", names)
	}
	// Filters: platform, and a search by serial number.
	r := w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?platform=windows", nil)
	if items := r.body["items"].([]any); len(items) != 2 {
		t.Fatalf("windows devices: %s", r.raw)
	}
	r = w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?q=sn004", nil)
	if items := r.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["serial_number"] != "SN004" {
		t.Fatalf("search: %s", r.raw)
	}
	// No rules yet: every device is unevaluated, none compliant.
	r = w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?compliance=unevaluated&platform=windows", nil)
	if items := r.body["items"].([]any); r.status != 200 || len(items) != 2 {
		t.Fatalf("unevaluated windows devices: %s", r.raw)
	}
	if r = w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?compliance=compliant", nil); r.status != 200 || len(r.body["items"].([]any)) != 0 {
		t.Fatalf("compliant devices: %s", r.raw)
	}
	if r = w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?compliance=mostly", nil); r.status != 422 {
		t.Fatalf("a bad compliance filter: %s", r.raw)
	}
	r = w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?sort=-last_seen_at&limit=3", nil)
	if r.status != 200 || len(r.body["items"].([]any)) != 3 {
		t.Fatalf("by last seen: %s", r.raw)
	}
	r2 := w.do(t, "operator-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?sort=-last_seen_at&limit=3&cursor="+url.QueryEscape(r.body["next_cursor"].(string)), nil)
	if r2.status != 200 || len(r2.body["items"].([]any)) != 3 {
		t.Fatalf("by last seen, page 2: %s", r2.raw)
	}

	// A webhook for command events.
	rcv, hookURL := newReceiver(t)
	hook := w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/webhooks", map[string]any{"url": hookURL, "event_kinds": []string{"command.acknowledged"}})
	secret := hook.body["secret"].(string)

	// Queue a lock, idempotently.
	mac := devs[0]
	path := "/v1/tenants/" + w.a.Slug + "/devices/" + mac.ID.String() + "/commands"
	q1 := w.do(t, "operator-a", "POST", path, map[string]any{"kind": "lock"}, "Idempotency-Key", "lock-1")
	q2 := w.do(t, "operator-a", "POST", path, map[string]any{"kind": "lock"}, "Idempotency-Key", "lock-1")
	if q1.status != 201 || q2.status != 201 || q1.body["id"] != q2.body["id"] || q2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("queue twice with one key: %s / %s", q1.raw, q2.raw)
	}
	list := w.do(t, "viewer-a", "GET", path, nil)
	if items := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["status"] != "queued" {
		t.Fatalf("device commands: %s", list.raw)
	}
	isProblem(t, w.do(t, "operator-a", "POST", path, map[string]any{"kind": "erase"}), 403)
	isProblem(t, w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/devices/"+devs[1].ID.String()+"/commands",
		map[string]any{"kind": "clear_passcode"}), 403) // destructive
	isProblem(t, w.do(t, "admin-a", "POST", "/v1/tenants/"+w.a.Slug+"/devices/"+devs[1].ID.String()+"/commands",
		map[string]any{"kind": "clear_passcode"}), 422) // windows cannot
	isProblem(t, w.do(t, "admin-b", "POST", "/v1/tenants/"+w.b.Slug+"/devices/"+mac.ID.String()+"/commands",
		map[string]any{"kind": "lock"}), 404) // A's device from B's tenant

	// The device takes the command and acknowledges it, as its platform
	// protocol reports.
	ctx := tenancy.WithTenant(context.Background(), w.a.ID)
	err := w.db.Tx(ctx, func(tx pgx.Tx) error {
		c, err := w.cmds.NextTx(ctx, tx, mac.ID)
		if err != nil || c == nil {
			return fmt.Errorf("next command: %v %v", c, err)
		}
		_, err = w.cmds.CompleteTx(ctx, tx, c.DeviceID, c.ID, commands.Outcome{Status: commands.Acknowledged})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rcv.next(t) // the receiver fails the first attempt; this is the retry
	if err := events.VerifySignature(secret, got.header.Get(events.SignatureHeader), got.body, time.Minute, time.Now()); err != nil {
		t.Fatalf("webhook signature: %v", err)
	}
	if got.header.Get(events.EventHeader) != "command.acknowledged" || !contains(string(got.body), q1.body["id"].(string)) {
		t.Fatalf("webhook: %v %s", got.header, got.body)
	}
	done := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/commands/"+q1.body["id"].(string), nil)
	if done.body["status"] != "acknowledged" || done.body["attempts"] != float64(1) {
		t.Fatalf("command: %s", done.raw)
	}
	isProblem(t, w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/"+q1.body["id"].(string)+"/cancel", nil), 409)
	// The tenant's command history: every device's, filtered.
	history := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/commands?status=acknowledged&kind=lock", nil)
	if items, _ := history.body["items"].([]any); history.status != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != q1.body["id"] {
		t.Fatalf("the tenant's commands: %d %s", history.status, history.raw)
	}
	if r := w.do(t, "admin-b", "GET", "/v1/tenants/"+w.b.Slug+"/commands", nil); r.status != 200 || contains(r.raw, q1.body["id"].(string)) {
		t.Fatalf("tenant b's history: %d %s", r.status, r.raw)
	}
	isProblem(t, w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/commands?status=sleeping", nil), 422)
	isProblem(t, w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/commands?kind=teleport", nil), 422)
	isProblem(t, w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?cursor=eyJrIjoieCIsImkiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDEiLCJvIjoiLWxhc3Rfc2Vlbl9hdCJ9&sort=-last_seen_at", nil), 422)
}

// A bulk command reaches every matching device (here 1,100: three
// batches), once each, and skips the platforms that cannot take it.
func TestBulkCommand(t *testing.T) {
	w := newWorld(t, api.Limits{})
	var reports []inventory.Report
	for i := range 1100 {
		reports = append(reports, inventory.Report{Platform: inventory.Apple, Identifier: fmt.Sprintf("mac-%04d", i)})
	}
	reports = append(reports, inventory.Report{Platform: inventory.Windows, Identifier: "pc-1"})
	w.enroll(t, w.a, reports...)
	r := w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", map[string]any{"kind": "shutdown"}, "Idempotency-Key", "bulk-1")
	if r.status != 202 {
		t.Fatalf("bulk: %d %s", r.status, r.raw)
	}
	again := w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", map[string]any{"kind": "shutdown"}, "Idempotency-Key", "bulk-1")
	if again.body["bulk_id"] != r.body["bulk_id"] {
		t.Fatal("a retried bulk request started a second bulk")
	}
	isProblem(t, w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", map[string]any{"kind": "erase"}), 403)
	ctx := tenancy.WithTenant(context.Background(), w.a.ID)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n, perDevice int
		err := w.db.Tx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*), coalesce(max(c), 0) FROM (
  SELECT count(*) AS c FROM commands WHERE kind = 'shutdown' GROUP BY device_id) x`).Scan(&n, &perDevice)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 1100 {
			if perDevice != 1 {
				t.Fatalf("a device got the command %d times", perDevice)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 1100 devices got the command", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The worker is stopped mid-bulk (running jobs cancelled) and another
// takes over: every device ends with the command exactly once.
func TestBulkSurvivesAWorkerStop(t *testing.T) {
	w := newWorld(t, api.Limits{})
	var reports []inventory.Report
	for i := range 1600 {
		reports = append(reports, inventory.Report{Platform: inventory.Apple, Identifier: fmt.Sprintf("mac-%04d", i)})
	}
	w.enroll(t, w.a, reports...)
	ctx := tenancy.WithTenant(context.Background(), w.a.ID)
	count := func() (n, most int) {
		err := w.db.Tx(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*), coalesce(max(c), 0) FROM (
  SELECT count(*) AS c FROM commands WHERE kind = 'restart' GROUP BY device_id) x`).Scan(&n, &most)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, most
	}
	if r := w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", map[string]any{"kind": "restart"}); r.status != 202 {
		t.Fatalf("bulk: %d %s", r.status, r.raw)
	}
	// Stop the worker as soon as the first batch is in.
	deadline := time.Now().Add(30 * time.Second)
	for n, _ := count(); n == 0; n, _ = count() {
		if time.Now().After(deadline) {
			t.Fatal("the bulk never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.jobs.StopAndCancel(stopCtx); err != nil {
		t.Fatal(err)
	}
	stopped, _ := count()
	next, err := workers.New(workers.Deps{DB: w.db, Directory: w.dir, Events: events.NewStore(w.db), Log: testenv.Logger(t),
		Webhooks: events.NewSender(w.db, events.SenderOptions{}), Commands: w.cmds, Inventory: w.inv, Compliance: w.comp},
		workers.Config{Schema: migrations.RiverSchema, EventRetention: time.Hour, SweepInterval: time.Hour}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { next.Stop(context.Background()) })
	deadline = time.Now().Add(60 * time.Second)
	for {
		n, most := count()
		if most > 1 {
			t.Fatalf("a device got the command %d times", most)
		}
		if n == 1600 {
			t.Logf("%d commands were queued when the worker stopped; the next worker queued the rest", stopped)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 1600 devices got the command", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Groups: devices are added and removed, listed by group, and a bulk
// command to a group reaches only its members.
func TestGroups(t *testing.T) {
	w := newWorld(t, api.Limits{})
	devs := w.enroll(t, w.a,
		inventory.Report{Platform: inventory.Apple, Identifier: "g-1"}, inventory.Report{Platform: inventory.Apple, Identifier: "g-2"},
		inventory.Report{Platform: inventory.Windows, Identifier: "g-3"}, inventory.Report{Platform: inventory.Android, Identifier: "g-4"})
	foreign := w.enroll(t, w.b, inventory.Report{Platform: inventory.Apple, Identifier: "g-b"})[0]
	base := "/v1/tenants/" + w.a.Slug + "/groups"
	r := w.do(t, "admin-a", "POST", base, map[string]any{"name": "Front desk"})
	if r.status != 201 {
		t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	isProblem(t, w.do(t, "admin-a", "POST", base, map[string]any{"name": "Front desk"}), 409)
	add := []string{devs[0].ID.String(), devs[1].ID.String(), devs[2].ID.String()}
	if r := w.do(t, "admin-a", "POST", base+"/"+id+"/members", map[string]any{"add": add}); r.status != 200 || r.body["added"] != float64(3) {
		t.Fatalf("add members: %d %s", r.status, r.raw)
	}
	isProblem(t, w.do(t, "admin-a", "POST", base+"/"+id+"/members", map[string]any{"add": []string{foreign.ID.String()}}), 422)
	if r := w.do(t, "admin-a", "POST", base+"/"+id+"/members", map[string]any{"remove": []string{devs[1].ID.String()}}); r.body["removed"] != float64(1) {
		t.Fatalf("remove: %s", r.raw)
	}
	list := w.do(t, "viewer-a", "GET", "/v1/tenants/"+w.a.Slug+"/devices?group="+id, nil)
	if items := list.body["items"].([]any); len(items) != 2 {
		t.Fatalf("devices in the group: %s", list.raw)
	}
	groups := w.do(t, "viewer-a", "GET", base, nil)
	if items := groups.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["devices"] != float64(2) {
		t.Fatalf("groups: %s", groups.raw)
	}
	// B's view of A's group id: nothing.
	if r := w.do(t, "admin-b", "GET", "/v1/tenants/"+w.b.Slug+"/devices?group="+id, nil); len(r.body["items"].([]any)) != 0 {
		t.Fatalf("tenant B sees A's group members: %s", r.raw)
	}
	isProblem(t, w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk",
		map[string]any{"kind": "restart", "group": uuid.NewString()}), 404)
	if r := w.do(t, "operator-a", "POST", "/v1/tenants/"+w.a.Slug+"/commands/bulk", map[string]any{"kind": "restart", "group": id}); r.status != 202 {
		t.Fatalf("bulk to the group: %d %s", r.status, r.raw)
	}
	ctx := tenancy.WithTenant(context.Background(), w.a.ID)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got []string
		err := w.db.Tx(ctx, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, `SELECT device_id::text FROM commands WHERE kind = 'restart' ORDER BY 1`)
			var err error
			got, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 2 {
			for _, d := range got {
				if d != devs[0].ID.String() && d != devs[2].ID.String() {
					t.Fatalf("a device outside the group got the command: %v", got)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("commands for the group: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
