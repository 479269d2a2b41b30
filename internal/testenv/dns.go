package testenv

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/miekg/dns"

	"github.com/tridentmdm/trident/tenancy"
)

// DNSServer is an authoritative DNS server on the loopback that answers
// TXT questions from records a test sets, over UDP and TCP, with the
// miekg/dns library. Everything else is NXDOMAIN. Production code reaches
// it through tenancy.DNSResolver(Addr()), the resolver it uses in
// production.
type DNSServer struct {
	addr string

	mu       sync.Mutex
	txt      map[string][]string // fully qualified, lower case
	servfail map[string]bool
	asked    map[string]int
}

// DNS starts a DNS server for the test.
func DNS(t testing.TB) *DNSServer {
	t.Helper()
	s := &DNSServer{txt: map[string][]string{}, servfail: map[string]bool{}, asked: map[string]int{}}
	// UDP picks the port; TCP must get the same one, which another
	// process may hold: try again with a new port.
	var pc net.PacketConn
	var l net.Listener
	for attempt := 0; ; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if attempt == 20 {
			t.Fatalf("no port free for both UDP and TCP: %v", err)
		}
	}
	s.addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: l, Handler: s}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		udp.ShutdownContext(ctx)
		tcp.ShutdownContext(ctx)
	})
	return s
}

// Addr is the server's host:port.
func (s *DNSServer) Addr() string { return s.addr }

// Resolver is production's resolver, asking this server.
func (s *DNSServer) Resolver() *net.Resolver { return tenancy.DNSResolver(s.addr) }

// SetTXT makes name answer TXT with values (none: NXDOMAIN again).
func (s *DNSServer) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txt[dns.Fqdn(strings.ToLower(name))] = values
}

// Fail makes name answer SERVFAIL (the zone's server is broken).
func (s *DNSServer) Fail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[dns.Fqdn(strings.ToLower(name))] = true
}

// Asked counts the questions for name.
func (s *DNSServer) Asked(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[dns.Fqdn(strings.ToLower(name))]
}

// ServeDNS implements dns.Handler.
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	for _, q := range req.Question {
		name := strings.ToLower(q.Name)
		s.asked[name]++
		values, ok := s.txt[name]
		switch {
		case s.servfail[name]:
			m.Rcode = dns.RcodeServerFailure
		case !ok || len(values) == 0:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeTXT:
			for _, v := range values {
				// A TXT record's strings are at most 255 bytes each; long
				// values are split as DNS providers split them.
				var parts []string
				for len(v) > 255 {
					parts, v = append(parts, v[:255]), v[255:]
				}
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: append(parts, v)})
			}
		}
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}

// VerifiedHostname registers name to tenant id and proves it the way a
// tenant does: the challenge published in s, then checked. dir must use s
// (dir.UseDNS(s.Resolver())).
func (s *DNSServer) VerifiedHostname(t testing.TB, dir *tenancy.Directory, id uuid.UUID, name string) tenancy.Hostname {
	t.Helper()
	ctx := context.Background()
	h, err := dir.AddHostname(ctx, id, name)
	if err != nil {
		t.Fatalf("add hostname %s: %v", name, err)
	}
	s.SetTXT(h.RecordName(), h.RecordValue())
	if h, err = dir.VerifyHostname(ctx, id, h.Name, nil); err != nil {
		t.Fatalf("verify hostname %s: %v", name, err)
	}
	return h
}
