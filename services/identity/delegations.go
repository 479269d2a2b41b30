package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/textcut"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// MSPAccess is a tenant's one setting for its MSP's access to it.
type MSPAccess string

const (
	// Standing: the MSP's admins administer the tenant at all times (as
	// before grants existed); its technicians' grants are active on
	// request. A tenant without the setting has this.
	Standing MSPAccess = "standing"
	// Preauthorized: everyone from the MSP needs a grant; grants are
	// active on request.
	Preauthorized MSPAccess = "preauthorized"
	// Approval: everyone from the MSP needs a grant, and a tenant admin
	// approves each.
	Approval MSPAccess = "approval"
)

// Valid reports whether m is a known setting.
func (m MSPAccess) Valid() bool { return m == Standing || m == Preauthorized || m == Approval }

// Source says where a caller's power in a tenant comes from; the audit
// log records it with every action.
type Source string

const (
	FromTenant     Source = "tenant"      // the tenant's own role, from the token
	FromMSP        Source = "msp"         // an MSP admin's standing access
	FromGrant      Source = "grant"       // a delegated grant
	FromBreakGlass Source = "break_glass" // an emergency grant
)

// Access is a caller's power in one tenant and where it comes from: the
// answer of the one policy (Delegations.In) every edge asks.
type Access struct {
	Role   Role   // "" for none
	Source Source // "" for none
	// Grant is the grant the power comes from (FromGrant, FromBreakGlass).
	Grant *Delegation
	// Member: the caller works for the tenant's MSP, so a refusal says a
	// grant would help (the tenant's existence is no secret to its MSP).
	Member bool
	// MFARequired: the tenant's MSP requires a second factor the caller
	// signed in without, so none of the MSP's power reaches the tenant.
	MFARequired bool
}

// GrantID is the id of the grant in use, if any.
func (a Access) GrantID() *uuid.UUID {
	if a.Grant == nil {
		return nil
	}
	return &a.Grant.ID
}

// WholeTenant refuses a grant scoped to device groups an operation on the
// whole tenant.
func (a Access) WholeTenant() error {
	if a.Grant == nil || len(a.Grant.Groups) == 0 {
		return nil
	}
	return fault.New(fault.Forbidden, "the grant in use covers the devices of the groups %s only; this acts on the whole tenant",
		strings.Join(a.Grant.Groups, ", "))
}

// Delegation is one grant of a tenant to someone of its MSP.
type Delegation struct {
	ID          uuid.UUID  `json:"id"`
	TenantID    uuid.UUID  `json:"tenant_id"`
	Subject     string     `json:"subject"` // the grantee's token subject
	SubjectName string     `json:"subject_name"`
	Role        Role       `json:"role"`
	Groups      []string   `json:"groups"` // device groups; empty: the whole tenant
	Reason      string     `json:"reason"`
	BreakGlass  bool       `json:"break_glass"`
	Hours       int        `json:"hours"`  // how long it lasts once active
	Status      string     `json:"status"` // requested, active, expired, denied or revoked
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	DecidedBy   string     `json:"decided_by,omitempty"` // who approved or denied it
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedBy   string     `json:"revoked_by,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// Grant statuses.
const (
	Requested = "requested"
	Active    = "active"
	Expired   = "expired"
	Denied    = "denied"
	Revoked   = "revoked"
)

// Event kinds of a grant's life; the subject is the grant's id.
const (
	EventGrantRequested = "access.grant_requested"
	EventGrantActive    = "access.grant_active"
	EventGrantEnded     = "access.grant_ended"
	EventBreakGlass     = "access.break_glass"
)

func init() {
	events.Declare(
		events.Kind{Name: EventGrantRequested, AdminOnly: true, Payload: Delegation{},
			Summary: "Someone of the tenant's MSP asks for access to it; a tenant admin approves or denies it."},
		events.Kind{Name: EventGrantActive, AdminOnly: true, Payload: Delegation{},
			Summary: "A grant of access to the tenant is active: approved, or pre-authorized by the tenant's setting."},
		events.Kind{Name: EventGrantEnded, AdminOnly: true, Payload: Delegation{},
			Summary: "A grant was denied or revoked."},
		events.Kind{Name: EventBreakGlass, AdminOnly: true, Payload: Delegation{},
			Summary: "Someone of the tenant's MSP took emergency (break-glass) access to it, without approval: review the reason."},
	)
}

// Limits of a grant's length.
const (
	MinHours        = 1
	MaxHours        = 180 * 24 // about six months
	MaxBreakGlass   = 4        // hours
	maxGrantGroups  = 20
	maxReasonLength = 1000
)

// DeviceGroups is what the policy reads of inventory: a scoped grant
// covers the devices of its groups.
type DeviceGroups interface {
	Groups(ctx context.Context) ([]inventory.Group, error)
	GroupsOf(ctx context.Context, device uuid.UUID) ([]inventory.Group, error)
}

// Delegations keeps grants and answers the policy.
type Delegations struct {
	db     *tenancy.DB
	pub    *events.Publisher
	groups DeviceGroups
}

// NewDelegations returns the grants of db's tenants.
func NewDelegations(db *tenancy.DB, pub *events.Publisher, groups DeviceGroups) *Delegations {
	return &Delegations{db: db, pub: pub, groups: groups}
}

// In is the caller's power in tenant t: the highest of its own role there,
// an MSP admin's standing access where the tenant allows it, and its
// active grant (tenant-wide grants first). It reads the writer, so a
// revoked or expired grant stops at once.
func (d *Delegations) In(ctx context.Context, p *Principal, t tenancy.Tenant) (Access, error) {
	a := ownAccess(p, t)
	if !p.WorksFor(t.MSPSlug) {
		return a, nil
	}
	a.Member = true
	var mode MSPAccess
	var grant *Delegation
	var requireMFA bool
	err := d.db.Tx(tenancy.WithTenant(ctx, t.ID), func(tx pgx.Tx) error {
		var err error
		if requireMFA, err = tenancy.MSPRequiresMFATx(ctx, tx, t.MSPID); err != nil || p.mfaRefused(requireMFA) {
			return err
		}
		if err := tx.QueryRow(ctx, selectSetting).Scan(&mode); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT `+grantCols+` FROM access_grants WHERE `+activeOf+` ORDER BY `+bestFirst+` LIMIT 1`, p.Subject)
		g, err := pgx.CollectRows(rows, scanGrant)
		if len(g) == 1 {
			grant = &g[0]
		}
		return err
	})
	if err != nil {
		return Access{}, fmt.Errorf("identity: the caller's access: %w", err)
	}
	if p.mfaRefused(requireMFA) {
		a.MFARequired = true
		return a, nil
	}
	return decide(a, p, t, mode, grant), nil
}

// selectSetting reads the tenant's msp_access (none kept: standing).
const selectSetting = `SELECT coalesce((SELECT msp_access FROM access_settings), 'standing')`

// activeOf keeps the grants to subject $1 in force now.
const activeOf = `subject = $1 AND status = 'active' AND expires_at > now()`

// preference is how the policy ranks a caller's grants in one tenant:
// tenant-wide before scoped to groups, then the higher role, then the
// later expiry; bestFirst and bestLast order by it.
var (
	preference = []string{"cardinality(groups) = 0", "array_position(ARRAY['viewer', 'operator', 'admin'], role)", "expires_at"}
	bestFirst  = strings.Join(preference, " DESC, ") + " DESC"
	bestLast   = strings.Join(preference, ", ")
)

// ownAccess is what the token alone gives the caller in t: the tenant's
// own role, if any.
func ownAccess(p *Principal, t tenancy.Tenant) Access {
	a := Access{Role: p.ownRole(t)}
	if a.Role.Valid() {
		a.Source = FromTenant
	}
	return a
}

// decide is the policy's answer for a member of t's MSP, from its own
// role a, the tenant's setting and its best active grant there.
func decide(a Access, p *Principal, t tenancy.Tenant, mode MSPAccess, grant *Delegation) Access {
	if p.AdministersMSP(t.MSPSlug) && mode == Standing && Admin.rank() > a.Role.rank() {
		a.Role, a.Source = Admin, FromMSP
	}
	if grant != nil && grant.Role.rank() > a.Role.rank() {
		a.Role, a.Source, a.Grant = grant.Role, FromGrant, grant
		if grant.BreakGlass {
			a.Source = FromBreakGlass
		}
	}
	return a
}

// InMSP is In for many tenants of one MSP at once (a person's list of
// tenants), in one read of the reader: each of ts the caller has any
// power in, by id.
func (d *Delegations) InMSP(ctx context.Context, p *Principal, msp uuid.UUID, ts []tenancy.Tenant) (map[uuid.UUID]Access, error) {
	modes := map[uuid.UUID]MSPAccess{}
	grants := map[uuid.UUID]*Delegation{}
	var requireMFA bool
	err := d.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		var err error
		if requireMFA, err = tenancy.MSPRequiresMFATx(ctx, tx, msp); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT tenant_id, msp_access FROM access_settings`)
		var tid uuid.UUID
		var m MSPAccess
		if _, err := pgx.ForEachRow(rows, []any{&tid, &m}, func() error { modes[tid] = m; return nil }); err != nil {
			return err
		}
		rows, _ = tx.Query(ctx, `SELECT `+grantCols+` FROM access_grants WHERE `+activeOf+` ORDER BY `+bestLast, p.Subject)
		gs, err := pgx.CollectRows(rows, scanGrant)
		for i := range gs { // the best last, as In picks
			grants[gs[i].TenantID] = &gs[i]
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("identity: the caller's access: %w", err)
	}
	out := map[uuid.UUID]Access{}
	for _, t := range ts {
		a := ownAccess(p, t)
		if t.MSPID == msp && p.WorksFor(t.MSPSlug) {
			mode, ok := modes[t.ID]
			if !ok {
				mode = Standing
			}
			a.Member = true
			if a.MFARequired = p.mfaRefused(requireMFA); !a.MFARequired {
				a = decide(a, p, t, mode, grants[t.ID])
			}
		}
		if a.Role.Valid() {
			out[t.ID] = a
		}
	}
	return out, nil
}

// Reach is the policy for an MSP's operation on one of its tenants (a
// cross-tenant command's part, an export): the caller's power there, as
// In says, must be tenant-wide and pass may. It answers the access, for
// the audit entry, or why not.
func (d *Delegations) Reach(ctx context.Context, p *Principal, t tenancy.Tenant, may func(Role) error) (Access, error) {
	got, err := d.In(ctx, p, t)
	switch {
	case err != nil:
		return Access{}, err
	case got.MFARequired:
		return Access{}, fault.New(fault.Forbidden, "%s", MFAMessage(t.MSPSlug))
	case !got.Role.Valid():
		return Access{}, fault.New(fault.Forbidden, "the tenant %s asks its MSP for a grant, and the caller holds none there", t.Slug)
	}
	if err := errors.Join(got.WholeTenant(), may(got.Role)); err != nil {
		return Access{}, err
	}
	return got, nil
}

// Holds reports whether the caller still holds access a in t, for what
// lasts past the request that was allowed (a live stream): the tenant's
// own role comes with the token; an MSP's standing access or a grant is
// asked again, so an expired, revoked or refused one ends the stream.
func (d *Delegations) Holds(ctx context.Context, p *Principal, t tenancy.Tenant, a Access) (bool, error) {
	if a.Source == FromTenant || a.Source == "" {
		return true, nil
	}
	now, err := d.In(ctx, p, t)
	return err == nil && now.Role.Valid() && now.Role.AtLeast(a.Role), err
}

// Covers is the scope check of an operation: a grant scoped to device
// groups covers only an operation on one device of them, named by device
// as the request's path has it ("" when it names none, or not a device
// id). Other access covers everything.
func (d *Delegations) Covers(ctx context.Context, a Access, device string) error {
	if a.Grant == nil || len(a.Grant.Groups) == 0 {
		return nil
	}
	id, err := uuid.Parse(device)
	if err != nil {
		return a.WholeTenant()
	}
	return d.CoversDevice(tenancy.WithTenant(ctx, a.Grant.TenantID), a, id)
}

// CoversDevice refuses a grant scoped to device groups a device outside
// them; other access covers every device. ctx carries the tenant.
func (d *Delegations) CoversDevice(ctx context.Context, a Access, device uuid.UUID) error {
	if a.Grant == nil || len(a.Grant.Groups) == 0 {
		return nil
	}
	in, err := d.groups.GroupsOf(ctx, device)
	if err != nil {
		return err
	}
	for _, g := range in {
		if slices.Contains(a.Grant.Groups, g.Name) {
			return nil
		}
	}
	return fault.New(fault.Forbidden, "the grant in use covers the devices of the groups %s; this device is in none of them",
		strings.Join(a.Grant.Groups, ", "))
}

const grantCols = `id, tenant_id, subject, subject_name, role, groups, reason, break_glass,
  (extract(epoch FROM duration) / 3600)::int, CASE WHEN status = 'active' AND expires_at <= now() THEN 'expired' ELSE status END,
  requested_by, requested_at, decided_by, decided_at, expires_at, revoked_by, revoked_at`

func scanGrant(r pgx.CollectableRow) (Delegation, error) {
	var g Delegation
	err := r.Scan(&g.ID, &g.TenantID, &g.Subject, &g.SubjectName, &g.Role, &g.Groups, &g.Reason, &g.BreakGlass, &g.Hours, &g.Status,
		&g.RequestedBy, &g.RequestedAt, &g.DecidedBy, &g.DecidedAt, &g.ExpiresAt, &g.RevokedBy, &g.RevokedAt)
	return g, err
}

// GrantRequest asks for a grant.
type GrantRequest struct {
	// Subject and SubjectName name the grantee; "" is the caller. Only an
	// MSP admin asks for someone else.
	Subject, SubjectName string
	Role                 Role
	Groups               []string // device group names; none: the whole tenant
	Reason               string
	Hours                int
	// BreakGlass is active at once whatever the tenant's setting, for at
	// most MaxBreakGlass hours, and alerts the tenant's admins.
	BreakGlass bool
}

// Request asks tenant t (in ctx) for a grant on behalf of its MSP: active
// at once when the tenant pre-authorizes its MSP or it is break-glass,
// else waiting for a tenant admin.
func (d *Delegations) Request(ctx context.Context, p *Principal, t tenancy.Tenant, r GrantRequest) (Delegation, error) {
	if err := inTenant(ctx, t); err != nil {
		return Delegation{}, err
	}
	if !p.WorksFor(t.MSPSlug) {
		return Delegation{}, fault.New(fault.Forbidden, "only someone of the tenant's MSP asks it for access")
	}
	if r.Subject == "" || r.Subject == p.Subject {
		r.Subject, r.SubjectName = p.Subject, p.Name
	} else if !p.AdministersMSP(t.MSPSlug) {
		return Delegation{}, fault.New(fault.Forbidden, "a technician asks for access for themself only; an MSP admin asks for others")
	} else if r.BreakGlass {
		return Delegation{}, fault.InvalidField("subject", "break-glass access is taken by the person who needs it, for themself")
	}
	if err := d.checkRequest(ctx, r); err != nil {
		return Delegation{}, err
	}
	if r.Groups == nil {
		r.Groups = []string{}
	}
	return tenancy.Write(ctx, d.db, func(tx pgx.Tx) (Delegation, error) {
		if require, err := tenancy.MSPRequiresMFATx(ctx, tx, t.MSPID); err != nil {
			return Delegation{}, err
		} else if p.mfaRefused(require) {
			return Delegation{}, fault.New(fault.Forbidden, "%s", MFAMessage(t.MSPSlug))
		}
		var mode MSPAccess
		if err := tx.QueryRow(ctx, selectSetting).Scan(&mode); err != nil {
			return Delegation{}, err
		}
		status := Active
		if mode == Approval && !r.BreakGlass {
			status = Requested
		}
		rows, _ := tx.Query(ctx, `
INSERT INTO access_grants (msp_id, id, subject, subject_name, role, groups, reason, break_glass, duration, status, requested_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, make_interval(hours => $9), $10, $11,
  CASE WHEN $10 = 'active' THEN now() + make_interval(hours => $9) END)
RETURNING `+grantCols, t.MSPID, uuid.New(), r.Subject, textcut.Prefix(r.SubjectName, 200), r.Role, r.Groups, strings.TrimSpace(r.Reason),
			r.BreakGlass, r.Hours, status, p.Subject)
		g, err := pgx.CollectExactlyOneRow(rows, scanGrant)
		if err != nil {
			return Delegation{}, fmt.Errorf("identity: record a grant: %w", err)
		}
		kind := EventGrantRequested
		switch {
		case g.BreakGlass:
			kind = EventBreakGlass
		case status == Active:
			kind = EventGrantActive
		}
		_, err = d.pub.Publish(ctx, tx, kind, g.ID.String(), g)
		return g, err
	})
}

func (d *Delegations) checkRequest(ctx context.Context, r GrantRequest) error {
	var errs []error
	if r.Role != Viewer && r.Role != Operator && r.Role != Admin {
		errs = append(errs, fault.InvalidField("role", "must be viewer, operator or admin"))
	}
	if n := len(strings.TrimSpace(r.Reason)); n == 0 || len(r.Reason) > maxReasonLength {
		errs = append(errs, fault.InvalidField("reason", fmt.Sprintf("say why (a ticket, an incident), 1 to %d characters", maxReasonLength)))
	}
	max := MaxHours
	if r.BreakGlass {
		max = MaxBreakGlass
	}
	if r.Hours < MinHours || r.Hours > max {
		errs = append(errs, fault.InvalidField("hours", fmt.Sprintf("must be %d to %d hours from when it is active", MinHours, max)))
	}
	if len(r.Subject) > 255 {
		errs = append(errs, fault.InvalidField("subject", "at most 255 characters"))
	}
	if len(r.Groups) > maxGrantGroups {
		errs = append(errs, fault.InvalidField("groups", fmt.Sprintf("at most %d groups", maxGrantGroups)))
	} else if len(r.Groups) > 0 {
		have, err := d.groups.Groups(ctx)
		if err != nil {
			return err
		}
		for _, name := range r.Groups {
			if !slices.ContainsFunc(have, func(g inventory.Group) bool { return g.Name == name }) {
				errs = append(errs, fault.InvalidField("groups", fmt.Sprintf("the tenant has no device group %q", name)))
				break
			}
		}
	}
	return fault.Join(errs...)
}

// Approve activates a requested grant of tenant t (in ctx); only the
// tenant's own admins approve, never its MSP.
func (d *Delegations) Approve(ctx context.Context, p *Principal, t tenancy.Tenant, id uuid.UUID) (Delegation, error) {
	return d.decide(ctx, p, t, id, Active, EventGrantActive)
}

// Deny refuses a requested grant of tenant t (in ctx); only the tenant's
// own admins deny.
func (d *Delegations) Deny(ctx context.Context, p *Principal, t tenancy.Tenant, id uuid.UUID) (Delegation, error) {
	return d.decide(ctx, p, t, id, Denied, EventGrantEnded)
}

func (d *Delegations) decide(ctx context.Context, p *Principal, t tenancy.Tenant, id uuid.UUID, to, kind string) (Delegation, error) {
	if err := inTenant(ctx, t); err != nil {
		return Delegation{}, err
	}
	if p.ownRole(t) != Admin {
		return Delegation{}, fault.New(fault.Forbidden, "only the tenant's own admins approve or deny its MSP's access, not a grant or the MSP")
	}
	return d.change(ctx, id, kind, "", `UPDATE access_grants SET status = $2, decided_by = $3, decided_at = now(),
  expires_at = CASE WHEN $2 = 'active' THEN now() + duration END
WHERE id = $1 AND status = 'requested' RETURNING `+grantCols, id, to, p.Subject)
}

// Revoke ends a requested or active grant of tenant t (in ctx) at once.
// The tenant's own admins, its MSP's admins and the grantee revoke.
func (d *Delegations) Revoke(ctx context.Context, p *Principal, t tenancy.Tenant, id uuid.UUID) (Delegation, error) {
	if err := inTenant(ctx, t); err != nil {
		return Delegation{}, err
	}
	refused := "only the tenant's admins, its MSP's admins and the grantee revoke a grant"
	return d.change(ctx, id, EventGrantEnded, refused, `UPDATE access_grants SET status = 'revoked', revoked_by = $2, revoked_at = now()
WHERE id = $1 AND (status = 'requested' OR (status = 'active' AND expires_at > now())) AND ($3 OR subject = $2)
RETURNING `+grantCols, id, p.Subject, p.ownRole(t) == Admin || p.AdministersMSP(t.MSPSlug))
}

// change runs an update of one grant and publishes kind for it. No row
// updated is a grant that is not there, not in a state to change, or
// (refused, for a requested or active one) not the caller's to change.
func (d *Delegations) change(ctx context.Context, id uuid.UUID, kind, refused, sql string, args ...any) (Delegation, error) {
	return tenancy.Write(ctx, d.db, func(tx pgx.Tx) (Delegation, error) {
		rows, _ := tx.Query(ctx, sql, args...)
		g, err := pgx.CollectExactlyOneRow(rows, scanGrant)
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err := d.getTx(ctx, tx, id)
			if err != nil {
				return Delegation{}, err
			}
			if refused != "" && (cur.Status == Requested || cur.Status == Active) {
				return Delegation{}, fault.New(fault.Forbidden, "%s", refused)
			}
			return Delegation{}, fault.New(fault.Conflict, "the grant is %s; that cannot change now", cur.Status)
		}
		if err != nil {
			return Delegation{}, fmt.Errorf("identity: change a grant: %w", err)
		}
		_, err = d.pub.Publish(ctx, tx, kind, g.ID.String(), g)
		return g, err
	})
}

func (d *Delegations) getTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Delegation, error) {
	rows, _ := tx.Query(ctx, `SELECT `+grantCols+` FROM access_grants WHERE id = $1`, id)
	g, err := pgx.CollectExactlyOneRow(rows, scanGrant)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delegation{}, fault.New(fault.NotFound, "no such grant")
	}
	return g, err
}

// Get returns one grant of the tenant in ctx.
func (d *Delegations) Get(ctx context.Context, id uuid.UUID) (Delegation, error) {
	return tenancy.Read(ctx, d.db, func(tx pgx.Tx) (Delegation, error) { return d.getTx(ctx, tx, id) })
}

// GrantFilter narrows List and ListForMSP.
type GrantFilter struct {
	Status  string // one status; "" any; "current" requested or active
	Subject string // only this grantee
	Limit   int    // at most this many (0: 100)
}

const filterGrants = `($1 = '' OR subject = $1) AND CASE $2
  WHEN '' THEN true
  WHEN 'current' THEN status = 'requested' OR (status = 'active' AND expires_at > now())
  WHEN 'active' THEN status = 'active' AND expires_at > now()
  WHEN 'expired' THEN status = 'active' AND expires_at <= now()
  ELSE status = $2 END`

func (f GrantFilter) check() (GrantFilter, error) {
	switch f.Status {
	case "", "current", Requested, Active, Expired, Denied, Revoked:
	default:
		return f, fault.InvalidField("status", "must be current, requested, active, expired, denied or revoked")
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return f, nil
}

// List returns the grants of the tenant in ctx, newest first.
func (d *Delegations) List(ctx context.Context, f GrantFilter) ([]Delegation, error) {
	f, err := f.check()
	if err != nil {
		return nil, err
	}
	return tenancy.Read(ctx, d.db, func(tx pgx.Tx) ([]Delegation, error) {
		rows, _ := tx.Query(ctx, `SELECT `+grantCols+` FROM access_grants WHERE `+filterGrants+`
ORDER BY requested_at DESC, id LIMIT $3`, f.Subject, f.Status, f.Limit)
		return pgx.CollectRows(rows, scanGrant)
	})
}

// ListForMSP returns the grants of MSP msp's tenants, newest first: an
// MSP admin's view of every one, a technician's of its own (f.Subject).
func (d *Delegations) ListForMSP(ctx context.Context, msp uuid.UUID, f GrantFilter) ([]Delegation, error) {
	f, err := f.check()
	if err != nil {
		return nil, err
	}
	var out []Delegation
	err = d.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+grantCols+` FROM access_grants WHERE `+filterGrants+`
ORDER BY requested_at DESC, id LIMIT $3`, f.Subject, f.Status, f.Limit)
		out, err = pgx.CollectRows(rows, scanGrant)
		return err
	})
	return out, err
}

// GrantedTenants lists the tenants of MSP msp where subject holds an
// active grant now: where a technician may go.
func (d *Delegations) GrantedTenants(ctx context.Context, msp uuid.UUID, subject string) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := d.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT DISTINCT tenant_id FROM access_grants
WHERE msp_id = $1 AND subject = $2 AND status = 'active' AND expires_at > now()`, msp, subject)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	return out, err
}

// MSPAccessOf is the setting of the tenant in ctx.
func (d *Delegations) MSPAccessOf(ctx context.Context) (MSPAccess, error) {
	return tenancy.Read(ctx, d.db, func(tx pgx.Tx) (MSPAccess, error) {
		var m MSPAccess
		err := tx.QueryRow(ctx, selectSetting).Scan(&m)
		return m, err
	})
}

// SetMSPAccess changes the setting of tenant t (in ctx). Only the
// tenant's own admins change it: not its MSP, nor anyone through a
// grant. Grants already active stay until they end.
func (d *Delegations) SetMSPAccess(ctx context.Context, p *Principal, t tenancy.Tenant, m MSPAccess) (MSPAccess, error) {
	if err := inTenant(ctx, t); err != nil {
		return "", err
	}
	if !m.Valid() {
		return "", fault.InvalidField("msp_access", "must be standing, preauthorized or approval")
	}
	if p.ownRole(t) != Admin {
		return "", fault.New(fault.Forbidden, "only the tenant's own admins set how its MSP reaches it")
	}
	return tenancy.Write(ctx, d.db, func(tx pgx.Tx) (MSPAccess, error) {
		_, err := tx.Exec(ctx, `INSERT INTO access_settings (msp_id, msp_access) VALUES ($2, $1)
ON CONFLICT (tenant_id) DO UPDATE SET msp_access = $1, updated_at = now()`, m, t.MSPID)
		return m, err
	})
}

// inTenant checks that ctx carries tenant t, as the use cases need.
func inTenant(ctx context.Context, t tenancy.Tenant) error {
	if id, ok := tenancy.FromContext(ctx); !ok || id != t.ID {
		return tenancy.ErrNoTenant
	}
	return nil
}
