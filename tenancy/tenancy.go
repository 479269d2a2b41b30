// Package tenancy is the tenant boundary of Trident: the directory of MSPs,
// tenants and their hostnames; Host -> tenant resolution for device
// endpoints; and the one helper, DB.Tx, that opens a transaction scoped to a
// tenant by PostgreSQL row-level security.
//
// It is not for domain logic: services build on it and own their own tables.
// Cross-tenant reads loop over tenants; nothing here bypasses RLS.
package tenancy

import (
	"errors"
	"fmt"
)

// Errors callers tell apart; the edges map them to HTTP (or SOAP, or MDM)
// answers.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// ValidationError says which input was wrong and why.
type ValidationError struct {
	Field, Problem string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Problem) }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}
