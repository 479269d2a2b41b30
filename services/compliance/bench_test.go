package compliance_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// BenchmarkEvaluate evaluates one device against five rules per
// transaction (a device's report), in a tenant of 10,000 devices.
func BenchmarkEvaluate(b *testing.B) {
	db := testenv.DB(b)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		b.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), testenv.Tenant(b, dir).ID)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	c := compliance.New(db, inv, commands.New(db, inv, pub), pub)
	var ids []uuid.UUID
	err = db.Tx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `INSERT INTO devices (id, platform, identifier, os_version, last_seen_at, facts)
SELECT gen_random_uuid(), 'apple', 'bench-' || g, '17.' || (g % 7), now(),
       jsonb_build_object('disk_encrypted', g % 2 = 0, 'passcode_present', true,
                          'installed_apps', jsonb_build_array(jsonb_build_object('identifier', 'com.example.vpn')))
FROM generate_series(1, 10000) g RETURNING id`)
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
			return err
		}
		for _, r := range []compliance.Rule{
			{Name: "OS", Kind: compliance.OSVersionMin, Params: compliance.Params{Version: "17.3"}, Enabled: true},
			{Name: "Encryption", Kind: compliance.DiskEncrypted, Enabled: true},
			{Name: "Passcode", Kind: compliance.PasscodeSet, Enabled: true},
			{Name: "Seen", Kind: compliance.CheckedInWithin, Params: compliance.Params{Hours: 24}, Enabled: true},
			{Name: "VPN", Kind: compliance.AppRequired, Params: compliance.Params{Identifier: "com.example.vpn"}, Enabled: true},
		} {
			if _, err := c.Create(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	evaluate := func(b *testing.B, id uuid.UUID) {
		if err := db.Within(ctx, func(ctx context.Context) error { _, err := c.Evaluate(ctx, id); return err }); err != nil {
			b.Fatal(err)
		}
	}
	// A device's first evaluation: every rule's result is new (results,
	// history, events).
	b.Run("first", func(b *testing.B) {
		i := 0
		for b.Loop() {
			evaluate(b, ids[i%len(ids)])
			i++
		}
	})
	// Later evaluations where nothing changed (the common case).
	b.Run("unchanged", func(b *testing.B) {
		i := 0
		for b.Loop() {
			evaluate(b, ids[i%100])
			i++
		}
	})
}
