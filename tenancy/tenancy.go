// Package tenancy is the tenant boundary of Trident: the directory of MSPs,
// tenants and their hostnames; Host -> tenant resolution for device
// endpoints; and the one helper, DB.Tx, that opens a transaction scoped to a
// tenant by PostgreSQL row-level security.
//
// It is not for domain logic: services build on it and own their own tables.
// Cross-tenant reads loop over tenants; nothing here bypasses RLS.
package tenancy

import (
	"fmt"

	"github.com/tridentmdm/trident/internal/fault"
)

// Errors every service returns for what is not in the caller's tenant,
// already there, or changed since it was read: faults, which the edges map
// to HTTP (or SOAP, or MDM) answers by their code.
var (
	ErrNotFound = fault.New(fault.NotFound, "not found")
	ErrConflict = fault.New(fault.Conflict, "already exists")
	// ErrStale means the resource changed since the caller read it (its
	// ETag no longer matches).
	ErrStale = fault.New(fault.Stale, "changed since it was read")
)

func invalid(field, format string, args ...any) error {
	return fault.InvalidField(field, fmt.Sprintf(format, args...))
}
