package identity_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// grantWorld is two MSPs: A with tenants a1 (grants need approval, a
// device group "kiosks" holding one of its two devices) and a2 (the
// default, standing access), B with b1.
type grantWorld struct {
	db         *tenancy.DB
	del        *identity.Delegations
	a1, a2, b1 tenancy.Tenant
	inGroup    uuid.UUID // a1's device in kiosks
	outside    uuid.UUID // a1's other device
	owner      *identity.Principal
}

func newGrantWorld(t testing.TB) *grantWorld {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	w := &grantWorld{db: db}
	w.a1, w.b1 = testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	if w.a2, err = dir.CreateTenant(ctx, w.a1.MSPID, "t2-"+uuid.NewString()[:8], "Second"); err != nil {
		t.Fatal(err)
	}
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	w.del = identity.NewDelegations(db, pub, inv)
	w.owner = &identity.Principal{Subject: "owner-a1", Grants: []identity.Grant{{MSP: w.a1.MSPSlug, Tenant: w.a1.Slug, Role: identity.Admin}}}
	c := w.ctx(w.a1)
	if _, err := w.del.SetMSPAccess(c, w.owner, w.a1, identity.Approval); err != nil {
		t.Fatal(err)
	}
	g, err := inv.CreateGroup(c, "kiosks")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []*uuid.UUID{&w.inGroup, &w.outside} {
		d, err := inv.Record(c, inventory.Report{Platform: inventory.Windows, Identifier: fmt.Sprintf("DEV-%d", i), Name: "Desk"})
		if err != nil {
			t.Fatal(err)
		}
		*id = d.ID
	}
	if _, err := inv.SetMembers(c, g.ID, []uuid.UUID{w.inGroup}, true); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *grantWorld) ctx(t tenancy.Tenant) context.Context {
	return tenancy.WithTenant(context.Background(), t.ID)
}

func technician(name, msp string) *identity.Principal {
	return &identity.Principal{Subject: name, Name: name, MSPTechnician: []string{msp}}
}

// expire moves a grant's expiry into the past, as time would.
func expire(t *testing.T, id uuid.UUID) {
	t.Helper()
	if _, err := testenv.Superuser(t).Exec(context.Background(),
		`UPDATE access_grants SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

// TestGrantMatrix: role x scope x expiry x revoked x break-glass, each a
// grant of tenant a1 to a technician of its MSP, checked against the
// three tenants of two MSPs and against a device inside and outside the
// grant's groups.
func TestGrantMatrix(t *testing.T) {
	w := newGrantWorld(t)
	for _, role := range []identity.Role{identity.Viewer, identity.Operator, identity.Admin} {
		for _, groups := range [][]string{nil, {"kiosks"}} {
			for _, state := range []string{identity.Active, identity.Expired, identity.Revoked} {
				for _, breakGlass := range []bool{false, true} {
					name := fmt.Sprintf("%s/%d-groups/%s/break-glass=%v", role, len(groups), state, breakGlass)
					t.Run(name, func(t *testing.T) {
						tech := technician("tech-"+uuid.NewString()[:8], w.a1.MSPSlug)
						c := w.ctx(w.a1)
						g, err := w.del.Request(c, tech, w.a1, identity.GrantRequest{Role: role, Groups: groups, Reason: "ticket 42", Hours: 2, BreakGlass: breakGlass})
						if err != nil {
							t.Fatal(err)
						}
						want := identity.Requested // a1 asks for approval
						if breakGlass {
							want = identity.Active
						}
						if g.Status != want {
							t.Fatalf("status %s, want %s", g.Status, want)
						}
						if !breakGlass {
							if g, err = w.del.Approve(c, w.owner, w.a1, g.ID); err != nil || g.Status != identity.Active {
								t.Fatalf("approve: %+v, %v", g, err)
							}
						}
						switch state {
						case identity.Expired:
							expire(t, g.ID)
						case identity.Revoked:
							if _, err := w.del.Revoke(c, w.owner, w.a1, g.ID); err != nil {
								t.Fatal(err)
							}
						}
						a, err := w.del.In(context.Background(), tech, w.a1)
						if err != nil {
							t.Fatal(err)
						}
						if !a.Member {
							t.Error("a technician of the tenant's MSP is not a member")
						}
						if state != identity.Active {
							if a.Role != "" || a.Grant != nil {
								t.Fatalf("a %s grant gives %+v", state, a)
							}
							return
						}
						wantSource := identity.FromGrant
						if breakGlass {
							wantSource = identity.FromBreakGlass
						}
						if a.Role != role || a.Source != wantSource || a.Grant == nil || a.Grant.ID != g.ID {
							t.Fatalf("access %+v, want %s from %s via %s", a, role, wantSource, g.ID)
						}
						for _, need := range []identity.Role{identity.Viewer, identity.Operator, identity.Admin} {
							if got := a.Role.AtLeast(need); got != role.AtLeast(need) {
								t.Errorf("needs %s: %v", need, got)
							}
						}
						devIn, devOut := w.del.CoversDevice(c, a, w.inGroup), w.del.CoversDevice(c, a, w.outside)
						whole := a.WholeTenant()
						if devIn != nil {
							t.Errorf("a device in the grant's scope: %v", devIn)
						}
						if len(groups) == 0 && (devOut != nil || whole != nil) {
							t.Errorf("a tenant-wide grant refused: %v, %v", devOut, whole)
						}
						if len(groups) > 0 && (!fault.Is(devOut, fault.Forbidden) || !fault.Is(whole, fault.Forbidden)) {
							t.Errorf("a group grant let through a device outside it (%v) or the whole tenant (%v)", devOut, whole)
						}
						for _, other := range []tenancy.Tenant{w.a2, w.b1} {
							if a, err := w.del.In(context.Background(), tech, other); err != nil || a.Role != "" {
								t.Errorf("a1's grant in %s: %+v, %v", other.Slug, a, err)
							}
						}
						if a, _ := w.del.In(context.Background(), technician("someone-else", w.a1.MSPSlug), w.a1); a.Role != "" {
							t.Errorf("another technician uses the grant: %+v", a)
						}
						// The same subject working for another MSP (a token
						// naming B only) holds nothing in a1.
						if a, _ := w.del.In(context.Background(), technician(tech.Subject, w.b1.MSPSlug), w.a1); a.Role != "" || a.Member {
							t.Errorf("a1's grant used with a token of MSP B: %+v", a)
						}
					})
				}
			}
		}
	}
}

// TestStandingAndPreauthorized: an MSP admin administers a standing
// tenant without a grant and stops when the tenant asks for grants; a
// pre-authorized tenant's grants are active on request.
func TestStandingAndPreauthorized(t *testing.T) {
	w := newGrantWorld(t)
	admin := &identity.Principal{Subject: "msp-admin", MSPAdmin: []string{w.a1.MSPSlug}}
	if a, _ := w.del.In(context.Background(), admin, w.a2); a.Role != identity.Admin || a.Source != identity.FromMSP || a.Grant != nil {
		t.Fatalf("MSP admin in a standing tenant: %+v", a)
	}
	if a, _ := w.del.In(context.Background(), admin, w.a1); a.Role != "" || !a.Member {
		t.Fatalf("MSP admin in a tenant that asks for approval: %+v", a)
	}
	if a, _ := w.del.In(context.Background(), admin, w.b1); a.Role != "" || a.Member {
		t.Fatalf("MSP admin in another MSP's tenant: %+v", a)
	}
	tech := technician("tech", w.a2.MSPSlug)
	if g, err := w.del.Request(w.ctx(w.a2), tech, w.a2, identity.GrantRequest{Role: identity.Operator, Reason: "r", Hours: 1}); err != nil || g.Status != identity.Active {
		t.Fatalf("a technician's grant in a standing tenant: %+v, %v", g, err)
	}
	a2owner := &identity.Principal{Subject: "owner-a2", Grants: []identity.Grant{{MSP: w.a2.MSPSlug, Tenant: w.a2.Slug, Role: identity.Admin}}}
	if _, err := w.del.SetMSPAccess(w.ctx(w.a2), admin, w.a2, identity.Preauthorized); !fault.Is(err, fault.Forbidden) {
		t.Fatalf("the MSP changed the tenant's setting: %v", err)
	}
	if _, err := w.del.SetMSPAccess(w.ctx(w.a2), a2owner, w.a2, "sometimes"); !fault.Is(err, fault.Invalid) {
		t.Fatalf("an unknown setting: %v", err)
	}
	if _, err := w.del.SetMSPAccess(w.ctx(w.a2), a2owner, w.a2, identity.Preauthorized); err != nil {
		t.Fatal(err)
	}
	if a, _ := w.del.In(context.Background(), admin, w.a2); a.Role != "" {
		t.Fatalf("MSP admin in a pre-authorized tenant without a grant: %+v", a)
	}
	g, err := w.del.Request(w.ctx(w.a2), admin, w.a2, identity.GrantRequest{Role: identity.Admin, Reason: "migration", Hours: 8})
	if err != nil || g.Status != identity.Active {
		t.Fatalf("a pre-authorized grant: %+v, %v", g, err)
	}
	if a, _ := w.del.In(context.Background(), admin, w.a2); a.Role != identity.Admin || a.Source != identity.FromGrant {
		t.Fatalf("MSP admin with a grant: %+v", a)
	}
	// The MSP lists the grants of its tenants, never another MSP's.
	if _, err := w.del.Request(w.ctx(w.b1), technician("tech-b", w.b1.MSPSlug), w.b1, identity.GrantRequest{Role: identity.Viewer, Reason: "r", Hours: 1}); err != nil {
		t.Fatal(err)
	}
	list, err := w.del.ListForMSP(context.Background(), w.a1.MSPID, identity.GrantFilter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("MSP A's grants: %d, %v; want 2", len(list), err)
	}
	for _, g := range list {
		if g.TenantID != w.a2.ID {
			t.Errorf("MSP A lists a grant of tenant %s", g.TenantID)
		}
	}
	// InMSP answers as In, tenant by tenant, in one read.
	for _, who := range []*identity.Principal{admin, tech, technician("nobody", w.a1.MSPSlug), w.owner} {
		many, err := w.del.InMSP(context.Background(), who, w.a1.MSPID, []tenancy.Tenant{w.a1, w.a2, w.b1})
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range []tenancy.Tenant{w.a1, w.a2, w.b1} {
			one, _ := w.del.In(context.Background(), who, tn)
			got, ok := many[tn.ID]
			if ok != one.Role.Valid() || got.Role != one.Role || got.Source != one.Source || (got.Grant == nil) != (one.Grant == nil) {
				t.Errorf("%s in %s: InMSP %+v (%v), In %+v", who.Subject, tn.Slug, got, ok, one)
			}
		}
	}
	if ids, err := w.del.GrantedTenants(context.Background(), w.a1.MSPID, "tech"); err != nil || len(ids) != 1 || ids[0] != w.a2.ID {
		t.Errorf("where tech may go: %v, %v", ids, err)
	}
}

// TestGrantRefusals: who may ask, decide and revoke, and bad input, each
// refused with a clear error that changes nothing.
func TestGrantRefusals(t *testing.T) {
	w := newGrantWorld(t)
	c := w.ctx(w.a1)
	tech := technician("tech", w.a1.MSPSlug)
	admin := &identity.Principal{Subject: "msp-admin", MSPAdmin: []string{w.a1.MSPSlug}}
	ok := identity.GrantRequest{Role: identity.Operator, Reason: "ticket 7", Hours: 24}
	bad := []struct {
		name string
		who  *identity.Principal
		r    func(r identity.GrantRequest) identity.GrantRequest
		code fault.Code
		in   tenancy.Tenant
	}{
		{"another MSP's technician", technician("tech-b", w.b1.MSPSlug), nil, fault.Forbidden, w.a1},
		{"the tenant's own admin", w.owner, nil, fault.Forbidden, w.a1},
		{"a technician for someone else", tech, func(r identity.GrantRequest) identity.GrantRequest { r.Subject = "other"; return r }, fault.Forbidden, w.a1},
		{"break-glass for someone else", admin, func(r identity.GrantRequest) identity.GrantRequest {
			r.Subject, r.BreakGlass, r.Hours = "other", true, 1
			return r
		}, fault.Invalid, w.a1},
		{"no reason", tech, func(r identity.GrantRequest) identity.GrantRequest { r.Reason = "  "; return r }, fault.Invalid, w.a1},
		{"no time", tech, func(r identity.GrantRequest) identity.GrantRequest { r.Hours = 0; return r }, fault.Invalid, w.a1},
		{"a year", tech, func(r identity.GrantRequest) identity.GrantRequest { r.Hours = 365 * 24; return r }, fault.Invalid, w.a1},
		{"long break-glass", tech, func(r identity.GrantRequest) identity.GrantRequest { r.BreakGlass, r.Hours = true, 5; return r }, fault.Invalid, w.a1},
		{"an unknown role", tech, func(r identity.GrantRequest) identity.GrantRequest { r.Role = "root"; return r }, fault.Invalid, w.a1},
		{"an unknown group", tech, func(r identity.GrantRequest) identity.GrantRequest { r.Groups = []string{"nope"}; return r }, fault.Invalid, w.a1},
	}
	for _, b := range bad {
		r := ok
		if b.r != nil {
			r = b.r(r)
		}
		if _, err := w.del.Request(w.ctx(b.in), b.who, b.in, r); !fault.Is(err, b.code) {
			t.Errorf("%s: %v, want %s", b.name, err, b.code)
		}
	}
	if _, err := w.del.Request(context.Background(), tech, w.a1, ok); err == nil {
		t.Error("a request outside the tenant's context was accepted")
	}
	if n := count(t, w, w.a1); n != 0 {
		t.Fatalf("refused requests left %d grants", n)
	}
	g, err := w.del.Request(c, tech, w.a1, ok)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []*identity.Principal{tech, admin} {
		if _, err := w.del.Approve(c, who, w.a1, g.ID); !fault.Is(err, fault.Forbidden) {
			t.Errorf("%s approved: %v", who.Subject, err)
		}
	}
	if _, err := w.del.Revoke(c, technician("colleague", w.a1.MSPSlug), w.a1, g.ID); !fault.Is(err, fault.Forbidden) {
		t.Errorf("a colleague revoked: %v", err)
	}
	if _, err := w.del.Approve(w.ctx(w.b1), w.owner, w.b1, g.ID); !fault.Is(err, fault.Forbidden) && !fault.Is(err, fault.NotFound) {
		t.Errorf("approved from another tenant: %v", err)
	}
	if _, err := w.del.Approve(c, w.owner, w.a1, uuid.New()); !fault.Is(err, fault.NotFound) {
		t.Errorf("approving no grant: %v", err)
	}
	if _, err := w.del.Approve(c, w.owner, w.a1, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.del.Deny(c, w.owner, w.a1, g.ID); !fault.Is(err, fault.Conflict) {
		t.Errorf("denied an active grant: %v", err)
	}
	if g, err := w.del.Revoke(c, tech, w.a1, g.ID); err != nil || g.Status != identity.Revoked || g.RevokedBy != "tech" {
		t.Errorf("the grantee revokes: %+v, %v", g, err)
	}
	if _, err := w.del.Revoke(c, w.owner, w.a1, g.ID); !fault.Is(err, fault.Conflict) {
		t.Errorf("revoked twice: %v", err)
	}
	g2, _ := w.del.Request(c, tech, w.a1, ok)
	expire(t, g2.ID) // a requested grant has no expiry yet; approving starts it
	g2, err = w.del.Approve(c, w.owner, w.a1, g2.ID)
	if err != nil || g2.Status != identity.Active {
		t.Fatalf("approve: %+v, %v", g2, err)
	}
	expire(t, g2.ID)
	if _, err := w.del.Revoke(c, admin, w.a1, g2.ID); !fault.Is(err, fault.Conflict) {
		t.Errorf("revoked an expired grant: %v", err)
	}
	if got, _ := w.del.List(c, identity.GrantFilter{Status: identity.Expired}); len(got) != 1 || got[0].ID != g2.ID {
		t.Errorf("expired grants: %+v", got)
	}
	if _, err := w.del.List(c, identity.GrantFilter{Status: "sleeping"}); !fault.Is(err, fault.Invalid) {
		t.Errorf("an unknown status filter: %v", err)
	}
}

// TestBreakGlassAlerts: a break-glass grant is active at once in a tenant
// that asks for approval, and publishes the alert the tenant's admins
// (and their webhooks) receive.
func TestBreakGlassAlerts(t *testing.T) {
	w := newGrantWorld(t)
	c := w.ctx(w.a1)
	tech := technician("on-call", w.a1.MSPSlug)
	g, err := w.del.Request(c, tech, w.a1, identity.GrantRequest{Role: identity.Admin, Reason: "ransomware on the front desk", Hours: 2, BreakGlass: true})
	if err != nil || g.Status != identity.Active || !g.BreakGlass {
		t.Fatalf("break-glass: %+v, %v", g, err)
	}
	var kinds []string
	err = w.db.Tx(c, func(tx pgx.Tx) error {
		rows, _ := tx.Query(c, `SELECT kind FROM events WHERE subject = $1 ORDER BY id`, g.ID.String())
		var err error
		kinds, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || len(kinds) != 1 || kinds[0] != identity.EventBreakGlass {
		t.Fatalf("events of the break-glass grant: %v, %v", kinds, err)
	}
	if k, ok := events.Declared(identity.EventBreakGlass); !ok || !k.AdminOnly {
		t.Errorf("the break-glass kind: %+v, %v", k, ok)
	}
}

func count(t *testing.T, w *grantWorld, tn tenancy.Tenant) int {
	t.Helper()
	got, err := w.del.List(w.ctx(tn), identity.GrantFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

// An MSP that requires a second factor reaches its tenants only through
// people who signed in with one: its admins' standing access and its
// technicians' grants stop for the others (who are told why), service
// accounts go on, and the tenant's own people are not its MSP's to
// refuse.
func TestMSPRequiresMFA(t *testing.T) {
	w := newGrantWorld(t)
	dir, _ := tenancy.NewDirectory(w.db, "trident.test")
	tech := technician("tech", w.a2.MSPSlug)
	if _, err := w.del.Request(w.ctx(w.a2), tech, w.a2, identity.GrantRequest{Role: identity.Operator, Reason: "r", Hours: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := dir.SetRequireMFA(context.Background(), w.a2.MSPID, true)
	if err != nil || !m.RequireMFA {
		t.Fatalf("set: %+v, %v", m, err)
	}
	admin := &identity.Principal{Subject: "msp-admin", MSPAdmin: []string{w.a2.MSPSlug}}
	svc := &identity.Principal{Subject: "svc", MSPAdmin: []string{w.a2.MSPSlug}, Client: true}
	withMFA := &identity.Principal{Subject: "tech", MSPTechnician: []string{w.a2.MSPSlug}, MFA: true}
	for _, c := range []struct {
		who     *identity.Principal
		role    identity.Role
		refused bool
	}{{tech, "", true}, {admin, "", true}, {svc, identity.Admin, false}, {withMFA, identity.Operator, false}, {w.owner, "", false}} {
		a, err := w.del.In(context.Background(), c.who, w.a2)
		if err != nil || a.Role != c.role || a.MFARequired != c.refused {
			t.Errorf("%s: %+v, %v; want role %q, refused %v", c.who.Subject, a, err, c.role, c.refused)
		}
		many, _ := w.del.InMSP(context.Background(), c.who, w.a2.MSPID, []tenancy.Tenant{w.a2})
		if many[w.a2.ID].Role != c.role {
			t.Errorf("%s: InMSP %+v", c.who.Subject, many[w.a2.ID])
		}
		if err := c.who.CheckMFA(m); (err != nil) != c.refused || (err != nil && !fault.Is(err, fault.Forbidden)) {
			t.Errorf("%s: CheckMFA %v", c.who.Subject, err)
		}
	}
	if _, err := w.del.Request(w.ctx(w.a2), tech, w.a2, identity.GrantRequest{Role: identity.Operator, Reason: "r", Hours: 1}); !fault.Is(err, fault.Forbidden) {
		t.Errorf("a request without a second factor: %v", err)
	}
	// Another MSP's setting is its own.
	if a, _ := w.del.In(context.Background(), technician("tech-b", w.b1.MSPSlug), w.b1); a.MFARequired {
		t.Error("MSP B requires what MSP A set")
	}
}

// With several grants in force in one tenant, the policy uses one:
// tenant-wide before scoped to groups, then the higher role; In and
// InMSP pick the same.
func TestGrantPreference(t *testing.T) {
	w := newGrantWorld(t)
	tech := technician("busy", w.a2.MSPSlug)
	c := w.ctx(w.a2)
	ask := func(role identity.Role, groups []string) identity.Delegation {
		t.Helper()
		g, err := w.del.Request(c, tech, w.a2, identity.GrantRequest{Role: role, Groups: groups, Reason: "r", Hours: 2})
		if err != nil || g.Status != identity.Active {
			t.Fatalf("%s %v: %+v, %v", role, groups, g, err)
		}
		return g
	}
	inv := inventory.New(w.db, events.NewPublisher(nil))
	if _, err := inv.CreateGroup(c, "tills"); err != nil {
		t.Fatal(err)
	}
	check := func(want identity.Delegation) {
		t.Helper()
		a, err := w.del.In(context.Background(), tech, w.a2)
		if err != nil || a.Grant == nil || a.Grant.ID != want.ID {
			t.Errorf("In uses %+v (%v), want the %s grant %v", a.Grant, err, want.Role, want.Groups)
		}
		many, _ := w.del.InMSP(context.Background(), tech, w.a2.MSPID, []tenancy.Tenant{w.a2})
		if g := many[w.a2.ID].Grant; g == nil || g.ID != want.ID {
			t.Errorf("InMSP uses %+v, want the %s grant %v", g, want.Role, want.Groups)
		}
	}
	ask(identity.Admin, []string{"tills"})
	viewer := ask(identity.Viewer, nil)
	check(viewer) // tenant-wide before a higher role scoped to groups
	operator := ask(identity.Operator, nil)
	check(operator) // then the higher role
}
