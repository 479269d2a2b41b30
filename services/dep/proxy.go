package dep

import (
	"bytes"
	"net/http"
	"net/http/httputil"

	"github.com/google/uuid"
	depclient "github.com/micromdm/nanodep/client"
	"github.com/micromdm/nanodep/proxy"
	"github.com/micromdm/nanolib/log"

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

// Proxy sends a request to Apple's DEP API endpoint (a path such as
// "/server/devices") as token id of the tenant in r's context, with body,
// and writes Apple's answer to w.
func (s *Service) Proxy(w http.ResponseWriter, r *http.Request, id uuid.UUID, endpoint string, body []byte) {
	tenant, ok := tenancy.FromContext(r.Context())
	if !ok {
		http.Error(w, "no tenant", http.StatusNotFound)
		return
	}
	out, err := http.NewRequestWithContext(depclient.WithName(r.Context(), Name(tenant, id)), r.Method,
		"http://apple.invalid"+endpoint, bytes.NewReader(body))
	if err != nil {
		http.Error(w, "bad endpoint", http.StatusBadRequest)
		return
	}
	out.URL.RawQuery = r.URL.RawQuery
	for _, h := range forwarded {
		if v := r.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	s.proxy.ServeHTTP(w, out)
}
