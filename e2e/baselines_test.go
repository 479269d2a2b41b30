package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devidp"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// A worker killed (SIGKILL) halfway through applying a tenant's
// baselines leaves the tenant as it was; the job is taken for dead, runs
// again on another worker, and the tenant ends with each item's rule
// exactly once, at the new version.
func TestBaselineApplySurvivesAKilledWorker(t *testing.T) {
	db := testenv.DB(t)
	su := testenv.Superuser(t) // to look at rules, jobs and sessions
	ctx := context.Background()
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, d)
	idp := testenv.StartIDP(t, devidp.Client{ID: "msp", Secret: "s", Audience: []string{"trident-api"},
		Claims: map[string]any{"groups": []string{"/trident/msp/" + tn.MSPSlug + "/admin"}}})
	// A job runs 10 s at most; one running for 12 s is a dead worker's.
	s := start(t, idp.Issuer, "--job-timeout", "10s", "--job-rescue-after", "12s")
	c := apiClient{t: t, base: s.Base, bearer: "Bearer " + idp.Token(t, "msp", "s")}

	keys := []string{"disk", "passcode", "firewall", "seen", "os"}
	kinds := []string{"disk_encrypted", "passcode_set", "firewall_enabled", "checked_in_within", "os_version_min"}
	params := []map[string]any{{}, {}, {}, {"hours": 24}, {"version": "14.0"}}
	items := func(version int) []map[string]any {
		var out []map[string]any
		for i, k := range keys {
			out = append(out, map[string]any{"key": k, "rule": map[string]any{"name": fmt.Sprintf("%s v%d", k, version), "kind": kinds[i], "params": params[i]}})
		}
		return out
	}
	base := "/v1/msps/" + tn.MSPSlug + "/baselines"
	code, body := c.do("POST", base, map[string]any{"name": "Standard", "items": items(1)})
	if code != http.StatusCreated {
		t.Fatalf("create baseline: %d %s", code, body)
	}
	var made struct{ ID string }
	if err := json.Unmarshal(body, &made); err != nil {
		t.Fatal(err)
	}
	id := made.ID
	if code, body := c.do("PUT", base+"/"+id+"/assignment", map[string]any{"assigned_to": []string{"tenant:" + tn.Slug}}); code != 200 {
		t.Fatalf("assign: %d %s", code, body)
	}
	// rules are the tenant's baseline rules' names by item, and how many
	// rules each item has.
	rules := func() (map[string]string, map[string]int) {
		t.Helper()
		names, count := map[string]string{}, map[string]int{}
		rows, _ := su.Query(ctx, `SELECT baseline_item, name FROM compliance_rules WHERE tenant_id = $1 AND baseline_id = $2`, tn.ID, id)
		var item, name string
		if _, err := pgx.ForEachRow(rows, []any{&item, &name}, func() error { names[item] = name; count[item]++; return nil }); err != nil {
			t.Fatal(err)
		}
		return names, count
	}
	at := func(version int) bool {
		names, count := rules()
		ok := len(names) == len(keys)
		for _, k := range keys {
			ok = ok && names[k] == fmt.Sprintf("%s v%d", k, version) && count[k] == 1
		}
		return ok
	}
	eventually(t, "version 1 applied", func() bool { return at(1) })

	// A transaction of the test's holds the third item's rule: the
	// worker's application of version 2 changes the first two, then
	// waits for it.
	hold, err := testenv.Superuser(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	if _, err := hold.Exec(ctx, `SELECT 1 FROM compliance_rules WHERE tenant_id = $1 AND baseline_id = $2 AND baseline_item = 'firewall' FOR UPDATE`, tn.ID, id); err != nil {
		t.Fatal(err)
	}
	if code, body := c.do("PUT", base+"/"+id+"/items", map[string]any{"items": items(2)}); code != 200 {
		t.Fatalf("version 2: %d %s", code, body)
	}
	var waiter int
	eventually(t, "the worker waiting on the held rule", func() bool {
		err := su.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%compliance_rules%FOR UPDATE%' AND pid <> pg_backend_pid()`).Scan(&waiter)
		return err == nil
	})
	var job int64
	if err := su.QueryRow(ctx, `SELECT id FROM river.river_job WHERE kind = 'msp.apply_baselines' AND state = 'running' AND args->>'tenant_id' = $1`, tn.ID.String()).Scan(&job); err != nil {
		t.Fatalf("the running application: %v", err)
	}

	s.Worker.kill(t)
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The dead worker's session finds its client gone and rolls back:
	// nothing of version 2 is in the tenant.
	eventually(t, "the killed worker's session gone", func() bool {
		var n int
		return su.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, waiter).Scan(&n) == nil && n == 0
	})
	if !at(1) {
		names, count := rules()
		t.Fatalf("after the kill the tenant has %v (%v), want version 1 whole", names, count)
	}

	run(t, "worker", append(append([]string{}, s.Flags...), "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t))))
	// A new worker leads once the dead one's lease is over (15 s), and
	// rescues the job at once: it is older than 12 s by then.
	eventuallyWithin(t, "the killed job run again and done", time.Minute, func() bool {
		var state string
		var attempt int
		err := su.QueryRow(ctx, `SELECT state, attempt FROM river.river_job WHERE id = $1`, job).Scan(&state, &attempt)
		return err == nil && state == "completed" && attempt == 2
	})
	if !at(2) {
		names, count := rules()
		t.Fatalf("after the rescue the tenant has %v (%v), want version 2, each item once", names, count)
	}
	code, body = c.do("GET", "/v1/tenants/"+tn.Slug+"/baselines/drift", nil)
	if code != 200 {
		t.Fatalf("drift: %d %s", code, body)
	}
	var drift struct {
		Items []struct{ Item, State string }
	}
	if err := json.Unmarshal(body, &drift); err != nil {
		t.Fatal(err)
	}
	if len(drift.Items) != len(keys) {
		t.Errorf("drift: %s, want the %d items", body, len(keys))
	}
	for _, it := range drift.Items {
		if it.State != "applied" {
			t.Errorf("drift of %s: %s, want applied", it.Item, it.State)
		}
	}
}
