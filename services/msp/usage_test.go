package msp_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// day is a UTC day of November 2026 at hh:mm.
func day(d, hh, mm int) time.Time { return time.Date(2026, 11, d, hh, mm, 0, 0, time.UTC) }

// TestUsageIsExact: devices enrolled, unenrolled and re-enrolled on
// different days give exactly the figures counted by hand; a run cut
// short and run again gives the same, as does recomputing a day; the MSP
// totals and exports them, and another MSP sees none of it.
func TestUsageIsExact(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn, other := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	svc := msp.New(db, dir, inv, nil, events.NewStore(db), nil)
	tctx := tenancy.WithTenant(ctx, tn.ID)
	ids := map[string]uuid.UUID{}
	for _, r := range []inventory.Report{{Platform: inventory.Apple, Identifier: "A"}, {Platform: inventory.Windows, Identifier: "B"},
		{Platform: inventory.Windows, Identifier: "C"}} {
		d, err := inv.Record(tctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids[r.Identifier] = d.ID
	}
	// The spans, as history wrote them: A (Apple) Nov 3 10:00 to Nov 5
	// 09:00; B (Windows) from Nov 4 23:59 on; C (Windows) Nov 4 08:00 to
	// 09:00, again from 17:00 to midnight that begins Nov 6.
	su := testenv.Superuser(t)
	if _, err := su.Exec(ctx, `DELETE FROM device_enrollments WHERE tenant_id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		dev      string
		platform string
		from     time.Time
		to       *time.Time
	}{
		{"A", "apple", day(3, 10, 0), ptr(day(5, 9, 0))},
		{"B", "windows", day(4, 23, 59), nil},
		{"C", "windows", day(4, 8, 0), ptr(day(4, 9, 0))},
		{"C", "windows", day(4, 17, 0), ptr(day(6, 0, 0))},
	} {
		if _, err := su.Exec(ctx, `INSERT INTO device_enrollments (tenant_id, device_id, platform, enrolled_at, unenrolled_at) VALUES ($1, $2, $3, $4, $5)`,
			tn.ID, ids[s.dev], s.platform, s.from, s.to); err != nil {
			t.Fatal(err)
		}
	}
	now := day(8, 6, 30) // Nov 3 to Nov 7 have ended
	// By hand: day -> "apple dd/e/u windows dd/e/u".
	want := map[string]string{
		"2026-11-03": "apple 1/1/0 windows 0/0/0",
		"2026-11-04": "apple 1/0/0 windows 2/3/1",
		"2026-11-05": "apple 1/0/1 windows 2/0/0",
		"2026-11-06": "apple 0/0/0 windows 1/0/1",
		"2026-11-07": "apple 0/0/0 windows 1/0/0",
	}
	check := func(when string) {
		t.Helper()
		days, err := svc.TenantUsage(tctx, day(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[inventory.Platform]string{}
		for _, d := range days {
			k := d.Day.Format(time.DateOnly)
			if got[k] == nil {
				got[k] = map[inventory.Platform]string{}
			}
			got[k][d.Platform] = fmt.Sprintf("%d/%d/%d", d.DeviceDays, d.Enrollments, d.Unenrollments)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d days computed, want %d: %v", when, len(got), len(want), got)
		}
		for k, w := range want {
			g := fmt.Sprintf("apple %s windows %s", got[k][inventory.Apple], got[k][inventory.Windows])
			if g != w || got[k][inventory.Android] != "0/0/0" {
				t.Errorf("%s: %s is %s android %s, want %s", when, k, g, got[k][inventory.Android], w)
			}
		}
	}
	// Cut short after two days (a killed job), then run again.
	if n, more, err := svc.Meter(ctx, tn, now, 2); err != nil || n != 2 || !more {
		t.Fatalf("the first run: %d days, more %v, %v", n, more, err)
	}
	if n, more, err := svc.Meter(ctx, tn, now, 0); err != nil || n != 3 || more {
		t.Fatalf("the rerun: %d days, more %v, %v", n, more, err)
	}
	check("after a run cut short")
	if n, _, err := svc.Meter(ctx, tn, now, 0); err != nil || n != 0 {
		t.Fatalf("a run with nothing to do computed %d days, %v", n, err)
	}
	// The last day forgotten (a crash after its commit was lost): the
	// next run computes it again, the same.
	if _, err := su.Exec(ctx, `DELETE FROM usage_days WHERE tenant_id = $1 AND day = '2026-11-07'`, tn.ID); err != nil {
		t.Fatal(err)
	}
	if n, _, err := svc.Meter(ctx, tn, now, 0); err != nil || n != 1 {
		t.Fatalf("recomputing a day: %d, %v", n, err)
	}
	check("after recomputing")

	totals, err := svc.MSPUsage(ctx, tn.MSPID, day(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sum := map[inventory.Platform]string{}
	for _, u := range totals {
		if u.Tenant != tn.Slug {
			t.Errorf("MSP usage lists tenant %s", u.Tenant)
		}
		sum[u.Platform] = fmt.Sprintf("%d/%d/%d over %d", u.DeviceDays, u.Enrollments, u.Unenrollments, u.Days)
	}
	if sum[inventory.Apple] != "3/1/1 over 5" || sum[inventory.Windows] != "6/3/2 over 5" || sum[inventory.Android] != "0/0/0 over 5" {
		t.Errorf("November's totals: %v", sum)
	}
	if got, _ := svc.MSPUsage(ctx, other.MSPID, day(1, 0, 0)); len(got) != 0 {
		t.Errorf("another MSP reads %v", got)
	}
	var csv bytes.Buffer
	if err := svc.ExportUsage(ctx, tn.MSPID, day(1, 0, 0), &csv); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if len(lines) != 1+5*3 || lines[0] != "tenant,day,platform,device_days,enrollments,unenrollments" ||
		!strings.Contains(csv.String(), tn.Slug+",2026-11-04,windows,2,3,1") {
		t.Errorf("the export:\n%s", csv.String())
	}
	if _, err := msp.Month("2026-13"); err == nil {
		t.Error("month 13 parsed")
	}
}

// TestEnrolledSpans: inventory opens a span when a device becomes
// enrolled and closes it when it stops, whatever the platform says.
func TestEnrolledSpans(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	inv := inventory.New(db, events.NewPublisher(nil))
	tctx := tenancy.WithTenant(ctx, tn.ID)
	for _, st := range []inventory.Status{inventory.Enrolled, inventory.Enrolled, inventory.Unenrolled, inventory.Unenrolled, inventory.Enrolled} {
		if _, err := inv.Record(tctx, inventory.Report{Platform: inventory.Android, Identifier: "enterprises/e/devices/1", Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	var spans, open int
	if err := testenv.Superuser(t).QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE unenrolled_at IS NULL) FROM device_enrollments WHERE tenant_id = $1`,
		tn.ID).Scan(&spans, &open); err != nil {
		t.Fatal(err)
	}
	if spans != 2 || open != 1 {
		t.Errorf("%d spans, %d open; want 2 and 1", spans, open)
	}
}
