// Package apple is Trident's Apple device edge: the wire protocols Apple
// devices speak to a tenant's hostname, translated to and from Trident's
// services. So far: SCEP (RFC 8894) on each tenant's own CA.
//
// It holds no SQL and no policy: it opens a tenant transaction (the Host
// middleware put the tenant in the request) and calls services/pki.
package apple
