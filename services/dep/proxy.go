package dep

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httputil"

	"github.com/google/uuid"
	depclient "github.com/micromdm/nanodep/client"
	"github.com/micromdm/nanodep/proxy"
	"github.com/micromdm/nanolib/log"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// newReverseProxy is nanodep's DEP reverse proxy on the service's
// authenticating transport. Apple's session header never goes back to
// the caller.
func (s *Service) newReverseProxy() *httputil.ReverseProxy {
	p := proxy.New(s.transport, store{s}, log.NopLogger)
	p.ModifyResponse = func(r *http.Response) error {
		r.Header.Del(depclient.ADMAuthSession)
		return nil
	}
	return p
}

// forwarded are the request headers the proxy passes to Apple: never the
// caller's Authorization, cookies or anything else of Trident's.
var forwarded = []string{"Content-Type", "Accept", depclient.ServerProtocolVersion}

// ProxyCall is a request for Apple's DEP API.
type ProxyCall struct {
	Method   string
	Endpoint string // a path such as "/server/devices"
	Query    string // the raw query, passed on as is
	// Header holds the caller's request headers; only those in
	// forwarded reach Apple.
	Header http.Header
	Body   []byte
}

// ProxyAnswer is Apple's answer, as Apple gave it, without its session
// header.
type ProxyAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// MaxProxyAnswer bounds an answer Proxy passes back: a page of Apple's
// device list is a few hundred kilobytes.
const MaxProxyAnswer = 16 << 20

// ErrProxyAnswer means Apple's answer was larger than MaxProxyAnswer.
var ErrProxyAnswer = fault.New(fault.Upstream, "Apple's answer is larger than Trident passes on")

// Proxy sends c to Apple's DEP API as token id of ctx's tenant and
// returns Apple's answer. A failure to reach Apple is a 502 answer, as
// nanodep's proxy gives it.
func (s *Service) Proxy(ctx context.Context, id uuid.UUID, c ProxyCall) (ProxyAnswer, error) {
	tenant, err := tenancy.Require(ctx)
	if err != nil {
		return ProxyAnswer{}, err
	}
	out, err := http.NewRequestWithContext(depclient.WithName(ctx, Name(tenant, id)), c.Method,
		"http://apple.invalid"+c.Endpoint, bytes.NewReader(c.Body))
	if err != nil {
		return ProxyAnswer{}, fault.InvalidField("endpoint", "not a request Apple's API takes: "+err.Error())
	}
	out.URL.RawQuery = c.Query
	for _, h := range forwarded {
		if v := c.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	rec := &answer{header: http.Header{}, status: http.StatusOK}
	s.proxy.ServeHTTP(rec, out)
	if rec.over {
		return ProxyAnswer{}, ErrProxyAnswer
	}
	return ProxyAnswer{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}, nil
}

// answer keeps what the reverse proxy writes, up to MaxProxyAnswer.
type answer struct {
	header http.Header
	status int
	wrote  bool
	over   bool
	body   bytes.Buffer
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) WriteHeader(status int) {
	if !a.wrote {
		a.status, a.wrote = status, true
	}
}

func (a *answer) Write(b []byte) (int, error) {
	a.wrote = true
	if a.body.Len()+len(b) > MaxProxyAnswer {
		a.over = true
		return 0, ErrProxyAnswer
	}
	return a.body.Write(b)
}
