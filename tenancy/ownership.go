package tenancy

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// A custom hostname routes devices only once its tenant proves it controls
// the name's DNS. Until then it is pending: the tenant publishes a TXT
// record at ChallengePrefix+name holding ChallengeValue+token, and a job
// (or the admin, on demand) checks it. Several tenants may claim the same
// pending name; the first to prove it keeps it, and no tenant may claim a
// name at or under another tenant's verified name.

// ChallengePrefix is the label the TXT record lives under.
const ChallengePrefix = "_trident-challenge."

// ChallengeValue starts the TXT record's value; the name's token follows.
const ChallengeValue = "trident-verification="

// ErrUnproven means DNS does not (yet) show the tenant controls a name.
// It is a conflict with the name's state, not an input error: it wraps
// ErrConflict.
var ErrUnproven error = conflict("ownership is not proved")

// conflict is an ErrConflict with its own words.
type conflict string

func (c conflict) Error() string { return string(c) }
func (c conflict) Unwrap() error { return ErrConflict }

// Hostname is one of a tenant's names.
type Hostname struct {
	Name string
	// Custom is false for the tenant's own {slug}.{base domain}, which is
	// verified by construction and has no challenge.
	Custom     bool
	Challenge  string
	CreatedAt  time.Time
	VerifiedAt *time.Time // nil while pending
	CheckedAt  *time.Time // the last DNS check
	CheckError string     // why the last check did not prove ownership
}

// Verified reports whether the name routes devices.
func (h Hostname) Verified() bool { return !h.Custom || h.VerifiedAt != nil }

// RecordName is the DNS name the TXT record must be published at.
func (h Hostname) RecordName() string { return ChallengePrefix + h.Name }

// RecordValue is the TXT record's value.
func (h Hostname) RecordValue() string { return ChallengeValue + h.Challenge }

// TXTResolver looks up TXT records; *net.Resolver is one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// DNSResolver returns the resolver ownership checks use: Go's own DNS
// client, asking server (host:port) when set, else the system's
// configured name servers. It never reads /etc/hosts-only answers from
// cgo's resolver, so a check means the same on every machine.
func DNSResolver(server string) *net.Resolver {
	r := &net.Resolver{PreferGo: true}
	if server != "" {
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}
	}
	return r
}

// UseDNS sets the resolver ownership checks use (default: DNSResolver("")).
func (d *Directory) UseDNS(r TXTResolver) { d.dns = r }

func newChallenge() string {
	b := make([]byte, 25) // 200 bits
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

const hostnameColumns = `hostname, challenge, created_at, verified_at, checked_at, coalesce(check_error, '')`

func scanHostname(r pgx.Row) (Hostname, error) {
	h := Hostname{Custom: true}
	err := r.Scan(&h.Name, &h.Challenge, &h.CreatedAt, &h.VerifiedAt, &h.CheckedAt, &h.CheckError)
	return h, err
}

// HostnameTx reads one of the tenant's custom names inside tx, a
// transaction scoped to the tenant.
func HostnameTx(ctx context.Context, tx pgx.Tx, name string) (Hostname, error) {
	n, err := NormalizeHost(name)
	if err != nil {
		return Hostname{}, err
	}
	h, err := scanHostname(tx.QueryRow(ctx, `SELECT `+hostnameColumns+` FROM tenant_hostnames WHERE hostname = $1 AND tenant_id = current_tenant()`, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return Hostname{}, fmt.Errorf("hostname %q: %w", n, ErrNotFound)
	}
	return h, err
}

// ancestors lists name and every parent of it that is itself a fully
// qualified name (a.b.example, b.example; not example).
func ancestors(name string) []string {
	out := []string{name}
	for rest := name; ; {
		_, after, ok := strings.Cut(rest, ".")
		if !ok || !strings.Contains(after, ".") {
			return out
		}
		out = append(out, after)
		rest = after
	}
}

// verifiedOwners maps each of names that is a verified custom hostname to
// its tenant, reading through the resolve_host policy, which shows the
// verified rows of the names listed in app.resolve_host and nothing else.
// The setting is cleared again before it returns.
func verifiedOwners(ctx context.Context, tx pgx.Tx, names []string) (map[string]uuid.UUID, error) {
	if _, err := tx.Exec(ctx, `SELECT set_config('app.resolve_host', $1, true)`, strings.Join(names, ",")); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `SELECT hostname, tenant_id FROM tenant_hostnames WHERE hostname = ANY($1) AND verified_at IS NOT NULL`, names)
	owners := map[string]uuid.UUID{}
	var name string
	var tenant uuid.UUID
	_, err := pgx.ForEachRow(rows, []any{&name, &tenant}, func() error { owners[name] = tenant; return nil })
	if _, rerr := tx.Exec(ctx, `SELECT set_config('app.resolve_host', '', true)`); err == nil {
		err = rerr
	}
	return owners, err
}

// claimedElsewhere names the verified name of a tenant other than id that
// name is, or is under, or "" for none.
func claimedElsewhere(ctx context.Context, tx pgx.Tx, id uuid.UUID, name string) (string, error) {
	names := ancestors(name) // the name first, then ever shorter parents
	owners, err := verifiedOwners(ctx, tx, names)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if owner, ok := owners[n]; ok && owner != id {
			return n, nil
		}
	}
	return "", nil
}

func claimedError(name, taken string) error {
	if taken == name {
		return conflict(fmt.Sprintf("hostname %q is verified by another tenant", name))
	}
	return conflict(fmt.Sprintf("hostname %q is under %q, which another tenant has verified", name, taken))
}

// VerifyHostname checks DNS for the TXT record that proves tenant id
// controls name, records the result, and, when it proves ownership, marks
// the name verified and calls then in the same transaction (to publish the
// event and audit it): then's context is within it (DB.Within). A name
// already verified is returned as it is. A check that proves nothing
// returns the name's state and an error wrapping ErrUnproven that says
// what DNS showed; another tenant's verified name at or above it gives
// ErrConflict.
func (d *Directory) VerifyHostname(ctx context.Context, id uuid.UUID, name string, then func(context.Context, Hostname) error) (Hostname, error) {
	return d.verify(ctx, id, name, false, then)
}

// VouchHostname marks name verified for tenant id without looking at DNS:
// the operator's word (trident tenant verify-hostname --without-dns), for
// names registered before ownership was checked. Another tenant's
// verified name at or above it still refuses. then runs as
// VerifyHostname's does.
func (d *Directory) VouchHostname(ctx context.Context, id uuid.UUID, name string, then func(context.Context, Hostname) error) (Hostname, error) {
	return d.verify(ctx, id, name, true, then)
}

func (d *Directory) verify(ctx context.Context, id uuid.UUID, name string, vouched bool, then func(context.Context, Hostname) error) (Hostname, error) {
	ctx = WithTenant(ctx, id)
	var h Hostname
	if err := d.db.ReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		h, err = HostnameTx(ctx, tx, name)
		return err
	}); err != nil {
		return Hostname{}, err
	}
	if h.VerifiedAt != nil {
		return h, nil
	}
	problem := ""
	if !vouched {
		problem = d.checkTXT(ctx, h) // outside any transaction: DNS may take seconds
	}
	var refused error
	err := d.db.Within(ctx, func(ctx context.Context) error {
		if err := d.db.Tx(ctx, func(tx pgx.Tx) (err error) {
			h, refused, err = recordCheck(ctx, tx, id, h, problem)
			return err
		}); err != nil {
			return err
		}
		if h.VerifiedAt != nil && then != nil {
			return then(ctx, h)
		}
		return nil
	})
	switch {
	case err != nil:
		return Hostname{}, err
	case refused != nil:
		return h, refused
	case h.VerifiedAt == nil:
		return h, fmt.Errorf("hostname %q: %w: %s", h.Name, ErrUnproven, h.CheckError)
	}
	return h, nil
}

// recordCheck keeps the result of a check of h (problem: what DNS
// showed, "" if it proved ownership) and returns the name as it now is;
// refused is set when another tenant's verified name holds it.
func recordCheck(ctx context.Context, tx pgx.Tx, id uuid.UUID, h Hostname, problem string) (_ Hostname, refused, err error) {
	if problem == "" {
		taken, err := claimedElsewhere(ctx, tx, id, h.Name)
		if err != nil {
			return h, nil, err
		}
		if taken != "" {
			refused = claimedError(h.Name, taken)
			problem = refused.Error()
		}
	}
	row := tx.QueryRow(ctx, `
UPDATE tenant_hostnames SET checked_at = clock_timestamp(),
    check_error = NULLIF($2, ''),
    verified_at = CASE WHEN $2 = '' THEN clock_timestamp() END
WHERE hostname = $1 AND tenant_id = current_tenant() AND verified_at IS NULL
RETURNING `+hostnameColumns, h.Name, problem)
	got, err := scanHostname(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // removed, or verified meanwhile
		got, err = HostnameTx(ctx, tx, h.Name)
		return got, refused, err
	case isCode(err, "23505"):
		return h, nil, claimedError(h.Name, h.Name)
	case err != nil:
		return h, nil, fmt.Errorf("record hostname check: %w", err)
	}
	return got, refused, nil
}

// checkTXT returns "" when DNS proves h, else what it showed instead. The
// text is the resolver's verdict, never a record's content.
func (d *Directory) checkTXT(ctx context.Context, h Hostname) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r := d.dns
	if r == nil {
		r = DNSResolver("")
	}
	records, err := r.LookupTXT(ctx, h.RecordName())
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("DNS has no TXT record at %s yet", h.RecordName())
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout, errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("the DNS lookup of %s timed out", h.RecordName())
	case err != nil:
		return fmt.Sprintf("the DNS lookup of %s failed", h.RecordName())
	}
	for _, rec := range records {
		if strings.TrimSpace(rec) == h.RecordValue() {
			return ""
		}
	}
	return fmt.Sprintf("none of the %d TXT records at %s is %q", len(records), h.RecordName(), h.RecordValue())
}

// PendingHostnames lists the tenant's custom names not verified yet,
// oldest first, inside tx, a transaction scoped to the tenant.
func PendingHostnames(ctx context.Context, tx pgx.Tx) ([]Hostname, error) {
	rows, _ := tx.Query(ctx, `SELECT `+hostnameColumns+` FROM tenant_hostnames
WHERE verified_at IS NULL AND tenant_id = current_tenant() ORDER BY created_at`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Hostname, error) { return scanHostname(r) })
}

// VerifyHostnameArgs is the job that checks a new custom hostname's DNS
// until it proves ownership, for a week after it was added (then only on
// demand). The worker lives in package workers.
type VerifyHostnameArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
	Hostname string    `json:"hostname"`
}

// Kind names the job kind in River.
func (VerifyHostnameArgs) Kind() string { return "tenancy.verify_hostname" }

// VerifyFor is how long after a name was added the job keeps checking it.
const VerifyFor = 7 * 24 * time.Hour

// NextCheck is how long the job waits before checking a name again, given
// how long ago it was added: soon at first (an admin who just published
// the record is waiting), then less and less often, at most hourly.
func NextCheck(age time.Duration) time.Duration {
	return min(max(age, 30*time.Second), time.Hour)
}
