// Package clientip finds the address a request came from: the peer's, or,
// when the peer is a proxy the operator trusts, the nearest address in
// X-Forwarded-For that is not one of theirs.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the networks whose peers' X-Forwarded-For is believed.
type Proxies []netip.Prefix

// Parse reads a comma-separated list of CIDR prefixes or addresses
// ("10.0.0.0/8, 192.0.2.7"); empty is none.
func Parse(s string) (Proxies, error) {
	var out Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (ps Proxies) trusted(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// From is the address r came from, or the zero Addr when the peer's is
// not an address. Through trusted proxies it walks X-Forwarded-For from
// the right (each proxy appends the peer it saw) and answers the first
// address that is not a trusted proxy's; a malformed entry stops the walk
// at the last address known good (what a client writes there is not
// believed past it).
func (ps Proxies) From(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Unmap()
	if !ps.trusted(addr) {
		return addr
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			next, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr
			}
			addr = next.Unmap()
			if !ps.trusted(addr) {
				return addr
			}
		}
	}
	return addr
}
