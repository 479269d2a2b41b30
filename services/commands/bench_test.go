package commands_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/commands"
)

// tenThousand fills the fixture's tenant with 10,000 Windows devices (a
// platform that polls, so commands stay in Trident's queue) and returns
// their ids.
func tenThousand(b *testing.B, f fixture) []uuid.UUID {
	var ids []uuid.UUID
	err := f.db.Tx(f.ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(f.ctx, `INSERT INTO devices (id, platform, identifier)
SELECT gen_random_uuid(), 'windows', 'bench-' || g FROM generate_series(1, 10000) g RETURNING id`)
		var err error
		ids, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkEnqueue queues one command per transaction (with its
// command.queued event) in a tenant of 10,000 devices.
func BenchmarkEnqueue(b *testing.B) {
	f := setup(b)
	ids := tenThousand(b, f)
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)]
		i++
		err := f.db.Within(f.ctx, func(ctx context.Context) error {
			_, err := f.q.Enqueue(f.ctx, commands.NewCommand{DeviceID: id, Kind: "restart"})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliver is what a device's check-in costs the queue: take the
// next command and record its answer, each in a transaction, with their
// events.
func BenchmarkDeliver(b *testing.B) {
	f := setup(b)
	ids := tenThousand(b, f)
	// One waiting command per device, queued ahead.
	if err := f.db.Tx(f.ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `INSERT INTO commands (id, device_id, kind, expires_at, created_at)
SELECT gen_random_uuid(), id, 'restart', now() + interval '1 day', clock_timestamp() FROM devices WHERE platform = 'windows'`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if i == len(ids) {
			b.Fatal("ran out of queued commands")
		}
		id := ids[i]
		i++
		var c *commands.Command
		err := f.db.Tx(f.ctx, func(tx pgx.Tx) (err error) { c, err = f.q.NextTx(f.ctx, tx, id); return })
		if err != nil || c == nil {
			b.Fatalf("next: %v %v", c, err)
		}
		err = f.db.Tx(f.ctx, func(tx pgx.Tx) error {
			_, err := f.q.CompleteTx(f.ctx, tx, c.DeviceID, c.ID, commands.Outcome{Status: commands.Acknowledged})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeployDone is a baseline sweep's look at one item in a tenant
// whose 10,000 devices all have it: each device's newest command of the
// item read, nothing queued.
func BenchmarkDeployDone(b *testing.B) {
	f := setup(b)
	tenThousand(b, f)
	tag := "baseline:" + uuid.NewString() + ":lock:0123456789ab"
	if err := f.db.Tx(f.ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.ctx, `INSERT INTO commands (id, device_id, kind, status, created_by, expires_at, created_at)
SELECT gen_random_uuid(), id, 'device_information', 'acknowledged', $1, now() + interval '1 day', clock_timestamp() FROM devices WHERE platform = 'windows'`, tag)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	d := commands.Deployment{Tag: tag, Kind: "device_information", Platform: "windows"}
	for b.Loop() {
		var r commands.Rollout
		if err := f.db.Tx(f.ctx, func(tx pgx.Tx) (err error) { r, _, err = f.q.DeployTx(f.ctx, tx, d, true); return err }); err != nil {
			b.Fatal(err)
		}
		if r.Done != 10000 || r.Queued != 0 {
			b.Fatalf("rollout %+v", r)
		}
	}
}
