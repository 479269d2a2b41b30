package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

// fixtures insert one valid row for tenant into a tenant table. Every table
// with a tenant_id column needs one here: the isolation suite fails for a
// table it cannot fill, so no tenant table ships unproven.
var fixtures = map[string]func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error{
	"tenant_hostnames": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		// Verified, so the resolve_host policy's rows are in play too.
		_, err := tx.Exec(ctx, `INSERT INTO tenant_hostnames (tenant_id, hostname, challenge, verified_at) VALUES ($1, $2, $3, now())`,
			tenant, "h-"+uuid.NewString()[:8]+".example", strings.Repeat("a", 40))
		return err
	},
	"saved_views": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO saved_views (tenant_id, id, owner, name, query) VALUES ($1, $2, 'someone', $3, 'platform=windows')`,
			tenant, uuid.New(), uuid.NewString()[:8])
		return err
	},
	"tenant_rollups": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenant_rollups (tenant_id, msp_id, rollup) SELECT $1, msp_id, '{}' FROM tenants WHERE id = $1`, tenant)
		return err
	},
	"access_settings": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO access_settings (tenant_id, msp_id, msp_access) SELECT $1, msp_id, 'approval' FROM tenants WHERE id = $1`, tenant)
		return err
	},
	"access_grants": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO access_grants (tenant_id, msp_id, id, subject, role, reason, duration, status, requested_by)
SELECT $1, msp_id, $2, 'tech', 'operator', 'a ticket', '1 hour', 'requested', 'tech' FROM tenants WHERE id = $1`, tenant, uuid.New())
		return err
	},
	"device_enrollments": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO device_enrollments (tenant_id, device_id, platform, enrolled_at) VALUES ($1, $2, 'apple', now())`, tenant, uuid.New())
		return err
	},
	"device_limits": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO device_limits (tenant_id, msp_id, device_limit) SELECT $1, msp_id, 10 FROM tenants WHERE id = $1`, tenant)
		return err
	},
	"tenant_branding": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenant_branding (tenant_id, display_name) VALUES ($1, 'Bakery')`, tenant)
		return err
	},
	"usage_days": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO usage_days (tenant_id, msp_id, day, platform, device_days, enrollments, unenrollments)
SELECT $1, msp_id, current_date, 'apple', 1, 1, 0 FROM tenants WHERE id = $1`, tenant)
		return err
	},
	"tenant_tags": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenant_tags (tenant_id, msp_id, tag) SELECT $1, msp_id, 'region:eu' FROM tenants WHERE id = $1`, tenant)
		return err
	},
	"msp_operation_tenants": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO msp_operation_tenants (tenant_id, msp_id, operation_id) SELECT $1, msp_id, $2 FROM tenants WHERE id = $1`,
			tenant, uuid.New())
		return err
	},
	"baseline_overrides": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO baseline_overrides (tenant_id, msp_id, baseline_id, item, disabled, reason, created_by)
SELECT $1, msp_id, $2, 'disk', true, 'kiosks have no disk to encrypt', 'someone' FROM tenants WHERE id = $1`, tenant, uuid.New())
		return err
	},
	"audit_log": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (tenant_id, actor, action) VALUES ($1, 'someone', 'test')`, tenant)
		return err
	},
	"webhook_endpoints": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (tenant_id, id, url, secret, event_kinds)
VALUES ($1, $2, 'https://hooks.example/x', 's', '{*}')`, tenant, uuid.New())
		return err
	},
	"webhook_deliveries": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		endpoint := uuid.New()
		_, err := tx.Exec(ctx, `
WITH e AS (INSERT INTO webhook_endpoints (tenant_id, id, url, secret, event_kinds)
           VALUES ($1, $2, 'https://hooks.example/x', 's', '{*}')),
     ev AS (INSERT INTO events (tenant_id, kind) VALUES ($1, 'test.fixture') RETURNING id)
INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id) SELECT $1, $3, $2, id FROM ev`,
			tenant, endpoint, uuid.New())
		return err
	},
	"idempotency_keys": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (tenant_id, caller, key, operation, request_hash)
VALUES ($1, 'c', $2, 'op', '\x00')`, tenant, uuid.NewString())
		return err
	},
	"devices": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO devices (tenant_id, id, platform, identifier) VALUES ($1, $2, 'apple', $3)`,
			tenant, uuid.New(), uuid.NewString())
		return err
	},
	"commands": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `
WITH d AS (INSERT INTO devices (tenant_id, id, platform, identifier) VALUES ($1, $2, 'windows', $3) RETURNING id)
INSERT INTO commands (tenant_id, id, device_id, kind, expires_at) SELECT $1, $4, id, 'restart', now() + interval '1 day' FROM d`,
			tenant, uuid.New(), uuid.NewString(), uuid.New())
		return err
	},
	"tenant_cas": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenant_cas (tenant_id, id, certificate, key_sealed, not_after, active)
VALUES ($1, $2, '\x00', '\x00', now(), false)`, tenant, uuid.New())
		return err
	},
	"scep_challenges": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO scep_challenges (tenant_id, id, hash, purpose, expires_at)
VALUES ($1, $2, $3, 'test', now())`, tenant, uuid.New(), []byte(uuid.NewString()))
		return err
	},
	"issued_certificates": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		ca := uuid.New()
		_, err := tx.Exec(ctx, `
WITH c AS (INSERT INTO tenant_cas (tenant_id, id, certificate, key_sealed, not_after, active)
           VALUES ($1, $2, '\x00', '\x00', now(), false) RETURNING id)
INSERT INTO issued_certificates (tenant_id, serial, ca_id, subject, not_before, not_after, certificate)
SELECT $1, $3, id, 'CN=x', now(), now(), '\x00' FROM c`, tenant, ca, uuid.NewString())
		return err
	},
	"apple_devices": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := appleChain(ctx, tx, tenant, "devices")
		return err
	},
	"apple_users": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := appleChain(ctx, tx, tenant, "users")
		return err
	},
	"apple_enrollments": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := appleChain(ctx, tx, tenant, "enrollments")
		return err
	},
	"apple_commands": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := appleChain(ctx, tx, tenant, "commands")
		return err
	},
	"apple_enrollment_queue": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := appleChain(ctx, tx, tenant, "queue")
		return err
	},
	"apple_command_results": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := appleChain(ctx, tx, tenant, "results")
		return err
	},
	"apple_push_certs": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO apple_push_certs (tenant_id, topic, cert_pem, key_sealed, not_after)
VALUES ($1, $2, '-----BEGIN CERTIFICATE-----x', '\x00', now())`, tenant, "com.apple.mgmt."+uuid.NewString())
		return err
	},
	"apple_push_requests": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO apple_push_requests (tenant_id, id, public_key, key_sealed) VALUES ($1, $2, '\x00', '\x00')`, tenant, uuid.New())
		return err
	},
	"apple_cert_auth": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO apple_cert_auth (tenant_id, id, sha256) VALUES ($1, $2, repeat('a', 64))`, tenant, uuid.NewString())
		return err
	},
	"compliance_rules": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO compliance_rules (tenant_id, id, name, kind) VALUES ($1, $2, 'r', 'passcode_set')`, tenant, uuid.New())
		return err
	},
	"compliance_results": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		return complianceFixture(ctx, tx, tenant, `INSERT INTO compliance_results (tenant_id, device_id, rule_id, compliant) VALUES ($1, $2, $3, true)`)
	},
	"compliance_history": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		return complianceFixture(ctx, tx, tenant, `INSERT INTO compliance_history (tenant_id, device_id, rule_id, compliant) VALUES ($1, $2, $3, true)`)
	},
	"dep_profiles": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO dep_profiles (tenant_id, id, name, settings) VALUES ($1, $2, $3, '{}')`, tenant, uuid.New(), uuid.NewString())
		return err
	},
	"dep_tokens": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := depFixture(ctx, tx, tenant)
		return err
	},
	"dep_devices": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		token, err := depFixture(ctx, tx, tenant)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO dep_devices (tenant_id, serial_number, token_id) VALUES ($1, $2, $3)`, tenant, uuid.NewString()[:12], token)
		}
		return err
	},
	"dep_profile_definitions": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		token, err := depFixture(ctx, tx, tenant)
		if err != nil {
			return err
		}
		profile := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO dep_profiles (tenant_id, id, name, settings) VALUES ($1, $2, $3, '{}')`, tenant, profile, uuid.NewString()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO dep_profile_definitions (tenant_id, token_id, profile_id, settings_hash, apple_uuid) VALUES ($1, $2, $3, '\x00', 'X')`,
			tenant, token, profile)
		return err
	},
	"android_enterprises": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO android_enterprises (tenant_id, status) VALUES ($1, 'signing_up')`, tenant)
		return err
	},
	"android_policies": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := androidPolicyFixture(ctx, tx, tenant)
		return err
	},
	"android_enrollment_tokens": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		policy, err := androidPolicyFixture(ctx, tx, tenant)
		if err == nil {
			_, err = tx.Exec(ctx, `INSERT INTO android_enrollment_tokens (tenant_id, id, name, value, qr_code, policy_id, one_time, expires_at)
VALUES ($1, $2, 'n', 'v', '{}', $3, true, now())`, tenant, uuid.New(), policy)
		}
		return err
	},
	"android_operations": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		device, cmd := uuid.New(), uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO devices (tenant_id, id, platform, identifier) VALUES ($1, $2, 'android', $3)`,
			tenant, device, uuid.NewString()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO commands (tenant_id, id, device_id, kind, expires_at) VALUES ($1, $2, $3, 'lock', now())`,
			tenant, cmd, device); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO android_operations (tenant_id, name, command_id) VALUES ($1, $2, $3)`, tenant, uuid.NewString(), cmd)
		return err
	},
	"android_notifications": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO android_notifications (tenant_id, message_id, kind) VALUES ($1, $2, 'ENROLLMENT')`, tenant, uuid.NewString())
		return err
	},
	"windows_enrollments": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO windows_enrollments (tenant_id, device_id, cert_serial) VALUES ($1, $2, 'ab')`, tenant, uuid.NewString())
		return err
	},
	"fleet_history": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO fleet_history (tenant_id, hour, enrolled, compliant, non_compliant, checked_in)
VALUES ($1, date_trunc('hour', now()), 3, 2, 1, 3)`, tenant)
		return err
	},
	"windows_federation": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO windows_federation (tenant_id, issuer, client_id, client_secret) VALUES ($1, 'https://idp.example', 'c', 'x')`, tenant)
		return err
	},
	"windows_chunks": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		dev := uuid.NewString()
		if _, err := tx.Exec(ctx, `INSERT INTO windows_enrollments (tenant_id, device_id, cert_serial) VALUES ($1, $2, 'ab')`, tenant, dev); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO windows_chunks (tenant_id, device_id, cmd_ref, loc_uri, data) VALUES ($1, $2, '1', './x', 'd')`, tenant, dev)
		return err
	},
	"device_groups": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO device_groups (tenant_id, id, name) VALUES ($1, $2, $3)`, tenant, uuid.New(), uuid.NewString())
		return err
	},
	"device_group_members": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		group, device := uuid.New(), uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO device_groups (tenant_id, id, name) VALUES ($1, $2, $3)`, tenant, group, uuid.NewString()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO devices (tenant_id, id, platform, identifier) VALUES ($1, $2, 'android', $3)`, tenant, device, uuid.NewString()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_group_members (tenant_id, group_id, device_id) VALUES ($1, $2, $3)`, tenant, group, device)
		return err
	},
	"events": func(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO events (tenant_id, kind, subject) VALUES ($1, 'test.fixture', 'isolation')`, tenant)
		return err
	},
}

type tenantTable struct {
	name          string
	rls, forced   bool
	policies      int
	tenantFirstPK bool
}

// tenantTables lists every table in the app schema with a tenant_id column,
// from the catalog.
func tenantTables(t *testing.T) []tenantTable {
	conn := testenv.Superuser(t)
	rows, _ := conn.Query(context.Background(), `
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
       coalesce((SELECT a.attname = 'tenant_id' FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = c.oid AND i.indisprimary), false)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
ORDER BY c.relname`)
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tenantTable, error) {
		var tt tenantTable
		return tt, r.Scan(&tt.name, &tt.rls, &tt.forced, &tt.policies, &tt.tenantFirstPK)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("the catalog lists no tenant tables; the suite would prove nothing")
	}
	return tables
}

func TestTenantTablesHaveRLS(t *testing.T) {
	for _, tt := range tenantTables(t) {
		if !tt.rls || !tt.forced {
			t.Errorf("%s: row-level security enabled=%v forced=%v; want both", tt.name, tt.rls, tt.forced)
		}
		if tt.policies == 0 {
			t.Errorf("%s: no policy", tt.name)
		}
		if !tt.tenantFirstPK {
			t.Errorf("%s: tenant_id is not the first column of the primary key", tt.name)
		}
		if fixtures[tt.name] == nil {
			t.Errorf("%s: no fixture in isolation_test.go; add one so the isolation suite covers it", tt.name)
		}
	}
}

// Every foreign key of a tenant table starts with tenant_id, so a row can
// only point at rows of its own tenant (and Citus can co-locate the
// tables on tenant_id).
func TestTenantForeignKeysStartWithTenant(t *testing.T) {
	conn := testenv.Superuser(t)
	rows, _ := conn.Query(context.Background(), `
SELECT c.conrelid::regclass::text, c.conname, a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_namespace n ON n.oid = (SELECT relnamespace FROM pg_class WHERE oid = c.conrelid)
WHERE c.contype = 'f' AND n.nspname = 'public'
  AND EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.conrelid AND t.attname = 'tenant_id' AND NOT t.attisdropped)`)
	type fk struct{ table, name, first string }
	fks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fk, error) {
		var f fk
		return f, r.Scan(&f.table, &f.name, &f.first)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fks) == 0 {
		t.Fatal("no foreign keys found; the check would prove nothing")
	}
	for _, f := range fks {
		if f.first != "tenant_id" {
			t.Errorf("%s: foreign key %s starts with %s, not tenant_id", f.table, f.name, f.first)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir)
	ctxA := tenancy.WithTenant(context.Background(), a.ID)
	ctxB := tenancy.WithTenant(context.Background(), b.ID)

	for _, tt := range tenantTables(t) {
		fixture := fixtures[tt.name]
		if fixture == nil {
			continue // TestTenantTablesHaveRLS reports it
		}
		t.Run(tt.name, func(t *testing.T) {
			table := pgx.Identifier{tt.name}.Sanitize()
			countA := func(ctx context.Context) (n int) {
				t.Helper()
				err := db.Tx(ctx, func(tx pgx.Tx) error {
					return tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, a.ID).Scan(&n)
				})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if err := db.Tx(ctxA, func(tx pgx.Tx) error { return fixture(ctxA, tx, a.ID) }); err != nil {
				t.Fatalf("fixture as tenant A: %v", err)
			}
			if err := db.Tx(ctxB, func(tx pgx.Tx) error { return fixture(ctxB, tx, b.ID) }); err != nil {
				t.Fatalf("fixture as tenant B: %v", err)
			}
			before := countA(ctxA)
			if before == 0 {
				t.Fatal("tenant A cannot see its own row; the checks below would prove nothing")
			}

			if n := countA(ctxB); n != 0 {
				t.Errorf("tenant B sees %d of A's rows", n)
			}
			var total int
			if err := db.Writer().QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&total); err != nil {
				t.Fatal(err)
			}
			if total != 0 {
				t.Errorf("with no tenant set, a query returns %d rows; want none", total)
			}
			err := db.Tx(ctxB, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctxB, `UPDATE `+table+` SET tenant_id = tenant_id WHERE tenant_id = $1`, a.ID)
				if err == nil && tag.RowsAffected() != 0 {
					err = fmt.Errorf("updated %d of A's rows", tag.RowsAffected())
				}
				return err
			})
			if err != nil && !isRLSViolation(err) { // append-only tables refuse UPDATE outright
				t.Errorf("tenant B update: %v", err)
			}
			err = db.Tx(ctxB, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctxB, `DELETE FROM `+table+` WHERE tenant_id = $1`, a.ID)
				if err == nil && tag.RowsAffected() != 0 {
					err = fmt.Errorf("deleted %d of A's rows", tag.RowsAffected())
				}
				return err
			})
			if err != nil && !isRLSViolation(err) { // append-only tables refuse DELETE outright
				t.Errorf("tenant B delete: %v", err)
			}
			err = db.Tx(ctxB, func(tx pgx.Tx) error { return fixture(ctxB, tx, a.ID) })
			if !isRLSViolation(err) {
				t.Errorf("tenant B inserting a row with A's tenant_id: %v; want a row-level security violation", err)
			}
			err = db.Tx(ctxB, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctxB, `UPDATE `+table+` SET tenant_id = $1`, a.ID)
				return err
			})
			if !isRLSViolation(err) {
				t.Errorf("tenant B moving its rows to A: %v; want a row-level security violation", err)
			}
			if after := countA(ctxA); after != before {
				t.Errorf("tenant A had %d rows, now %d", before, after)
			}
		})
	}
}

// isRLSViolation reports SQLSTATE 42501: a row-level security violation,
// or a privilege the app role lacks altogether.
func isRLSViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// appleChain inserts the Apple MDM rows a row of table upto depends on, and
// that row, for tenant: devices, users, enrollments, commands, queue,
// results.
func appleChain(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, upto string) (string, error) {
	id := uuid.NewString()
	steps := []struct{ name, sql string }{
		{"devices", `INSERT INTO apple_devices (tenant_id, id, authenticate, authenticate_at) VALUES ($1, $2, '<?xml', now())`},
		{"users", `INSERT INTO apple_users (tenant_id, id, device_id) VALUES ($1, $2 || '-user', $2)`},
		{"enrollments", `INSERT INTO apple_enrollments (tenant_id, id, device_id, type, topic, push_magic, token_hex, last_seen_at)
VALUES ($1, $2, $2, 'Device', 't', 'm', 'aa', now())`},
		{"commands", `INSERT INTO apple_commands (tenant_id, command_uuid, request_type, command) VALUES ($1, $2, 'DeviceInformation', '<?xml')`},
		{"queue", `INSERT INTO apple_enrollment_queue (tenant_id, id, command_uuid) VALUES ($1, $2, $2)`},
		{"results", `INSERT INTO apple_command_results (tenant_id, id, command_uuid, status, result) VALUES ($1, $2, $2, 'Acknowledged', '<?xml')`},
	}
	for _, s := range steps {
		if s.name == "users" && upto != "users" {
			continue // only the users fixture needs a user
		}
		if _, err := tx.Exec(ctx, s.sql, tenant, id); err != nil {
			return "", err
		}
		if s.name == upto {
			return id, nil
		}
	}
	return id, nil
}

// complianceFixture makes a device and a rule for tenant, then runs insert
// with ($1 tenant, $2 device, $3 rule).
func complianceFixture(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, insert string) error {
	device, rule := uuid.New(), uuid.New()
	if _, err := tx.Exec(ctx, `INSERT INTO devices (tenant_id, id, platform, identifier) VALUES ($1, $2, 'apple', $3)`,
		tenant, device, uuid.NewString()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO compliance_rules (tenant_id, id, name, kind) VALUES ($1, $2, 'r', 'passcode_set')`, tenant, rule); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, insert, tenant, device, rule)
	return err
}

// depFixture makes an ABM token for tenant and returns its id.
func depFixture(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (uuid.UUID, error) {
	id := uuid.New()
	_, err := tx.Exec(ctx, `INSERT INTO dep_tokens (tenant_id, id, label, certificate, key_sealed) VALUES ($1, $2, 't', '\x00', '\x00')`, tenant, id)
	return id, err
}

// androidPolicyFixture makes an Android policy for tenant.
func androidPolicyFixture(ctx context.Context, tx pgx.Tx, tenant uuid.UUID) (uuid.UUID, error) {
	id := uuid.New()
	_, err := tx.Exec(ctx, `INSERT INTO android_policies (tenant_id, id, name, settings) VALUES ($1, $2, $3, '{}')`, tenant, id, uuid.NewString())
	return id, err
}

// mspFixtures insert one valid row for MSP msp into an MSP table (one
// without tenant_id, whose policy is on current_msp()), under MSPTx.
var mspFixtures = map[string]func(ctx context.Context, tx pgx.Tx, msp uuid.UUID) error{
	"baselines": func(ctx context.Context, tx pgx.Tx, msp uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO baselines (msp_id, id, name, created_by) VALUES ($1, $2, $3, 'someone')`, msp, uuid.New(), "b-"+uuid.NewString()[:8])
		return err
	},
	"baseline_versions": func(ctx context.Context, tx pgx.Tx, msp uuid.UUID) error {
		id := uuid.New()
		if _, err := tx.Exec(ctx, `INSERT INTO baselines (msp_id, id, name, created_by) VALUES ($1, $2, $3, 'someone')`, msp, id, "v-"+uuid.NewString()[:8]); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO baseline_versions (msp_id, baseline_id, version, items, created_by) VALUES ($1, $2, 1, '[]', 'someone')`, msp, id)
		return err
	},
	"msp_operations": func(ctx context.Context, tx pgx.Tx, msp uuid.UUID) error {
		_, err := tx.Exec(ctx, `INSERT INTO msp_operations (msp_id, id, command, created_by) VALUES ($1, $2, 'restart', 'someone')`, msp, uuid.New())
		return err
	},
}

// mspTables are the tables with a policy on current_msp(): rows their
// MSP may read across its tenants (tenancy.DB.MSPReadTx).
func mspTables(t *testing.T) []string {
	conn := testenv.Superuser(t)
	rows, _ := conn.Query(context.Background(), `SELECT DISTINCT tablename::text FROM pg_policies
WHERE schemaname = 'public' AND (qual LIKE '%current_msp()%' OR with_check LIKE '%current_msp()%') ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// An MSP reads what its own tenants share with it and nothing of another
// MSP's, and writes nothing through its reading scope: every table with
// a policy on current_msp() is covered, from its tenant fixture.
func TestMSPIsolation(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	a, b := testenv.Tenant(t, dir), testenv.Tenant(t, dir) // each in an MSP of its own
	tables := mspTables(t)
	if len(tables) == 0 {
		t.Fatal("no table has a policy on current_msp(); the suite would prove nothing")
	}
	for _, name := range tables {
		t.Run(name, func(t *testing.T) {
			if mspFixtures[name] != nil {
				mspOwned(t, db, name, a.MSPID, b.MSPID)
				return
			}
			fixture := fixtures[name]
			if fixture == nil {
				t.Fatalf("%s: no fixture in isolation_test.go (fixtures for a tenant's row, mspFixtures for an MSP's)", name)
			}
			for _, tn := range []tenancy.Tenant{a, b} {
				ctx := tenancy.WithTenant(context.Background(), tn.ID)
				if err := db.Tx(ctx, func(tx pgx.Tx) error { return fixture(ctx, tx, tn.ID) }); err != nil {
					t.Fatalf("fixture for %s: %v", tn.Slug, err)
				}
			}
			table := pgx.Identifier{name}.Sanitize()
			seen := func(msp uuid.UUID, tenant uuid.UUID) (n int) {
				t.Helper()
				if err := db.MSPReadTx(context.Background(), msp, func(tx pgx.Tx) error {
					return tx.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, tenant).Scan(&n)
				}); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if seen(a.MSPID, a.ID) == 0 || seen(b.MSPID, b.ID) == 0 {
				t.Fatal("an MSP cannot read its own tenant's rows; the checks below would prove nothing")
			}
			if n := seen(a.MSPID, b.ID); n != 0 {
				t.Errorf("MSP A reads %d rows of MSP B's tenant", n)
			}
			if n := seen(b.MSPID, a.ID); n != 0 {
				t.Errorf("MSP B reads %d rows of MSP A's tenant", n)
			}
			err := db.MSPReadTx(context.Background(), a.MSPID, func(tx pgx.Tx) error {
				_, err := tx.Exec(context.Background(), `DELETE FROM `+table)
				return err
			})
			if err == nil {
				t.Error("a write through the MSP's reading scope was accepted")
			}
		})
	}
}

// mspOwned checks an MSP's own table: each MSP reads and changes its own
// rows only, a row cannot be written under another MSP, and with no MSP
// set (a tenant's transaction, or none) nothing is there.
func mspOwned(t *testing.T, db *tenancy.DB, name string, a, b uuid.UUID) {
	ctx := context.Background()
	fixture := mspFixtures[name]
	for _, m := range []uuid.UUID{a, b} {
		if err := db.MSPTx(ctx, m, func(tx pgx.Tx) error { return fixture(ctx, tx, m) }); err != nil {
			t.Fatalf("fixture for MSP %s: %v", m, err)
		}
	}
	table := pgx.Identifier{name}.Sanitize()
	count := func(scope, of uuid.UUID) (n int) {
		t.Helper()
		if err := db.MSPReadTx(ctx, scope, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE msp_id = $1`, of).Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(a, a) == 0 {
		t.Fatal("MSP A cannot read its own rows; the checks below would prove nothing")
	}
	if n := count(a, b); n != 0 {
		t.Errorf("MSP A reads %d of MSP B's rows", n)
	}
	var none int
	if err := db.Writer().QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&none); err != nil || none != 0 {
		t.Errorf("with no MSP set: %d rows, %v; want none", none, err)
	}
	if err := db.MSPTx(ctx, b, func(tx pgx.Tx) error { return fixture(ctx, tx, a) }); !isRLSViolation(err) {
		t.Errorf("MSP B writing a row of MSP A: %v; want a row-level security violation", err)
	}
	err := db.MSPTx(ctx, b, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE msp_id = $1`, a)
		if err == nil && tag.RowsAffected() != 0 {
			err = fmt.Errorf("deleted %d of A's rows", tag.RowsAffected())
		}
		return err
	})
	if err != nil {
		t.Errorf("MSP B deleting: %v", err)
	}
	if n := count(a, a); n == 0 {
		t.Error("MSP A's rows are gone")
	}
}
