package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MSP is a managed service provider: it runs many tenants.
type MSP struct {
	ID        uuid.UUID
	Slug      string
	Name      string
	CreatedAt time.Time
	// RequireMFA refuses the MSP's people who signed in without a second
	// factor (services/identity).
	RequireMFA bool
}

// Status is a tenant's state. Suspended tenants' device endpoints refuse
// service; their data stays.
type Status string

const (
	Active    Status = "active"
	Suspended Status = "suspended"
)

// Tenant is one customer of an MSP: its devices, settings and hostnames.
type Tenant struct {
	ID        uuid.UUID
	MSPID     uuid.UUID
	MSPSlug   string
	Slug      string
	Name      string
	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Directory manages MSPs, tenants and hostnames. baseDomain is the domain
// under which every tenant has {slug}.{baseDomain}.
type Directory struct {
	db   *DB
	base string
	dns  TXTResolver // for ownership checks; nil means DNSResolver("")
}

// NewDirectory returns the directory on db for baseDomain.
func NewDirectory(db *DB, baseDomain string) (*Directory, error) {
	base, err := NormalizeHost(baseDomain)
	if err != nil {
		return nil, fmt.Errorf("tenancy: base domain: %w", err)
	}
	return &Directory{db: db, base: base}, nil
}

// BaseDomain is the domain tenants' own names live under.
func (d *Directory) BaseDomain() string { return d.base }

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

func checkSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return invalid("slug", "%q must be 1-40 lower-case letters, digits or hyphens, not starting or ending with a hyphen", slug)
	}
	return nil
}

func checkName(name string) error {
	if n := len(strings.TrimSpace(name)); n == 0 || len(name) > 200 {
		return invalid("name", "must be 1-200 characters")
	}
	return nil
}

// CreateMSP adds an MSP.
func (d *Directory) CreateMSP(ctx context.Context, slug, name string) (MSP, error) {
	if err := errors.Join(checkSlug(slug), checkName(name)); err != nil {
		return MSP{}, err
	}
	m := MSP{ID: uuid.New(), Slug: slug, Name: name}
	err := d.db.writer.QueryRow(ctx, `INSERT INTO msps (id, slug, name) VALUES ($1, $2, $3) RETURNING created_at`,
		m.ID, slug, name).Scan(&m.CreatedAt)
	if isCode(err, "23505") {
		return MSP{}, fmt.Errorf("msp %q: %w", slug, ErrConflict)
	}
	if err != nil {
		return MSP{}, fmt.Errorf("create msp: %w", err)
	}
	return m, nil
}

// MSPBySlug finds an MSP.
func (d *Directory) MSPBySlug(ctx context.Context, slug string) (MSP, error) {
	var m MSP
	err := d.db.writer.QueryRow(ctx, `SELECT id, slug, name, created_at, require_mfa FROM msps WHERE slug = $1`, slug).
		Scan(&m.ID, &m.Slug, &m.Name, &m.CreatedAt, &m.RequireMFA)
	if errors.Is(err, pgx.ErrNoRows) {
		return MSP{}, fmt.Errorf("msp %q: %w", slug, ErrNotFound)
	}
	return m, err
}

// ListMSPs lists every MSP by slug.
func (d *Directory) ListMSPs(ctx context.Context) ([]MSP, error) {
	rows, _ := d.db.reader.Query(ctx, `SELECT id, slug, name, created_at, require_mfa FROM msps ORDER BY slug`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (MSP, error) {
		var m MSP
		return m, r.Scan(&m.ID, &m.Slug, &m.Name, &m.CreatedAt, &m.RequireMFA)
	})
}

// SetRequireMFA sets whether MSP id refuses its people who signed in
// without a second factor.
func (d *Directory) SetRequireMFA(ctx context.Context, id uuid.UUID, require bool) (MSP, error) {
	var m MSP
	err := d.db.writer.QueryRow(ctx, `UPDATE msps SET require_mfa = $2 WHERE id = $1 RETURNING id, slug, name, created_at, require_mfa`, id, require).
		Scan(&m.ID, &m.Slug, &m.Name, &m.CreatedAt, &m.RequireMFA)
	if errors.Is(err, pgx.ErrNoRows) {
		return MSP{}, fmt.Errorf("msp %s: %w", id, ErrNotFound)
	}
	return m, err
}

// MSPRequiresMFATx reads, in tx, whether MSP id requires a second factor
// of its people: for the access policy, in the transaction it reads
// grants in.
func MSPRequiresMFATx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (bool, error) {
	var require bool
	err := tx.QueryRow(ctx, `SELECT coalesce((SELECT require_mfa FROM msps WHERE id = $1), false)`, id).Scan(&require)
	return require, err
}

// CreateTenant adds a tenant to an MSP. Its {slug}.{base} hostname works at
// once.
func (d *Directory) CreateTenant(ctx context.Context, mspID uuid.UUID, slug, name string) (Tenant, error) {
	id := uuid.New()
	var t Tenant
	err := d.db.Tx(WithTenant(ctx, id), func(tx pgx.Tx) error {
		var err error
		t, err = CreateTenantTx(ctx, tx, id, mspID, slug, name)
		return err
	})
	return t, err
}

// CreateTenantTx adds tenant id to an MSP inside tx, a transaction scoped
// to id (so what else tx writes for the new tenant commits with it).
func CreateTenantTx(ctx context.Context, tx pgx.Tx, id, mspID uuid.UUID, slug, name string) (Tenant, error) {
	if err := errors.Join(checkSlug(slug), checkName(name)); err != nil {
		return Tenant{}, err
	}
	t := Tenant{ID: id, MSPID: mspID, Slug: slug, Name: name, Status: Active}
	err := tx.QueryRow(ctx, `
INSERT INTO tenants (id, msp_id, slug, name) VALUES ($1, $2, $3, $4)
RETURNING created_at, updated_at, (SELECT slug FROM msps WHERE id = $2)`, t.ID, mspID, slug, name).Scan(&t.CreatedAt, &t.UpdatedAt, &t.MSPSlug)
	switch {
	case isCode(err, "23505"):
		return Tenant{}, fmt.Errorf("tenant %q: %w", slug, ErrConflict)
	case isCode(err, "23503"):
		return Tenant{}, fmt.Errorf("msp %s: %w", mspID, ErrNotFound)
	case err != nil:
		return Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	return t, nil
}

const tenantSelect = `SELECT t.id, t.msp_id, m.slug, t.slug, t.name, t.status, t.created_at, t.updated_at
FROM tenants t JOIN msps m ON m.id = t.msp_id`

func scanTenant(r pgx.Row) (Tenant, error) {
	var t Tenant
	err := r.Scan(&t.ID, &t.MSPID, &t.MSPSlug, &t.Slug, &t.Name, &t.Status, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// CurrentTenantTx is the tenant tx is scoped to, for a service's use case
// that holds the transaction.
func CurrentTenantTx(ctx context.Context, tx pgx.Tx) (Tenant, error) {
	t, err := scanTenant(tx.QueryRow(ctx, tenantSelect+` WHERE t.id = current_tenant()`))
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("the transaction's tenant: %w", ErrNotFound)
	}
	return t, err
}

func (d *Directory) oneTenant(ctx context.Context, what, where string, arg any) (Tenant, error) {
	t, err := scanTenant(d.db.writer.QueryRow(ctx, tenantSelect+` WHERE t.`+where+` = $1`, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, fmt.Errorf("tenant %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("find tenant %s: %w", what, err)
	}
	return t, nil
}

// Tenant finds a tenant by id.
func (d *Directory) Tenant(ctx context.Context, id uuid.UUID) (Tenant, error) {
	return d.oneTenant(ctx, id.String(), "id", id)
}

// TenantBySlug finds a tenant by slug.
func (d *Directory) TenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	return d.oneTenant(ctx, fmt.Sprintf("%q", slug), "slug", slug)
}

// ListTenants lists an MSP's tenants by slug, or every tenant when mspID is
// uuid.Nil.
func (d *Directory) ListTenants(ctx context.Context, mspID uuid.UUID) ([]Tenant, error) {
	rows, _ := d.db.reader.Query(ctx, tenantSelect+`
WHERE $1::uuid IS NULL OR t.msp_id = $1 ORDER BY t.slug`, uuid.NullUUID{UUID: mspID, Valid: mspID != uuid.Nil})
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}

// SetStatus suspends or reactivates a tenant.
func (d *Directory) SetStatus(ctx context.Context, id uuid.UUID, st Status) error {
	return d.db.Tx(WithTenant(ctx, id), func(tx pgx.Tx) error {
		_, err := UpdateTenantTx(ctx, tx, id, TenantUpdate{Status: &st})
		return err
	})
}

// TenantUpdate is a change to a tenant; nil fields stay as they are.
type TenantUpdate struct {
	Name   *string
	Status *Status
	// IfUpdatedAt, when set, applies the change only if the tenant was last
	// updated at exactly this time (optimistic concurrency), else ErrStale.
	IfUpdatedAt time.Time
}

// UpdateTenantTx changes tenant id inside tx.
func UpdateTenantTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, u TenantUpdate) (Tenant, error) {
	if u.Name != nil {
		if err := checkName(*u.Name); err != nil {
			return Tenant{}, err
		}
	}
	if u.Status != nil && *u.Status != Active && *u.Status != Suspended {
		return Tenant{}, invalid("status", "%q is neither %q nor %q", *u.Status, Active, Suspended)
	}
	t, err := scanTenant(tx.QueryRow(ctx, `
WITH u AS (
    UPDATE tenants SET name = coalesce($2, name), status = coalesce($3, status), updated_at = clock_timestamp()
    WHERE id = $1 AND ($4::timestamptz IS NULL OR updated_at = $4)
    RETURNING *)
SELECT t.id, t.msp_id, m.slug, t.slug, t.name, t.status, t.created_at, t.updated_at
FROM u t JOIN msps m ON m.id = t.msp_id`, id, u.Name, u.Status, nullTime(u.IfUpdatedAt)))
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)`, id).Scan(&exists); err != nil {
			return Tenant{}, err
		}
		if exists {
			return Tenant{}, fmt.Errorf("tenant %s: %w", id, ErrStale)
		}
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("update tenant: %w", err)
	}
	return t, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// TenantSort orders QueryTenants.
type TenantSort string

const (
	BySlug         TenantSort = "slug"
	BySlugDesc     TenantSort = "-slug"
	ByCreated      TenantSort = "created_at"
	ByCreatedDesc  TenantSort = "-created_at"
	defaultSorting            = BySlug
)

// TenantQuery selects a page of an MSP's tenants.
type TenantQuery struct {
	Status Status     // only tenants in this status ("" for all)
	Sort   TenantSort // default BySlug
	After  *Tenant    // the last tenant of the previous page (its Slug, CreatedAt and ID)
	Limit  int
}

// Each ordering has its own statement: keyset pagination on a unique key.
var tenantPages = map[TenantSort]string{
	BySlug:        `AND (@slug::text IS NULL OR t.slug > @slug) ORDER BY t.slug`,
	BySlugDesc:    `AND (@slug::text IS NULL OR t.slug < @slug) ORDER BY t.slug DESC`,
	ByCreated:     `AND (@at::timestamptz IS NULL OR (t.created_at, t.id) > (@at, @id)) ORDER BY t.created_at, t.id`,
	ByCreatedDesc: `AND (@at::timestamptz IS NULL OR (t.created_at, t.id) < (@at, @id)) ORDER BY t.created_at DESC, t.id DESC`,
}

// QueryTenants returns a page of MSP mspID's tenants.
func (d *Directory) QueryTenants(ctx context.Context, mspID uuid.UUID, q TenantQuery) ([]Tenant, error) {
	if q.Sort == "" {
		q.Sort = defaultSorting
	}
	order, ok := tenantPages[q.Sort]
	if !ok {
		return nil, invalid("sort", "%q is not one of slug, -slug, created_at, -created_at", q.Sort)
	}
	var slug *string
	var created *time.Time
	var id uuid.NullUUID
	if q.After != nil {
		slug, created, id = &q.After.Slug, &q.After.CreatedAt, uuid.NullUUID{UUID: q.After.ID, Valid: true}
	}
	rows, _ := d.db.reader.Query(ctx, tenantSelect+`
WHERE t.msp_id = @msp AND (@status = '' OR t.status = @status) `+order+` LIMIT @limit`,
		pgx.NamedArgs{"msp": mspID, "status": string(q.Status), "slug": slug, "at": created, "id": id, "limit": q.Limit})
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) { return scanTenant(r) })
}

// Hostnames lists the tenant's hostnames: {slug}.{base} first, then the
// custom ones by name.
func (d *Directory) Hostnames(ctx context.Context, t Tenant) ([]Hostname, error) {
	var names []Hostname
	err := d.db.ReadTx(WithTenant(ctx, t.ID), func(tx pgx.Tx) error {
		var err error
		names, err = d.HostnamesTx(ctx, tx, t)
		return err
	})
	return names, err
}

// HostnamesTx is Hostnames inside tx, a transaction scoped to t.
func (d *Directory) HostnamesTx(ctx context.Context, tx pgx.Tx, t Tenant) ([]Hostname, error) {
	rows, _ := tx.Query(ctx, `SELECT `+hostnameColumns+` FROM tenant_hostnames WHERE tenant_id = current_tenant() ORDER BY hostname`)
	custom, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Hostname, error) { return scanHostname(r) })
	own := Hostname{Name: t.Slug + "." + d.base, CreatedAt: t.CreatedAt, VerifiedAt: &t.CreatedAt}
	return append([]Hostname{own}, custom...), err
}

// AddHostname registers a custom hostname to tenant id, for example
// enterpriseenrollment.customer.example for Windows discovery. It is
// pending until VerifyHostname finds its TXT record.
func (d *Directory) AddHostname(ctx context.Context, id uuid.UUID, hostname string) (Hostname, error) {
	var h Hostname
	err := d.db.Tx(WithTenant(ctx, id), func(tx pgx.Tx) error {
		var err error
		h, err = d.AddHostnameTx(ctx, tx, id, hostname)
		return err
	})
	return h, err
}

// AddHostnameTx is AddHostname inside tx, a transaction scoped to id. Names
// under the base domain are reserved for tenants' slugs; IP literals are
// no one's; a name at or under another tenant's verified name is that
// tenant's.
func (d *Directory) AddHostnameTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, hostname string) (Hostname, error) {
	h, err := NormalizeHost(hostname)
	if err != nil {
		return Hostname{}, err
	}
	if h == d.base || strings.HasSuffix(h, "."+d.base) {
		return Hostname{}, invalid("hostname", "%q is under the base domain %q, where names are the tenants' slugs", h, d.base)
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return Hostname{}, invalid("hostname", "%q is an IP address: a tenant's hostname is a DNS name of its own", h)
	}
	if !strings.Contains(h, ".") {
		return Hostname{}, invalid("hostname", "%q is not a fully qualified name", h)
	}
	taken, err := claimedElsewhere(ctx, tx, id, h)
	if err != nil {
		return Hostname{}, fmt.Errorf("add hostname: %w", err)
	}
	if taken != "" {
		return Hostname{}, claimedError(h, taken)
	}
	row := tx.QueryRow(ctx, `INSERT INTO tenant_hostnames (tenant_id, hostname, challenge) VALUES ($1, $2, $3)
RETURNING `+hostnameColumns, id, h, newChallenge())
	out, err := scanHostname(row)
	switch {
	case isCode(err, "23505"):
		return Hostname{}, conflict(fmt.Sprintf("hostname %q is already this tenant's", h))
	case isCode(err, "23503"):
		return Hostname{}, fmt.Errorf("tenant %s: %w", id, ErrNotFound)
	case err != nil:
		return Hostname{}, fmt.Errorf("add hostname: %w", err)
	}
	return out, nil
}

// RemoveHostname unregisters a custom hostname from tenant id.
func (d *Directory) RemoveHostname(ctx context.Context, id uuid.UUID, hostname string) error {
	return d.db.Tx(WithTenant(ctx, id), func(tx pgx.Tx) error { return RemoveHostnameTx(ctx, tx, hostname) })
}

// RemoveHostnameTx unregisters a custom hostname inside tx, a transaction
// scoped to the tenant that has it.
func RemoveHostnameTx(ctx context.Context, tx pgx.Tx, hostname string) error {
	h, err := NormalizeHost(hostname)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM tenant_hostnames WHERE hostname = $1 AND tenant_id = current_tenant()`, h)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("hostname %q: %w", h, ErrNotFound)
	}
	return err
}
