package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// Group is a named set of a tenant's devices.
type Group struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Devices   int       `json:"devices"` // how many devices are in it
	CreatedAt time.Time `json:"created_at"`
}

// CreateGroup adds a group.
func (inv *Inventory) CreateGroup(ctx context.Context, name string) (Group, error) {
	return tenancy.Write(ctx, inv.db, func(tx pgx.Tx) (Group, error) { return inv.createGroupTx(ctx, tx, name) })
}

func (inv *Inventory) createGroupTx(ctx context.Context, tx pgx.Tx, name string) (Group, error) {
	if n := len(strings.TrimSpace(name)); n == 0 || len(name) > 200 {
		return Group{}, fault.InvalidField("name", "must be 1 to 200 characters")
	}
	g := Group{ID: uuid.New(), Name: name}
	err := tx.QueryRow(ctx, `INSERT INTO device_groups (id, name) VALUES ($1, $2) RETURNING created_at`, g.ID, name).Scan(&g.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return Group{}, fmt.Errorf("group %q: %w", name, tenancy.ErrConflict)
	}
	if err != nil {
		return Group{}, err
	}
	_, err = inv.events.Publish(ctx, tx, EventGroupCreated, g.ID.String(), GroupCreated{Name: name})
	return g, err
}

// Groups lists the tenant's groups by name, with their sizes.
func (inv *Inventory) Groups(ctx context.Context) ([]Group, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]Group, error) { return inv.groupsTx(ctx, tx) })
}

func (inv *Inventory) groupsTx(ctx context.Context, tx pgx.Tx) ([]Group, error) {
	rows, _ := tx.Query(ctx, `SELECT g.id, g.name, count(m.device_id), g.created_at FROM device_groups g
LEFT JOIN device_group_members m ON m.tenant_id = g.tenant_id AND m.group_id = g.id
GROUP BY g.tenant_id, g.id ORDER BY g.name`)
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Group])
}

// GroupsOf lists the groups device is in, by name (their sizes left 0).
func (inv *Inventory) GroupsOf(ctx context.Context, device uuid.UUID) ([]Group, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]Group, error) {
		rows, _ := tx.Query(ctx, `SELECT g.id, g.name, 0, g.created_at FROM device_groups g
JOIN device_group_members m ON m.tenant_id = g.tenant_id AND m.group_id = g.id
WHERE m.device_id = $1 ORDER BY g.name`, device)
		return pgx.CollectRows(rows, pgx.RowToStructByPos[Group])
	})
}

// DeleteGroup removes a group (not its devices).
func (inv *Inventory) DeleteGroup(ctx context.Context, id uuid.UUID) error {
	return inv.db.Tx(ctx, func(tx pgx.Tx) error { return inv.deleteGroupTx(ctx, tx, id) })
}

func (inv *Inventory) deleteGroupTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	tag, err := tx.Exec(ctx, `DELETE FROM device_groups WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("group %s: %w", id, tenancy.ErrNotFound)
	}
	if err != nil {
		return err
	}
	_, err = inv.events.Publish(ctx, tx, EventGroupDeleted, id.String(), nil)
	return err
}

// SetMembers adds devices to a group (add) or removes them (!add), and
// returns how many changed. Ids of devices the tenant does not have are
// refused.
func (inv *Inventory) SetMembers(ctx context.Context, group uuid.UUID, devices []uuid.UUID, add bool) (int, error) {
	return tenancy.Write(ctx, inv.db, func(tx pgx.Tx) (int, error) { return inv.setMembersTx(ctx, tx, group, devices, add) })
}

func (inv *Inventory) setMembersTx(ctx context.Context, tx pgx.Tx, group uuid.UUID, devices []uuid.UUID, add bool) (int, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM device_groups WHERE id = $1)`, group).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, fmt.Errorf("group %s: %w", group, tenancy.ErrNotFound)
	}
	var missing int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[]) d(id) WHERE NOT EXISTS (SELECT 1 FROM devices WHERE devices.id = d.id)`,
		devices).Scan(&missing); err != nil {
		return 0, err
	}
	if missing > 0 {
		return 0, fault.InvalidField("device_ids", fmt.Sprintf("%d of them name no device of this tenant", missing))
	}
	var tag pgconn.CommandTag
	var err error
	if add {
		tag, err = tx.Exec(ctx, `INSERT INTO device_group_members (group_id, device_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`, group, devices)
	} else {
		tag, err = tx.Exec(ctx, `DELETE FROM device_group_members WHERE group_id = $1 AND device_id = ANY($2)`, group, devices)
	}
	if err != nil {
		return 0, err
	}
	n := int(tag.RowsAffected())
	if n > 0 {
		kind := EventMembersAdded
		if !add {
			kind = EventMembersRemoved
		}
		_, err = inv.events.Publish(ctx, tx, kind, group.String(), GroupMembers{Count: n})
	}
	return n, err
}
