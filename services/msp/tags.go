package msp

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// MaxTags bounds a tenant's tags.
const MaxTags = 20

// reTag is a tag: lower-case letters, digits and ":._-", a letter or
// digit first, up to 63 characters ("region:eu", "plan:gold").
var reTag = regexp.MustCompile(`^[a-z0-9][a-z0-9:._-]{0,62}$`)

// CleanTags checks tags and answers them sorted without repeats; a tag
// that is not one is the caller's error, naming it.
func CleanTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if !reTag.MatchString(t) {
			return nil, fault.InvalidField("tags", fmt.Sprintf("%q is not a tag: lower-case letters, digits and : . _ -, a letter or digit first, at most 63", t))
		}
		out = append(out, t)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxTags {
		return nil, fault.InvalidField("tags", fmt.Sprintf("at most %d tags", MaxTags))
	}
	return out, nil
}

// SetTags is SetTagsTx in t's transaction (its own, or the audited one
// ctx is within).
func (s *Service) SetTags(ctx context.Context, t tenancy.Tenant, tags []string) ([]string, error) {
	return tenancy.Write(tenancy.WithTenant(ctx, t.ID), s.db, func(tx pgx.Tx) ([]string, error) { return s.SetTagsTx(ctx, tx, t, tags) })
}

// SetTagsTx makes t's tags exactly tags (CleanTags first), in t's
// transaction tx (the caller's audited one); it answers them.
func (s *Service) SetTagsTx(ctx context.Context, tx pgx.Tx, t tenancy.Tenant, tags []string) ([]string, error) {
	tags, err := CleanTags(tags)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM tenant_tags WHERE NOT tag = ANY($1)`, tags); err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO tenant_tags (tenant_id, msp_id, tag) SELECT current_tenant(), $1, unnest($2::text[])
ON CONFLICT DO NOTHING`, t.MSPID, tags)
	return tags, err
}

// Tags are t's tags, sorted.
func (s *Service) Tags(ctx context.Context, t tenancy.Tenant) ([]string, error) {
	return tenancy.Read(tenancy.WithTenant(ctx, t.ID), s.db, func(tx pgx.Tx) ([]string, error) {
		rows, _ := tx.Query(ctx, `SELECT tag FROM tenant_tags ORDER BY tag`)
		return pgx.CollectRows(rows, pgx.RowTo[string])
	})
}

// MSPTags are every tag of msp's tenants, sorted.
func (s *Service) MSPTags(ctx context.Context, msp uuid.UUID) ([]string, error) {
	var out []string
	err := s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT DISTINCT tag FROM tenant_tags ORDER BY tag`)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return out, err
}

// mspTags are the tags of msp's tenants, by tenant, in tx (MSPReadTx).
func mspTags(ctx context.Context, tx pgx.Tx) (map[uuid.UUID][]string, error) {
	rows, _ := tx.Query(ctx, `SELECT tenant_id, tag FROM tenant_tags ORDER BY tenant_id, tag`)
	out := map[uuid.UUID][]string{}
	var id uuid.UUID
	var tag string
	_, err := pgx.ForEachRow(rows, []any{&id, &tag}, func() error { out[id] = append(out[id], tag); return nil })
	return out, err
}

// Tagged are msp's tenants that have tag.
func (s *Service) Tagged(ctx context.Context, msp uuid.UUID, tag string) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	err := s.db.MSPReadTx(ctx, msp, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT tenant_id FROM tenant_tags WHERE tag = $1`, tag)
		var id uuid.UUID
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error { out[id] = true; return nil })
		return err
	})
	return out, err
}
