package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
)

// NormalizeHost turns a Host header or a hostname into the form the
// directory stores: lower case, no port, no trailing dot. It refuses what is
// not a DNS name (RFC 1123 labels).
func NormalizeHost(host string) (string, error) {
	h := strings.ToLower(strings.TrimSpace(host))
	if hp, _, err := net.SplitHostPort(h); err == nil {
		h = hp
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", invalid("hostname", "%q is empty or longer than 253 characters", host)
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", invalid("hostname", "%q has an empty, over-long or hyphen-edged label", host)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", invalid("hostname", "%q has a character other than a-z, 0-9, '-' and '.'", host)
			}
		}
	}
	return h, nil
}

// Resolver finds the tenant a hostname belongs to, with a cache. Invalidate
// drops the cache; the process calls it when PostgreSQL notifies
// "trident_tenancy" (a trigger does on every hostname or tenant change), and
// entries also expire after a while in case a notification was missed.
type Resolver struct {
	dir *Directory
	ttl time.Duration // for found names
	neg time.Duration // for unknown names

	mu    sync.Mutex
	cache map[string]resolved
	now   func() time.Time
}

type resolved struct {
	tenant  Tenant
	err     error
	expires time.Time
}

const maxCached = 50_000

// NewResolver returns a resolver over dir.
func NewResolver(dir *Directory) *Resolver {
	return &Resolver{dir: dir, ttl: 5 * time.Minute, neg: 30 * time.Second, cache: map[string]resolved{}, now: time.Now}
}

// Invalidate forgets every cached name.
func (r *Resolver) Invalidate() {
	r.mu.Lock()
	clear(r.cache)
	r.mu.Unlock()
}

// IsBase reports whether host is the base domain itself (the platform's own
// name, where the API and dashboard live, not a tenant's).
func (r *Resolver) IsBase(host string) bool {
	h, err := NormalizeHost(host)
	return err == nil && h == r.dir.base
}

// Resolve returns the tenant host belongs to: {slug}.{base} or a custom
// hostname. Unknown names give ErrNotFound.
func (r *Resolver) Resolve(ctx context.Context, host string) (Tenant, error) {
	h, err := NormalizeHost(host)
	if err != nil {
		return Tenant{}, err
	}
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[h]
	r.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.tenant, e.err
	}
	t, err := r.lookup(ctx, h)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Tenant{}, err // a database failure is not cached
	}
	ttl := r.ttl
	if err != nil {
		ttl = r.neg
	}
	r.mu.Lock()
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[h] = resolved{tenant: t, err: err, expires: now.Add(ttl)}
	r.mu.Unlock()
	return t, err
}

func (r *Resolver) lookup(ctx context.Context, h string) (Tenant, error) {
	if slug, ok := strings.CutSuffix(h, "."+r.dir.base); ok {
		if strings.Contains(slug, ".") {
			return Tenant{}, fmt.Errorf("host %q: %w", h, ErrNotFound)
		}
		t, err := r.dir.TenantBySlug(ctx, slug)
		if err != nil {
			return Tenant{}, fmt.Errorf("host %q: %w", h, err)
		}
		return t, nil
	}
	// A custom name: read its one verified row through the resolve_host
	// policy. Pending names route nothing.
	var id uuid.UUID
	var found bool
	err := pgx.BeginFunc(ctx, r.dir.db.reader, func(tx pgx.Tx) error {
		owners, err := verifiedOwners(ctx, tx, []string{h})
		id, found = owners[h]
		return err
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("resolve host %q: %w", h, err)
	}
	if !found {
		return Tenant{}, fmt.Errorf("host %q: %w", h, ErrNotFound)
	}
	return r.dir.Tenant(ctx, id)
}

// Middleware puts the tenant the request's Host names into its context
// (suspended ones too: see Enrolling), or answers itself: 404 for a name
// no tenant has, 503 when the directory cannot be read. It never answers
// 401: an Apple device unenrolls on 401.
func (r *Resolver) Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		t, err := r.Resolve(req.Context(), req.Host)
		switch {
		case fault.Is(err, fault.NotFound), fault.Is(err, fault.Invalid):
			http.Error(w, "no tenant is served at this hostname", http.StatusNotFound)
			return
		case err != nil:
			log.ErrorContext(req.Context(), "resolve tenant", "host", req.Host, "err", err)
			http.Error(w, "tenant directory unavailable", http.StatusServiceUnavailable)
			return
		}
		ctx := context.WithValue(WithTenant(req.Context(), t.ID), resolvedKey{}, t)
		next.ServeHTTP(w, req.WithContext(ctx))
	})
}
