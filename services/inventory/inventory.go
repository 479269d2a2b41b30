// Package inventory is the tenant's devices, of every platform, in one
// model: what each is, its facts as last reported, and when it was last
// seen. Platform protocols record what devices report with Record; the API
// and the dashboard read with Get and List.
//
// It is not the command queue (services/commands) nor compliance.
package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// Platform is a device's kind.
type Platform string

const (
	Apple   Platform = "apple"
	Windows Platform = "windows"
	Android Platform = "android"
)

// Valid reports whether p is a known platform.
func (p Platform) Valid() bool { return p == Apple || p == Windows || p == Android }

// Status is a device's enrollment state.
type Status string

const (
	Pending    Status = "pending"
	Enrolled   Status = "enrolled"
	Unenrolled Status = "unenrolled"
)

// Device is one managed device.
type Device struct {
	TenantID     uuid.UUID       `json:"-"`
	ID           uuid.UUID       `json:"id"`
	Platform     Platform        `json:"platform"`
	Identifier   string          `json:"identifier"` // the platform's own id: Apple's UDID, the Windows device id, the AMAPI device name
	SerialNumber string          `json:"serial_number"`
	Name         string          `json:"name"`
	Model        string          `json:"model"`
	OSVersion    string          `json:"os_version"`
	Status       Status          `json:"status"`
	Facts        json.RawMessage `json:"facts"` // everything else the device reported, by name
	EnrolledAt   *time.Time      `json:"enrolled_at,omitempty"`
	LastSeenAt   *time.Time      `json:"last_seen_at,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	// LastIP is the address the device's last check-in came from ("":
	// none yet, or its platform reports through a vendor's cloud).
	LastIP string `json:"last_ip,omitempty"`
}

type addrKey struct{}

// WithAddr is ctx of a device's own request from addr: what the device
// reports in it records its address too. Only device protocol endpoints
// set it (not a vendor's cloud posting on a device's behalf).
func WithAddr(ctx context.Context, addr netip.Addr) context.Context {
	return context.WithValue(ctx, addrKey{}, addr)
}

// addrArg is ctx's device address as a query argument: nil when there is
// none.
func addrArg(ctx context.Context) any {
	if a, ok := ctx.Value(addrKey{}).(netip.Addr); ok && a.IsValid() {
		return a.String()
	}
	return nil
}

// UserFact is the fact that names a device's user, as its platform
// knows them: the person a Windows device was enrolled for (a federated
// sign-in's email), a Mac's signed-in user (the user channel's names).
const UserFact = "user"

// User is the device's user, "" when not known.
func (d Device) User() string {
	var f struct {
		User string `json:"user"`
	}
	_ = json.Unmarshal(d.Facts, &f)
	return f.User
}

// SetUser is SetUserTx in the tenant transaction of ctx (its own, or the
// one ctx is within).
func (inv *Inventory) SetUser(ctx context.Context, p Platform, identifier, user string) error {
	return inv.db.Tx(ctx, func(tx pgx.Tx) error { return inv.SetUserTx(ctx, tx, p, identifier, user) })
}

// SetUserTx records user as the user of the platform's device with
// identifier, if Trident has that device (a user channel never makes
// one); the same user again writes nothing.
func (inv *Inventory) SetUserTx(ctx context.Context, tx pgx.Tx, p Platform, identifier, user string) error {
	_, err := tx.Exec(ctx, `UPDATE devices SET facts = facts || jsonb_build_object('user', $3::text), updated_at = now()
WHERE platform = $1 AND identifier = $2 AND facts->>'user' IS DISTINCT FROM $3`, p, identifier, user)
	return err
}

// Inventory records and reads devices in the caller's tenant transaction.
type Inventory struct {
	db     *tenancy.DB
	events *events.Publisher
	seen   SeenMarker
}

// SeenMarker keeps devices' last-contact times to be written later, in
// batches (lastseen.Batch, built with SeenUpdate).
type SeenMarker interface {
	Mark(tenant uuid.UUID, id string, t time.Time)
}

// SeenUpdate is the statement that writes a batch of devices' last-contact
// times (lastseen.New's update).
const SeenUpdate = `UPDATE devices d SET last_seen_at = v.t
FROM unnest($1::text[], $2::timestamptz[]) AS v(id, t)
WHERE d.tenant_id = current_tenant() AND d.id = v.id::uuid AND (d.last_seen_at IS NULL OR d.last_seen_at < v.t)`

// Option configures the inventory.
type Option func(*Inventory)

// BatchSeen makes Seen hand its writes to m instead of writing each in the
// check-in's transaction.
func BatchSeen(m SeenMarker) Option { return func(inv *Inventory) { inv.seen = m } }

// New returns the inventory of db's tenants; changes are published
// through pub.
func New(db *tenancy.DB, pub *events.Publisher, opts ...Option) *Inventory {
	inv := &Inventory{db: db, events: pub}
	for _, o := range opts {
		o(inv)
	}
	return inv
}

// Report is what a platform learned about a device. Empty strings and a
// nil Facts leave what is known as it is.
type Report struct {
	Platform     Platform
	Identifier   string
	SerialNumber string
	Name         string
	Model        string
	OSVersion    string
	Status       Status // "" keeps the status; a new device defaults to enrolled
	Facts        map[string]any
}

const deviceCols = `tenant_id, id, platform, identifier, serial_number, name, model, os_version, status, facts,
enrolled_at, last_seen_at, created_at, updated_at, coalesce(host(last_ip), '')`

func scanDevice(r pgx.Row) (Device, error) {
	var d Device
	err := r.Scan(d.fields()...)
	return d, err
}

// fields are where a row of deviceCols is scanned to.
func (d *Device) fields() []any {
	return []any{&d.TenantID, &d.ID, &d.Platform, &d.Identifier, &d.SerialNumber, &d.Name, &d.Model, &d.OSVersion, &d.Status,
		&d.Facts, &d.EnrolledAt, &d.LastSeenAt, &d.CreatedAt, &d.UpdatedAt, &d.LastIP}
}

// Record merges a report into the device it names (creating it the first
// time), marks it seen now, and publishes device.enrolled when it becomes
// enrolled, device.updated when what it is changed (name, model, OS,
// serial, status), device.reported when only its facts changed, and
// nothing for a plain check-in.
func (inv *Inventory) Record(ctx context.Context, r Report) (Device, error) {
	return tenancy.Write(ctx, inv.db, func(tx pgx.Tx) (Device, error) { return inv.RecordTx(ctx, tx, r) })
}

// RecordTx is Record in tx, for another service's use case that holds
// the transaction.
func (inv *Inventory) RecordTx(ctx context.Context, tx pgx.Tx, r Report) (Device, error) {
	if !r.Platform.Valid() {
		return Device{}, fault.InvalidField("platform", fmt.Sprintf("%q is not apple, windows or android", r.Platform))
	}
	if r.Identifier == "" || len(r.Identifier) > 300 {
		return Device{}, fault.InvalidField("identifier", "must be 1 to 300 characters")
	}
	if r.Status != "" && r.Status != Pending && r.Status != Enrolled && r.Status != Unenrolled {
		return Device{}, fault.InvalidField("status", fmt.Sprintf("%q is not pending, enrolled or unenrolled", r.Status))
	}
	facts := []byte("{}")
	if r.Facts != nil {
		var err error
		if facts, err = json.Marshal(r.Facts); err != nil {
			return Device{}, fault.InvalidField("facts", err.Error())
		}
	}
	var before *Device
	if d, err := inv.byIdentifier(ctx, tx, r.Platform, r.Identifier, " FOR UPDATE"); err == nil {
		before = &d
	} else if !errors.Is(err, tenancy.ErrNotFound) {
		return Device{}, err
	}
	status := r.Status
	if status == "" && before == nil {
		status = Enrolled
	}
	if status == Enrolled && (before == nil || before.Status != Enrolled) {
		if err := inv.CheckLimitTx(ctx, tx, r.Platform, r.Identifier); err != nil {
			return Device{}, err
		}
	}
	d, err := scanDevice(tx.QueryRow(ctx, `
INSERT INTO devices (id, platform, identifier, serial_number, name, model, os_version, status, facts, enrolled_at, last_seen_at, last_ip)
VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce(nullif($8, ''), 'enrolled'), $9, CASE WHEN $8 IN ('', 'enrolled') THEN now() END, now(), $11::inet)
ON CONFLICT (tenant_id, platform, identifier) DO UPDATE SET
    serial_number = coalesce(nullif(excluded.serial_number, ''), devices.serial_number),
    name          = coalesce(nullif(excluded.name, ''), devices.name),
    model         = coalesce(nullif(excluded.model, ''), devices.model),
    os_version    = coalesce(nullif(excluded.os_version, ''), devices.os_version),
    status        = coalesce(nullif($10, ''), devices.status),
    facts         = devices.facts || excluded.facts,
    enrolled_at   = CASE WHEN $10 = 'enrolled' AND devices.status <> 'enrolled' THEN now() ELSE devices.enrolled_at END,
    last_seen_at  = now(),
    last_ip       = coalesce(excluded.last_ip, devices.last_ip),
    updated_at    = now()
RETURNING `+deviceCols, uuid.New(), r.Platform, r.Identifier, r.SerialNumber, r.Name, r.Model, r.OSVersion,
		string(status), facts, string(r.Status), addrArg(ctx)))
	if err != nil {
		return Device{}, fmt.Errorf("inventory: record %s device: %w", r.Platform, err)
	}
	if err := spanTx(ctx, tx, before, d); err != nil {
		return Device{}, err
	}
	switch {
	case d.Status == Enrolled && (before == nil || before.Status != Enrolled):
		_, err = inv.events.Publish(ctx, tx, EventDeviceEnrolled, d.ID.String(), summary(d))
	case before != nil && (before.Name != d.Name || before.Model != d.Model || before.OSVersion != d.OSVersion ||
		before.SerialNumber != d.SerialNumber || before.Status != d.Status):
		_, err = inv.events.Publish(ctx, tx, EventDeviceUpdated, d.ID.String(), summary(d))
	case before != nil && string(before.Facts) != string(d.Facts):
		// New facts (a query's answer): what compliance judges.
		_, err = inv.events.Publish(ctx, tx, EventDeviceReported, d.ID.String(), nil)
	}
	return d, err
}

// spanTx keeps d's enrolled spans, what usage is metered by: one opens
// when it becomes enrolled and closes when it stops being so.
func spanTx(ctx context.Context, tx pgx.Tx, before *Device, d Device) error {
	was, is := before != nil && before.Status == Enrolled, d.Status == Enrolled
	var err error
	switch {
	case is && !was:
		_, err = tx.Exec(ctx, `INSERT INTO device_enrollments (device_id, platform, enrolled_at) VALUES ($1, $2, clock_timestamp())
ON CONFLICT DO NOTHING`, d.ID, d.Platform)
	case was && !is:
		_, err = tx.Exec(ctx, `UPDATE device_enrollments SET unenrolled_at = clock_timestamp() WHERE device_id = $1 AND unenrolled_at IS NULL`, d.ID)
	}
	if err != nil {
		return fmt.Errorf("inventory: the device's enrolled span: %w", err)
	}
	return nil
}

// SeenPrecision is how stale a device's last_seen_at may be: Seen writes
// it at most this often.
const SeenPrecision = 30 * time.Second

// Seen marks a device that checked in without news as seen, at most every
// SeenPrecision (a fleet's check-ins would otherwise each write a row
// version of the device and of every index on it). With BatchSeen, the
// time is handed to the batch and the check-in only reads; without, one
// statement writes it when it is due. It reports whether the device
// exists; Record one that does not.
func (inv *Inventory) Seen(ctx context.Context, tx pgx.Tx, p Platform, identifier string) (bool, error) {
	addr := addrArg(ctx)
	if inv.seen != nil {
		var tenant, id uuid.UUID
		var due, moved bool
		err := tx.QueryRow(ctx, `SELECT tenant_id, id, last_seen_at IS NULL OR last_seen_at < now() - $3::interval,
       $4::inet IS NOT NULL AND last_ip IS DISTINCT FROM $4::inet
FROM devices WHERE platform = $1 AND identifier = $2`, p, identifier, SeenPrecision.String(), addr).Scan(&tenant, &id, &due, &moved)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("inventory: seen: %w", err)
		}
		if moved { // rare: the device's address changed; written now
			if _, err := tx.Exec(ctx, `UPDATE devices SET last_ip = $2::inet WHERE tenant_id = current_tenant() AND id = $1`, id, addr); err != nil {
				return false, fmt.Errorf("inventory: seen at an address: %w", err)
			}
		}
		if due {
			inv.seen.Mark(tenant, id.String(), time.Now())
		}
		return true, nil
	}
	var n int
	err := tx.QueryRow(ctx, `
WITH d AS (SELECT id, last_seen_at, last_ip FROM devices WHERE platform = $1 AND identifier = $2),
     u AS (UPDATE devices SET last_seen_at = now(), last_ip = coalesce($4::inet, d.last_ip) FROM d
           WHERE devices.tenant_id = current_tenant() AND devices.id = d.id
             AND (d.last_seen_at IS NULL OR d.last_seen_at < now() - $3::interval
                  OR ($4::inet IS NOT NULL AND d.last_ip IS DISTINCT FROM $4::inet)) RETURNING 1)
SELECT count(*) FROM d`, p, identifier, SeenPrecision.String(), addr).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("inventory: seen: %w", err)
	}
	return n > 0, nil
}

// ByIdentifier returns the device a platform knows by identifier.
func (inv *Inventory) ByIdentifier(ctx context.Context, tx pgx.Tx, p Platform, identifier string) (Device, error) {
	return inv.byIdentifier(ctx, tx, p, identifier, "")
}

func (inv *Inventory) byIdentifier(ctx context.Context, tx pgx.Tx, p Platform, identifier, lock string) (Device, error) {
	d, err := scanDevice(tx.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE platform = $1 AND identifier = $2`+lock, p, identifier))
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, tenancy.ErrNotFound
	}
	if err != nil {
		return Device{}, fmt.Errorf("inventory: %w", err)
	}
	return d, nil
}

func summary(d Device) DeviceSummary {
	return DeviceSummary{Platform: d.Platform, Name: d.Name, SerialNumber: d.SerialNumber, Model: d.Model, OSVersion: d.OSVersion, Status: d.Status}
}

// Get returns one device.
func (inv *Inventory) Get(ctx context.Context, id uuid.UUID) (Device, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (Device, error) { return inv.GetTx(ctx, tx, id) })
}

// GetTx is Get in tx, for another service's use case that holds
// the transaction.
func (inv *Inventory) GetTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Device, error) {
	d, err := scanDevice(tx.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, fmt.Errorf("device %s: %w", id, tenancy.ErrNotFound)
	}
	return d, err
}

// Some returns the tenant's devices among ids, by id (ids of no device of
// the tenant are absent): names for a page that lists other things.
func (inv *Inventory) Some(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Device, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (map[uuid.UUID]Device, error) {
		rows, _ := tx.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ANY($1)`, ids)
		ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) { return scanDevice(r) })
		out := make(map[uuid.UUID]Device, len(ds))
		for _, d := range ds {
			out[d.ID] = d
		}
		return out, err
	})
}

// Sort orders List: a field, "-" first for descending.
type Sort string

// The sortable fields: the SQL key of each (the id breaks ties) and its
// type, to read a cursor's text back.
var sortKeys = map[string]struct{ expr, typ string }{
	"name":         {`lower(d.name)`, "text"},
	"last_seen_at": {`coalesce(d.last_seen_at, '-infinity'::timestamptz)`, "timestamptz"},
	"created_at":   {`d.created_at`, "timestamptz"},
	"serial":       {`d.serial_number`, "text"},
}

// Sorts lists the accepted values of Sort.
func Sorts() []string {
	var out []string
	for _, k := range []string{"name", "last_seen_at", "created_at", "serial"} {
		out = append(out, k, "-"+k)
	}
	return out
}

// Query selects a page of devices.
type Query struct {
	Platform Platform  // "" for all
	Status   Status    // "" for all
	Search   string    // in name, serial number and user (case-insensitive), or the exact identifier or last address
	Group    uuid.UUID // only members of this group (uuid.Nil for all)
	// Compliance keeps devices by their compliance results, as
	// compliance.Summarize counts them: "compliant" (evaluated, every rule
	// passes), "noncompliant" (failing a rule), "unevaluated" (no results);
	// "" for all.
	Compliance string
	// FailingRule keeps the devices that fail this compliance rule
	// (uuid.Nil: no such filter).
	FailingRule uuid.UUID
	Sort        Sort // default "name"
	// After is the position of the last device of the previous page: its
	// sort key (Key from the previous page) and id.
	AfterKey string
	AfterID  uuid.UUID
	Limit    int
}

// Page is a page of devices with the sort key of each, for the cursor.
type Page struct {
	Devices []Device
	Keys    []string
}

// List returns a page of the tenant's devices.
// listFilter is the WHERE of List and Count: q's filters (filterArgs).
const listFilter = `(@platform = '' OR d.platform = @platform)
  AND (@status = '' OR d.status = @status)
  AND (@search = '' OR d.identifier = @search OR d.name ILIKE @like OR d.serial_number ILIKE @like OR d.facts->>'user' ILIKE @like
       OR d.last_ip = @ip::inet)
  AND (@group::uuid IS NULL OR EXISTS (SELECT 1 FROM device_group_members m
       WHERE m.tenant_id = d.tenant_id AND m.device_id = d.id AND m.group_id = @group))
  AND (@compliance = ''
       OR (@compliance = 'unevaluated') = NOT EXISTS (SELECT 1 FROM compliance_results r WHERE r.tenant_id = d.tenant_id AND r.device_id = d.id)
          AND (@compliance = 'unevaluated'
               OR (@compliance = 'noncompliant') = EXISTS (SELECT 1 FROM compliance_results r
                   WHERE r.tenant_id = d.tenant_id AND r.device_id = d.id AND NOT r.compliant)))
  AND (@failing_rule::uuid IS NULL OR EXISTS (SELECT 1 FROM compliance_results r
       WHERE r.tenant_id = d.tenant_id AND r.device_id = d.id AND r.rule_id = @failing_rule AND NOT r.compliant))`

func (q Query) filterArgs() pgx.NamedArgs {
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Search) + "%"
	var ip any // a search that is an address also finds the devices last seen at it
	if a, err := netip.ParseAddr(q.Search); err == nil {
		ip = a.Unmap().String()
	}
	return pgx.NamedArgs{"platform": string(q.Platform), "status": string(q.Status), "search": q.Search, "like": like, "ip": ip,
		"compliance": q.Compliance, "group": uuid.NullUUID{UUID: q.Group, Valid: q.Group != uuid.Nil},
		"failing_rule": uuid.NullUUID{UUID: q.FailingRule, Valid: q.FailingRule != uuid.Nil}}
}

// Count is how many devices q's filters keep (its sort, position and
// limit aside), in ctx's tenant transaction.
func (inv *Inventory) Count(ctx context.Context, q Query) (int, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (int, error) {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM devices d WHERE `+listFilter, q.filterArgs()).Scan(&n); err != nil {
			return 0, fmt.Errorf("inventory: count devices: %w", err)
		}
		return n, nil
	})
}

func (inv *Inventory) List(ctx context.Context, q Query) (Page, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (Page, error) { return inv.listTx(ctx, tx, q) })
}

func (inv *Inventory) listTx(ctx context.Context, tx pgx.Tx, q Query) (Page, error) {
	if q.Sort == "" {
		q.Sort = "name"
	}
	field, desc := strings.CutPrefix(string(q.Sort), "-")
	key, ok := sortKeys[field]
	if !ok {
		return Page{}, fault.InvalidField("sort", fmt.Sprintf("%q is not one of %s", q.Sort, strings.Join(Sorts(), ", ")))
	}
	if q.Platform != "" && !q.Platform.Valid() {
		return Page{}, fault.InvalidField("platform", fmt.Sprintf("%q is not apple, windows or android", q.Platform))
	}
	switch q.Compliance {
	case "", "compliant", "noncompliant", "unevaluated":
	default:
		return Page{}, fault.InvalidField("compliance", fmt.Sprintf("%q is not compliant, noncompliant or unevaluated", q.Compliance))
	}
	cmp, dir := ">", "ASC"
	if desc {
		cmp, dir = "<", "DESC"
	}
	// Only whitelisted SQL is put together here: the key, the comparison
	// and the direction come from the tables above, never from input.
	sql := `SELECT ` + deviceCols + `, (` + key.expr + `)::text FROM devices d
WHERE ` + listFilter + `
  AND (@after_id::uuid IS NULL OR (` + key.expr + `, d.id) ` + cmp + ` (@after_key::text::` + key.typ + `, @after_id))
ORDER BY ` + key.expr + ` ` + dir + `, d.id ` + dir + ` LIMIT @limit`
	var p Page
	args := q.filterArgs()
	args["after_id"], args["after_key"], args["limit"] = uuid.NullUUID{UUID: q.AfterID, Valid: q.AfterID != uuid.Nil}, q.AfterKey, q.Limit
	rows, _ := tx.Query(ctx, sql, args)
	defer rows.Close()
	for rows.Next() {
		var d Device
		var k string
		if err := rows.Scan(append(d.fields(), &k)...); err != nil {
			return Page{}, err
		}
		p.Devices = append(p.Devices, d)
		p.Keys = append(p.Keys, k)
	}
	var pgErr *pgconn.PgError
	if err := rows.Err(); errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		// A data exception here can only come from a position that is not
		// one this package handed out.
		return Page{}, fault.InvalidField("cursor", "not a position from an earlier page")
	} else if err != nil {
		return Page{}, fmt.Errorf("inventory: list devices: %w", err)
	}
	return p, nil
}

// Silent returns up to limit enrolled devices last seen before t, the
// longest silent first.
func (inv *Inventory) Silent(ctx context.Context, t time.Time, limit int) ([]Device, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]Device, error) { return inv.silentTx(ctx, tx, t, limit) })
}

func (inv *Inventory) silentTx(ctx context.Context, tx pgx.Tx, t time.Time, limit int) ([]Device, error) {
	rows, _ := tx.Query(ctx, `SELECT `+deviceCols+` FROM devices
WHERE status = 'enrolled' AND last_seen_at < $1 ORDER BY last_seen_at LIMIT $2`, t, limit)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) { return scanDevice(r) })
}

// SilentCount counts the enrolled devices last seen before t (those
// Silent lists).
func (inv *Inventory) SilentCount(ctx context.Context, t time.Time) (int, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (n int, err error) {
		err = tx.QueryRow(ctx, `SELECT count(*) FROM devices WHERE status = 'enrolled' AND last_seen_at < $1`, t).Scan(&n)
		return n, err
	})
}

// Summary is a tenant's fleet at a glance.
type Summary struct {
	Total      int
	ByPlatform map[Platform]int
	ByStatus   map[Status]int
	// LastSeen counts enrolled devices by their last contact: within the
	// hour, 1–24 hours, 1–7 days, 7–30 days, longer, never.
	LastSeen [6]int
}

// LastSeenBuckets names Summary.LastSeen's buckets.
var LastSeenBuckets = [6]string{"< 1 h", "1–24 h", "1–7 d", "7–30 d", "> 30 d", "never"}

// Summarize counts the tenant's devices.
func (inv *Inventory) Summarize(ctx context.Context) (Summary, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) (Summary, error) { return inv.summarizeTx(ctx, tx) })
}

func (inv *Inventory) summarizeTx(ctx context.Context, tx pgx.Tx) (Summary, error) {
	s := Summary{ByPlatform: map[Platform]int{}, ByStatus: map[Status]int{}}
	rows, _ := tx.Query(ctx, `
SELECT platform, status,
       CASE WHEN status <> 'enrolled' THEN -1
            WHEN last_seen_at IS NULL THEN 5
            WHEN last_seen_at > now() - interval '1 hour' THEN 0
            WHEN last_seen_at > now() - interval '1 day' THEN 1
            WHEN last_seen_at > now() - interval '7 days' THEN 2
            WHEN last_seen_at > now() - interval '30 days' THEN 3
            ELSE 4 END AS bucket,
       count(*)
FROM devices GROUP BY 1, 2, 3`)
	defer rows.Close()
	for rows.Next() {
		var p Platform
		var st Status
		var bucket, n int
		if err := rows.Scan(&p, &st, &bucket, &n); err != nil {
			return Summary{}, err
		}
		s.Total += n
		s.ByPlatform[p] += n
		s.ByStatus[st] += n
		if bucket >= 0 {
			s.LastSeen[bucket] += n
		}
	}
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("inventory: summarize: %w", err)
	}
	return s, nil
}
