package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"
)

// Limits are the request rates allowed per caller and per tenant, in
// requests per second with a burst. Zero rates mean the defaults. They are
// per process: with N replicas behind a balancer the fleet allows N times
// as much.
type Limits struct {
	CallerRate  float64
	CallerBurst int
	TenantRate  float64
	TenantBurst int
	// Streams is how many live event streams one caller may hold open at
	// once, per process (0: events.DefaultStreams).
	Streams int
	// Heartbeat is how often an idle stream pings and checks that an
	// MSP's access or a grant it was opened with still holds (0: 20 s).
	Heartbeat time.Duration
}

type bucketSet struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

type limiter struct{ caller, tenant *bucketSet }

func newLimiter(l Limits) *limiter {
	if l.CallerRate == 0 {
		l.CallerRate, l.CallerBurst = 20, 100
	}
	if l.TenantRate == 0 {
		l.TenantRate, l.TenantBurst = 50, 200
	}
	return &limiter{
		caller: &bucketSet{rate: rate.Limit(l.CallerRate), burst: max(l.CallerBurst, 1), buckets: map[string]*bucket{}},
		tenant: &bucketSet{rate: rate.Limit(l.TenantRate), burst: max(l.TenantBurst, 1), buckets: map[string]*bucket{}},
	}
}

// take spends one token of key's bucket, or says how long until one is
// there.
func (s *bucketSet) take(key string) (ok bool, wait time.Duration) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Forget idle buckets now and then, so memory follows active callers.
	if now.Sub(s.swept) > time.Minute {
		for k, b := range s.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(s.buckets, k)
			}
		}
		s.swept = now
	}
	b := s.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(s.rate, s.burst)}
		s.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// allow applies a limit, answering 429 with Retry-After when it is spent.
func (a *API) allow(ctx huma.Context, key string, s *bucketSet) bool {
	ok, wait := s.take(key)
	if ok {
		return true
	}
	ctx.SetHeader("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	huma.WriteErr(a.huma, ctx, http.StatusTooManyRequests, "rate limit exceeded; retry after the Retry-After seconds")
	return false
}
