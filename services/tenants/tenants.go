// Package tenants holds the use cases of a tenant's own record: creating
// and updating it and managing its custom hostnames, each with the event
// that tells webhooks and the other processes (tenancy keeps the rows and
// the rules; this package adds the events in the same transaction).
package tenants

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

// Service is the tenants' use cases.
type Service struct {
	db  *tenancy.DB
	dir *tenancy.Directory
	pub *events.Publisher
}

// New returns the service over dir, on db, publishing through pub.
func New(db *tenancy.DB, dir *tenancy.Directory, pub *events.Publisher) *Service {
	return &Service{db: db, dir: dir, pub: pub}
}

// Create makes tenant id in msp; ctx must be scoped to id (so that an
// audit entry written in the same transaction lands in the new tenant's
// log).
func (s *Service) Create(ctx context.Context, id, msp uuid.UUID, slug, name string) (tenancy.Tenant, error) {
	if scoped, err := tenancy.Require(ctx); err != nil || scoped != id {
		return tenancy.Tenant{}, fmt.Errorf("tenants: create %s: the context is not scoped to the new tenant", slug)
	}
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (tenancy.Tenant, error) {
		t, err := tenancy.CreateTenantTx(ctx, tx, id, msp, slug, name)
		if err != nil {
			return t, err
		}
		_, err = s.pub.Publish(ctx, tx, events.TenantCreated, t.ID.String(), events.TenantPayload(t))
		return t, err
	})
}

// Update renames, suspends or reactivates the tenant in ctx.
func (s *Service) Update(ctx context.Context, u tenancy.TenantUpdate) (tenancy.Tenant, error) {
	id, err := tenancy.Require(ctx)
	if err != nil {
		return tenancy.Tenant{}, err
	}
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (tenancy.Tenant, error) {
		t, err := tenancy.UpdateTenantTx(ctx, tx, id, u)
		if err != nil {
			return t, err
		}
		_, err = s.pub.Publish(ctx, tx, events.TenantUpdated, t.ID.String(), events.TenantPayload(t))
		return t, err
	})
}

// Hostnames lists t's hostnames: its own under the base domain, then its
// custom ones.
func (s *Service) Hostnames(ctx context.Context, t tenancy.Tenant) ([]tenancy.Hostname, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) ([]tenancy.Hostname, error) { return s.dir.HostnamesTx(ctx, tx, t) })
}

// Hostname returns one of the tenant's custom hostnames.
func (s *Service) Hostname(ctx context.Context, name string) (tenancy.Hostname, error) {
	return tenancy.Read(ctx, s.db, func(tx pgx.Tx) (tenancy.Hostname, error) { return tenancy.HostnameTx(ctx, tx, name) })
}

// AddHostname registers a custom hostname for the tenant in ctx; it is
// pending until its DNS record proves ownership (VerifyHostname).
func (s *Service) AddHostname(ctx context.Context, name string) (tenancy.Hostname, error) {
	id, err := tenancy.Require(ctx)
	if err != nil {
		return tenancy.Hostname{}, err
	}
	return tenancy.Write(ctx, s.db, func(tx pgx.Tx) (tenancy.Hostname, error) {
		h, err := s.dir.AddHostnameTx(ctx, tx, id, name)
		if err != nil {
			return h, err
		}
		_, err = s.pub.Publish(ctx, tx, events.TenantHostnameAdded, h.Name, events.HostnameAdded{Status: "pending"})
		return h, err
	})
}

// VerifyHostname checks DNS for the name's TXT record now
// (tenancy.Directory.VerifyHostname) and publishes tenant.hostname_verified
// when it proves ownership. also, if not nil, runs in that transaction
// too (an edge's audit entry); a check that proves nothing is kept even
// though it answers an error, so it is not to be run within another
// transaction that the error would roll back.
func (s *Service) VerifyHostname(ctx context.Context, name string, also func(ctx context.Context, h tenancy.Hostname) error) (tenancy.Hostname, error) {
	id, err := tenancy.Require(ctx)
	if err != nil {
		return tenancy.Hostname{}, err
	}
	return s.dir.VerifyHostname(ctx, id, name, s.verified(also))
}

// VouchHostname marks the name verified without DNS, on the operator's
// word (tenancy.Directory.VouchHostname), and publishes
// tenant.hostname_verified.
func (s *Service) VouchHostname(ctx context.Context, name string) (tenancy.Hostname, error) {
	id, err := tenancy.Require(ctx)
	if err != nil {
		return tenancy.Hostname{}, err
	}
	return s.dir.VouchHostname(ctx, id, name, s.verified(nil))
}

// verified publishes tenant.hostname_verified in the verification's
// transaction, then runs also there.
func (s *Service) verified(also func(ctx context.Context, h tenancy.Hostname) error) func(context.Context, tenancy.Hostname) error {
	return func(ctx context.Context, h tenancy.Hostname) error {
		if err := s.db.Tx(ctx, func(tx pgx.Tx) error {
			_, err := s.pub.Publish(ctx, tx, events.TenantHostnameVerified, h.Name, nil)
			return err
		}); err != nil {
			return err
		}
		if also != nil {
			return also(ctx, h)
		}
		return nil
	}
}

// RemoveHostname removes one of the tenant's custom hostnames.
func (s *Service) RemoveHostname(ctx context.Context, name string) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		if err := tenancy.RemoveHostnameTx(ctx, tx, name); err != nil {
			return err
		}
		_, err := s.pub.Publish(ctx, tx, events.TenantHostnameRemoved, name, nil)
		return err
	})
}
