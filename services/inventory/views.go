package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// View is a saved device-list view: a person's name for a query of the
// list (its filters and sort, as the dashboard's URL has them).
type View struct {
	ID        uuid.UUID
	Name      string
	Query     string
	CreatedAt time.Time
}

// maxViews bounds one person's saved views in a tenant.
const maxViews = 50

// SaveView saves query under name for owner; a name owner saved before
// gets the new query.
func (inv *Inventory) SaveView(ctx context.Context, owner, name, query string) (View, error) {
	name = strings.TrimSpace(name)
	var problems []error
	if n := len([]rune(name)); n == 0 || n > 100 {
		problems = append(problems, fault.InvalidField("name", "must be 1 to 100 characters"))
	}
	if len(query) > 2000 {
		problems = append(problems, fault.InvalidField("query", "must be at most 2,000 characters"))
	}
	if len(problems) > 0 {
		return View{}, errors.Join(problems...)
	}
	return tenancy.Write(ctx, inv.db, func(tx pgx.Tx) (View, error) {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM saved_views WHERE owner = $1 AND name <> $2`, owner, name).Scan(&n); err != nil {
			return View{}, err
		}
		if n >= maxViews {
			return View{}, fault.InvalidField("name", fmt.Sprintf("at most %d saved views: delete one first", maxViews))
		}
		v := View{Name: name, Query: query}
		err := tx.QueryRow(ctx, `INSERT INTO saved_views (id, owner, name, query) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, owner, name) DO UPDATE SET query = excluded.query
RETURNING id, created_at`, uuid.New(), owner, name, query).Scan(&v.ID, &v.CreatedAt)
		return v, err
	})
}

// Views lists owner's saved views, by name.
func (inv *Inventory) Views(ctx context.Context, owner string) ([]View, error) {
	return tenancy.Read(ctx, inv.db, func(tx pgx.Tx) ([]View, error) {
		rows, _ := tx.Query(ctx, `SELECT id, name, query, created_at FROM saved_views WHERE owner = $1 ORDER BY lower(name)`, owner)
		return pgx.CollectRows(rows, pgx.RowToStructByPos[View])
	})
}

// DeleteView deletes one of owner's saved views.
func (inv *Inventory) DeleteView(ctx context.Context, owner string, id uuid.UUID) error {
	_, err := tenancy.Write(ctx, inv.db, func(tx pgx.Tx) (struct{}, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM saved_views WHERE owner = $1 AND id = $2`, owner, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("saved view %s: %w", id, tenancy.ErrNotFound)
		}
		return struct{}{}, err
	})
	return err
}
