// Package fault is the one error kind Trident's services return for what
// a caller must tell apart: a Code (not found, conflict, invalid input,
// ...), a message a person can act on, and for invalid input the fields
// that were wrong.
//
// Each edge maps the code once: the API to problem details
// (api.problem), the dashboard to a form message (dashboard.problem), the
// device protocols to their own statuses. An error without a fault in its
// chain is unexpected: edges log it and answer without its text.
//
// Sentinels a caller must match exactly (enrollment.ErrNoFederation,
// android.ErrNotBound) are *Error values made with New, so errors.Is
// works on them as on any error and Of still finds their code.
package fault

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Code says what kind of failure an error is, for the edges to map.
type Code string

const (
	// NotFound: the thing named does not exist in the caller's tenant.
	NotFound Code = "not_found"
	// Conflict: it exists already, or its state does not allow this now.
	Conflict Code = "conflict"
	// Stale: it changed since the caller read it (an ETag precondition).
	Stale Code = "stale"
	// Invalid: the input is wrong; Fields say which and why.
	Invalid Code = "invalid"
	// Forbidden: the caller's role does not allow this.
	Forbidden Code = "forbidden"
	// Unavailable: a dependency cannot serve now (a vendor's quota, a
	// store); RetryAfter says when to try again, if known.
	Unavailable Code = "unavailable"
	// Upstream: a vendor's cloud (Apple, Google) refused; the message is
	// its reason.
	Upstream Code = "upstream"
	// Unsupported: this server is not set up for it (no background jobs,
	// no vendor certificate).
	Unsupported Code = "unsupported"
)

// Codes lists every code, for the edges' tests: each edge maps all of
// them.
var Codes = []Code{NotFound, Conflict, Stale, Invalid, Forbidden, Unavailable, Upstream, Unsupported}

// Field is one wrong input: its name as the caller sent it (a JSON path
// such as "settings.apps" or a query parameter) and what is wrong.
type Field struct {
	Name, Problem string
}

// Error is a failure a caller can act on.
type Error struct {
	Code Code
	// Message is for the person: it names what failed and, where it can,
	// what to do. It never holds a secret or another tenant's data.
	Message string
	// Fields are the wrong inputs (Invalid), or the inputs that would
	// resolve a Conflict (such as a flag that accepts the change).
	Fields []Field
	// RetryAfter is when trying again may help (Unavailable only; 0 if
	// unknown).
	RetryAfter time.Duration
	// Err is the cause, for errors.Is and errors.As; it is not shown.
	Err error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of code with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of code whose message is msg, keeping err as its
// cause.
func Wrap(code Code, err error, msg string) *Error {
	return &Error{Code: code, Message: msg, Err: err}
}

// InvalidField says that one input, field, is wrong, and why.
func InvalidField(field, problem string) *Error {
	return &Error{Code: Invalid, Message: "invalid " + field + ": " + problem, Fields: []Field{{field, problem}}}
}

// Join merges invalid-input errors into one that lists every field, or
// returns nil when there are none. Errors that are not Invalid faults are
// joined as they are, so a real failure is never hidden.
func Join(errs ...error) error {
	var fields []Field
	var other []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if e, ok := As(err); ok && e.Code == Invalid && len(e.Fields) > 0 {
			fields = append(fields, e.Fields...)
			continue
		}
		other = append(other, err)
	}
	if len(other) > 0 {
		return errors.Join(other...)
	}
	if len(fields) == 0 {
		return nil
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = "invalid " + f.Name + ": " + f.Problem
	}
	return &Error{Code: Invalid, Message: strings.Join(msgs, "; "), Fields: fields}
}

// As returns the first fault in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Of returns the code of the first fault in err's chain, or "" if there
// is none (an unexpected error).
func Of(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return ""
}

// Is reports whether err's first fault has code.
func Is(err error, code Code) bool { return err != nil && Of(err) == code }
