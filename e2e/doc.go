// Package e2e holds Trident's end-to-end tests. Each test runs the
// production binary as production runs it, a `trident serve` and a
// `trident worker` process on one PostgreSQL database, and drives it from
// outside: over HTTP as devices, integrators and browsers do, and through
// the database only where a test must arrange what no API offers (a
// verified hostname, an audit trigger that refuses).
//
// The harness (harness_test.go) builds the binary once per run, with the
// race detector and build tags of the test binary itself, and starts the
// two processes per test with flags, the way an operator configures them.
// A process's log is shown when its test fails.
package e2e
