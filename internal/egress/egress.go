// Package egress is the one guard for outbound requests a tenant can aim:
// webhooks, and the Windows federated sign-in's discovery, token and key
// endpoints. A request may leave only over https, to an address that is
// globally reachable: each address actually dialled (after DNS, so a name
// that resolves inward is refused too, and again on every redirect) is
// checked against the IANA IPv4 and IPv6 Special-Purpose Address
// Registries, with IPv4-mapped, NAT64 and 6to4 forms of those addresses
// refused as well. Answers are bounded in time and size. What an outside
// server answered is for Trident to read, never to show: callers report a
// failure in their own words.
//
// Policy.AllowPrivate lifts the address and https checks, for development
// and for receivers inside the operator's own network.
package egress

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Policy is what outbound requests may reach.
type Policy struct {
	// AllowPrivate lets requests reach loopback, private and other
	// special-purpose addresses, over plain http too (dev, tests, an
	// operator's internal receivers).
	AllowPrivate bool
	// Allow are further prefixes let through even without AllowPrivate
	// (tests that stand in for the internet on one loopback address).
	Allow []netip.Prefix
	// Timeout bounds a whole request (default 10 s).
	Timeout time.Duration
	// MaxBody bounds what an answer may hold (default 1 MiB); reading past
	// it fails with ErrTooLarge.
	MaxBody int64
	// Redirects is how many redirects to follow, each checked again
	// (default none: the first answer is the answer).
	Redirects int
}

// Errors callers tell apart.
var (
	ErrRefused  = errors.New("egress: the address is not one Trident may reach")
	ErrTooLarge = errors.New("egress: the answer is larger than allowed")
)

// special are the IANA special-purpose blocks (IPv4 and IPv6 registries,
// as of 2026) and multicast: none is a place a tenant may send Trident.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		// IPv4 Special-Purpose Address Registry (RFC 6890 and later).
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"224.0.0.0/4", // multicast
		// IPv6 Special-Purpose Address Registry.
		"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
		"2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10",
		"ff00::/8", // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Refused says why ip may not be reached, or "" when it may.
func Refused(ip netip.Addr) string {
	ip = ip.WithZone("")
	for _, v4 := range embedded(ip) {
		if why := Refused(v4); why != "" {
			return why + " (embedded in " + ip.String() + ")"
		}
	}
	for _, p := range special {
		if p.Contains(ip) {
			return fmt.Sprintf("%s is in the special-purpose block %s", ip, p)
		}
	}
	return ""
}

// embedded are the IPv4 addresses an IPv6 address carries: IPv4-mapped
// (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d, RFC 6052) and 6to4
// (2002:aabb:ccdd::).
func embedded(ip netip.Addr) []netip.Addr {
	if !ip.Is6() {
		return nil
	}
	b := ip.As16()
	var out []netip.Addr
	if ip.Is4In6() {
		out = append(out, ip.Unmap())
	}
	if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
		out = append(out, netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if netip.MustParsePrefix("2002::/16").Contains(ip) {
		out = append(out, netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	return out
}

func (p Policy) allowed(ip netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	for _, a := range p.Allow {
		if a.Contains(ip.Unmap()) {
			return nil
		}
	}
	if why := Refused(ip); why != "" {
		return fmt.Errorf("%w: %s", ErrRefused, why)
	}
	return nil
}

// CheckURL refuses a URL Trident may not be aimed at: not https (unless
// AllowPrivate), or naming a special-purpose address literally. Names are
// checked when they are dialled.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrRefused, raw)
	}
	if u.Scheme != "https" && !(p.AllowPrivate && u.Scheme == "http") {
		return fmt.Errorf("%w: %s must be https", ErrRefused, u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("%w: a URL with credentials", ErrRefused)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		return p.allowed(ip)
	}
	return nil
}

// control runs after DNS resolution, on each address actually dialled.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return p.allowed(ap.Addr())
}

// Client is an HTTP client under the policy.
func (p Policy) Client() *http.Client {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	max := p.MaxBody
	if max == 0 {
		max = 1 << 20
	}
	d := &net.Dialer{Timeout: timeout, Control: p.control}
	tr := &http.Transport{DialContext: d.DialContext, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, Proxy: nil}
	return &http.Client{Transport: limited{tr, max, p.AllowPrivate || len(p.Allow) > 0}, Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > p.Redirects {
				return http.ErrUseLastResponse
			}
			return p.CheckURL(req.URL.String())
		}}
}

// limited sends only https (unless plain http is allowed) and bounds
// every answer's body.
type limited struct {
	next      http.RoundTripper
	max       int64
	plainHTTP bool
}

func (l limited) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !l.plainHTTP {
		return nil, fmt.Errorf("%w: %s must be https", ErrRefused, r.URL.Redacted())
	}
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &capped{r: resp.Body, left: l.max}
	return resp, nil
}

type capped struct {
	r    io.ReadCloser
	left int64
}

func (c *capped) Read(b []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.r.Close() }
