package tenancy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newDirectory(t *testing.T) (*tenancy.DB, *tenancy.Directory) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	return db, dir
}

func TestTxWithoutTenantFails(t *testing.T) {
	db, _ := newDirectory(t)
	called := false
	err := db.Tx(context.Background(), func(pgx.Tx) error { called = true; return nil })
	if !errors.Is(err, tenancy.ErrNoTenant) || called {
		t.Fatalf("Tx without tenant: err %v, fn called %v; want ErrNoTenant and no call", err, called)
	}
}

func TestTxScopesAndResets(t *testing.T) {
	db, dir := newDirectory(t)
	a := testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), a.ID)
	var got string
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('app.tenant_id')`).Scan(&got)
	}); err != nil {
		t.Fatal(err)
	}
	if got != a.ID.String() {
		t.Fatalf("app.tenant_id in Tx = %q, want %q", got, a.ID)
	}
	// After the transaction the pooled connection carries no tenant.
	var after *string
	if err := db.Writer().QueryRow(context.Background(), `SELECT NULLIF(current_setting('app.tenant_id', true), '')`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != nil {
		t.Fatalf("app.tenant_id leaked out of the transaction: %q", *after)
	}
	// ReadTx refuses writes.
	err := db.ReadTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenant_hostnames (tenant_id, hostname) VALUES ($1, 'x.example')`, a.ID)
		return err
	})
	if err == nil {
		t.Fatal("ReadTx allowed a write")
	}
}

func TestOpenRefusesPrivilegedRoles(t *testing.T) {
	e := testenv.Get(t)
	for name, url := range map[string]string{"superuser": e.SuperURL, "owner": e.OwnerURL} {
		if db, err := tenancy.Open(context.Background(), url, ""); err == nil {
			db.Close()
			t.Errorf("Open as %s succeeded; want a refusal", name)
		}
	}
}

func TestDirectory(t *testing.T) {
	_, dir := newDirectory(t)
	ctx := context.Background()
	u := uuid.NewString()[:8] // tests may run again on the same database (-count)
	m, err := dir.CreateMSP(ctx, "acme-"+u, "Acme IT")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateMSP(ctx, "acme-"+u, "Again"); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("duplicate MSP: %v, want ErrConflict", err)
	}
	for _, bad := range []string{"", "Acme", "-x", "x-", "a_b", "ü", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		var verr *fault.Error
		if _, err := dir.CreateTenant(ctx, m.ID, bad, "Name"); !errors.As(err, &verr) || verr.Code != fault.Invalid {
			t.Errorf("slug %q: %v, want a ValidationError", bad, err)
		}
	}
	if _, err := dir.CreateTenant(ctx, uuid.New(), "orphan", "Orphan"); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("tenant of unknown MSP: %v, want ErrNotFound", err)
	}
	tn, err := dir.CreateTenant(ctx, m.ID, "bakery-"+u, "Corner Bakery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateTenant(ctx, m.ID, "bakery-"+u, "Again"); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("duplicate tenant: %v, want ErrConflict", err)
	}
	list, err := dir.ListTenants(ctx, m.ID)
	if err != nil || len(list) != 1 || list[0].ID != tn.ID {
		t.Fatalf("ListTenants = %v, %v", list, err)
	}

	added, err := dir.AddHostname(ctx, tn.ID, "EnterpriseEnrollment.Bakery-"+u+".Example.")
	h := added.Name
	if err != nil || h != "enterpriseenrollment.bakery-"+u+".example" || added.Verified() || len(added.Challenge) < 32 {
		t.Fatalf("AddHostname = %+v, %v; want the name pending with a challenge", added, err)
	}
	for _, bad := range []string{"x.trident.test", "trident.test", "localhost", "bad host.example", "a..b", "",
		"127.0.0.1", "169.254.169.254", "10.0.0.1", "[::1]", "::1", "[fd00::1]"} { // IP literals: the outside security test registered these
		if _, err := dir.AddHostname(ctx, tn.ID, bad); err == nil {
			t.Errorf("AddHostname(%q) accepted", bad)
		}
	}
	if _, err := dir.AddHostname(ctx, tn.ID, h); !errors.Is(err, tenancy.ErrConflict) {
		t.Fatalf("the same name twice: %v, want ErrConflict", err)
	}
	// Another tenant may claim a pending name too: the first to prove it
	// in DNS keeps it (TestHostnameOwnership).
	other := testenv.Tenant(t, dir)
	if _, err := dir.AddHostname(ctx, other.ID, h); err != nil {
		t.Fatalf("a second pending claim: %v", err)
	}
	names, err := dir.Hostnames(ctx, tn)
	if err != nil || len(names) != 2 || names[0].Name != tn.Slug+".trident.test" || !names[0].Verified() || names[1].Name != h {
		t.Fatalf("Hostnames = %+v, %v", names, err)
	}
	if err := dir.RemoveHostname(ctx, other.ID, h); err != nil {
		t.Fatalf("the other tenant removes its own claim: %v", err)
	}
	if err := dir.RemoveHostname(ctx, other.ID, h); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("another tenant removed the hostname: %v", err)
	}
}

func TestResolverAndMiddleware(t *testing.T) {
	_, dir := newDirectory(t)
	dns := testenv.DNS(t)
	dir.UseDNS(dns.Resolver())
	ctx := context.Background()
	tn := testenv.Tenant(t, dir)
	r := tenancy.NewResolver(dir)
	custom := "custom-" + uuid.NewString()[:8] + ".example"

	for _, host := range []string{tn.Slug + ".trident.test", tn.Slug + ".Trident.Test:8443"} {
		got, err := r.Resolve(ctx, host)
		if err != nil || got.ID != tn.ID {
			t.Fatalf("Resolve(%q) = %v, %v", host, got.ID, err)
		}
	}
	for _, host := range []string{"nobody.trident.test", "a.b.trident.test", "trident.test", custom} {
		if _, err := r.Resolve(ctx, host); !errors.Is(err, tenancy.ErrNotFound) {
			t.Fatalf("Resolve(%q) = %v, want ErrNotFound", host, err)
		}
	}
	// custom was cached as unknown; verifying it must be seen after
	// Invalidate (which the process calls on the trident_tenancy notice).
	dns.VerifiedHostname(t, dir, tn.ID, custom)
	if _, err := r.Resolve(ctx, custom); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("negative cache not used: %v", err)
	}
	r.Invalidate()
	if got, err := r.Resolve(ctx, custom); err != nil || got.ID != tn.ID {
		t.Fatalf("after Invalidate: %v, %v", got.ID, err)
	}

	h := r.Middleware(testenv.Logger(t), http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id, _ := tenancy.FromContext(req.Context())
		w.Write([]byte(id.String()))
	}))
	serve := func(host string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := serve(custom); rec.Code != 200 || rec.Body.String() != tn.ID.String() {
		t.Fatalf("middleware on custom host: %d %q", rec.Code, rec.Body)
	}
	if rec := serve("nobody.trident.test"); rec.Code != 404 {
		t.Fatalf("unknown host: %d, want 404", rec.Code)
	}
	if rec := serve("bad host"); rec.Code != 404 {
		t.Fatalf("malformed host: %d, want 404", rec.Code)
	}
	if err := dir.SetStatus(ctx, tn.ID, tenancy.Suspended); err != nil {
		t.Fatal(err)
	}
	r.Invalidate()
	// A suspended tenant's devices keep checking in (commands hold, see
	// services/commands); what enrolls new ones refuses.
	if rec := serve(tn.Slug + ".trident.test"); rec.Code != 200 || rec.Body.String() != tn.ID.String() {
		t.Fatalf("suspended tenant's device endpoint: %d %q, want it served", rec.Code, rec.Body)
	}
	enroll := r.Middleware(testenv.Logger(t), tenancy.Enrolling(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Write([]byte("enrolled"))
	})))
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = tn.Slug + ".trident.test"
	rec := httptest.NewRecorder()
	enroll.ServeHTTP(rec, req)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "suspended") {
		t.Fatalf("suspended tenant's enrollment: %d %q, want 403", rec.Code, rec.Body)
	}
	if err := dir.SetStatus(ctx, tn.ID, tenancy.Active); err != nil {
		t.Fatal(err)
	}
	r.Invalidate()
	rec = httptest.NewRecorder()
	enroll.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "enrolled" {
		t.Fatalf("resumed tenant's enrollment: %d %q", rec.Code, rec.Body)
	}
}

// A tenant's transactions can ask whether it is suspended; the policy
// that refuses people's changes says so in a sentence.
func TestSuspendedTenant(t *testing.T) {
	db, dir := newDirectory(t)
	ctx := context.Background()
	tn := testenv.Tenant(t, dir)
	suspended := func() bool {
		t.Helper()
		var got bool
		if err := db.Tx(tenancy.WithTenant(ctx, tn.ID), func(tx pgx.Tx) (err error) { got, err = tenancy.SuspendedTx(ctx, tx); return err }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if suspended() || tn.Writable() != nil {
		t.Fatalf("a new tenant is suspended: %v", tn.Writable())
	}
	if err := dir.SetStatus(ctx, tn.ID, tenancy.Suspended); err != nil {
		t.Fatal(err)
	}
	got, err := dir.Tenant(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !suspended() {
		t.Fatal("the suspended tenant's transaction does not see it")
	}
	if err := got.Writable(); !fault.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("a suspended tenant's Writable: %v, want a conflict that says so", err)
	}
}

func TestQueryTenantsPages(t *testing.T) {
	_, dir := newDirectory(t)
	ctx := context.Background()
	m, err := dir.CreateMSP(ctx, "pages-"+uuid.NewString()[:8], "Pages")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range []string{"c", "a", "e", "b", "d"} {
		tn, err := dir.CreateTenant(ctx, m.ID, s+"-"+m.Slug, s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, tn.Slug)
	}
	if err := dir.SetStatus(ctx, mustSlug(t, dir, "e-"+m.Slug), tenancy.Suspended); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []tenancy.TenantSort{tenancy.BySlug, tenancy.BySlugDesc, tenancy.ByCreated, tenancy.ByCreatedDesc} {
		var got []string
		var after *tenancy.Tenant
		for {
			page, err := dir.QueryTenants(ctx, m.ID, tenancy.TenantQuery{Sort: sort, After: after, Limit: 2})
			if err != nil {
				t.Fatalf("%s: %v", sort, err)
			}
			for _, tn := range page {
				got = append(got, tn.Slug[:1])
			}
			if len(page) < 2 {
				break
			}
			after = &page[len(page)-1]
		}
		wantOrder := map[tenancy.TenantSort]string{tenancy.BySlug: "abcde", tenancy.BySlugDesc: "edcba", tenancy.ByCreated: "caebd", tenancy.ByCreatedDesc: "dbeac"}[sort]
		if strings.Join(got, "") != wantOrder {
			t.Errorf("%s: pages give %v, want %s", sort, got, wantOrder)
		}
	}
	active, err := dir.QueryTenants(ctx, m.ID, tenancy.TenantQuery{Status: tenancy.Active, Limit: 10})
	if err != nil || len(active) != 4 {
		t.Fatalf("active tenants: %d, %v; want 4", len(active), err)
	}
	if _, err := dir.QueryTenants(ctx, m.ID, tenancy.TenantQuery{Sort: "name", Limit: 10}); err == nil {
		t.Fatal("an unknown sort was accepted")
	}
}

func mustSlug(t *testing.T, dir *tenancy.Directory, slug string) uuid.UUID {
	tn, err := dir.TenantBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// TestHostnameOwnership replays the outside security test's squats: a
// tenant registered another company's name, and a subdomain of another
// tenant's name, and they served devices at once. Now a name routes only
// after its tenant publishes the challenge in DNS, and nobody may claim a
// name at or under another tenant's verified one.
func TestHostnameOwnership(t *testing.T) {
	_, dir := newDirectory(t)
	dns := testenv.DNS(t)
	dir.UseDNS(dns.Resolver())
	ctx := context.Background()
	r := tenancy.NewResolver(dir)
	victim, squatter := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	domain := "victim-" + uuid.NewString()[:8] + ".example"
	name := "enterpriseenrollment." + domain

	// The squatter claims the victim's Windows discovery name first.
	claim, err := dir.AddHostname(ctx, squatter.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, name); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("a pending name resolved: %v", err)
	}
	// Without the record, verification says what DNS showed and changes
	// nothing but the check's time and result.
	var published []tenancy.Hostname
	then := func(_ context.Context, h tenancy.Hostname) error { published = append(published, h); return nil }
	got, err := dir.VerifyHostname(ctx, squatter.ID, name, then)
	if !errors.Is(err, tenancy.ErrUnproven) || got.Verified() || got.CheckedAt == nil ||
		!strings.Contains(got.CheckError, "no TXT record at _trident-challenge."+name) || len(published) != 0 {
		t.Fatalf("verify without a record = %+v, %v", got, err)
	}
	// A record with the wrong token (say, the victim's) proves nothing
	// for the squatter either.
	mine, err := dir.AddHostname(ctx, victim.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	dns.SetTXT(mine.RecordName(), "v=spf1 -all", mine.RecordValue())
	if got, err := dir.VerifyHostname(ctx, squatter.ID, name, then); !errors.Is(err, tenancy.ErrUnproven) ||
		!strings.Contains(got.CheckError, "none of the 2 TXT records") || strings.Contains(got.CheckError, "spf1") {
		t.Fatalf("verify with another tenant's token = %+v, %v", got, err)
	}
	// The victim publishes its token: the name is the victim's.
	got, err = dir.VerifyHostname(ctx, victim.ID, name, then)
	if err != nil || !got.Verified() || got.CheckError != "" || len(published) != 1 || published[0].Name != name {
		t.Fatalf("verify with the record = %+v, %v (published %v)", got, err, published)
	}
	if again, err := dir.VerifyHostname(ctx, victim.ID, name, then); err != nil || !again.Verified() || len(published) != 1 {
		t.Fatalf("verifying a verified name again = %+v, %v; want it unchanged and no second event", again, err)
	}
	r.Invalidate()
	if tn, err := r.Resolve(ctx, name); err != nil || tn.ID != victim.ID {
		t.Fatalf("Resolve(%s) = %v, %v; want the victim", name, tn.ID, err)
	}
	// The squatter's pending claim can never win now, even with a record
	// of its own: the name is verified by another tenant.
	dns.SetTXT(claim.RecordName(), claim.RecordValue())
	if _, err := dir.VerifyHostname(ctx, squatter.ID, name, then); !errors.Is(err, tenancy.ErrConflict) || errors.Is(err, tenancy.ErrUnproven) {
		t.Fatalf("squatter verifies a name the victim holds: %v, want ErrConflict", err)
	}
	// New claims at or under the victim's verified name are refused.
	for _, n := range []string{name, "x." + name, "a.b." + name} {
		if _, err := dir.AddHostname(ctx, squatter.ID, n); !errors.Is(err, tenancy.ErrConflict) {
			t.Errorf("AddHostname(%s) by another tenant: %v, want ErrConflict", n, err)
		}
	}
	// The victim itself may add names under its own.
	if _, err := dir.AddHostname(ctx, victim.ID, "mdm."+name); err != nil {
		t.Errorf("the owner adds a name under its own: %v", err)
	}
	// A broken DNS zone is reported as such.
	broken, err := dir.AddHostname(ctx, victim.ID, "mdm."+domain)
	if err != nil {
		t.Fatal(err)
	}
	dns.Fail(broken.RecordName())
	if got, err := dir.VerifyHostname(ctx, victim.ID, broken.Name, then); !errors.Is(err, tenancy.ErrUnproven) || !strings.Contains(got.CheckError, "failed") {
		t.Fatalf("verify against SERVFAIL = %+v, %v", got, err)
	}
	if dns.Asked(broken.RecordName()) == 0 {
		t.Fatal("the check never asked the DNS server")
	}
	// Names of another tenant cannot be verified or read through it.
	if _, err := dir.VerifyHostname(ctx, squatter.ID, broken.Name, then); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("verify another tenant's pending name: %v, want ErrNotFound", err)
	}
	// Removing the verified name stops its routing and frees it.
	if err := dir.RemoveHostname(ctx, victim.ID, name); err != nil {
		t.Fatal(err)
	}
	r.Invalidate()
	if _, err := r.Resolve(ctx, name); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("a removed name still resolves: %v", err)
	}
}
