// Package devicesim simulates managed devices over the wire, as real ones
// talk to a tenant's hostname: the end-to-end tests and the load tests
// drive Trident with it. So far: an Apple device's SCEP enrollment and
// renewal (RFC 8894), with real keys and CSRs.
package devicesim
