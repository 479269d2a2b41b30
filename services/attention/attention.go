// Package attention finds what in a tenant needs an admin: the rules
// behind the dashboard's alerts. An Apple push certificate that expires
// within Window (or has) and an ABM token that is not active are each an
// Item, with what to do.
package attention

import (
	"context"
	"fmt"
	"time"

	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/tenancy"
)

// Window is how long before an expiry an item appears.
const Window = 30 * 24 * time.Hour

// Item is one thing that needs an admin.
type Item struct {
	Text string
}

// PushCertificates reads the expiry of the tenant's newest Apple push
// certificate (nanomdm's storage keeps them); ok is false when it has
// none.
type PushCertificates interface {
	NewestPushCertificate(ctx context.Context) (notAfter time.Time, ok bool, err error)
}

// Finder applies the rules.
type Finder struct {
	push PushCertificates // nil: no Apple management
	abm  *dep.Service     // nil: no ABM
	now  func() time.Time
}

// New returns a Finder over the tenant's push certificates and ABM
// tokens (either may be nil), reading time from now.
func New(push PushCertificates, abm *dep.Service, now func() time.Time) *Finder {
	return &Finder{push: push, abm: abm, now: now}
}

// Tenant lists what needs an admin in t.
func (f *Finder) Tenant(ctx context.Context, t tenancy.Tenant) ([]Item, error) {
	ctx = tenancy.WithTenant(ctx, t.ID)
	var out []Item
	if f.push != nil {
		na, ok, err := f.push.NewestPushCertificate(ctx)
		if err != nil {
			return nil, err
		}
		switch now := f.now(); {
		case !ok:
		case now.After(na):
			out = append(out, Item{Text: fmt.Sprintf("The Apple push certificate expired on %s: devices get no pushes. Renew it with the same Apple ID.", na.Format("2006-01-02"))})
		case na.Sub(now) < Window:
			out = append(out, Item{Text: fmt.Sprintf("The Apple push certificate expires on %s: renew it with the same Apple ID.", na.Format("2006-01-02"))})
		}
	}
	if f.abm != nil {
		tokens, err := f.abm.Tokens(ctx)
		if err != nil {
			return out, err
		}
		for _, tk := range tokens {
			if tk.Status != "active" {
				out = append(out, Item{Text: fmt.Sprintf("ABM token %q is %s. %s", tk.Label, tk.Status, tk.StatusDetail)})
			}
		}
	}
	return out, nil
}
