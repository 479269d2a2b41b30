// Package attention finds what in a tenant needs an admin: the rules
// behind the dashboard's alerts and the MSP console's needs-attention
// queue. Each rule reads the tenant through its owning service and
// answers Items, each with how urgent it is and the dashboard page that
// fixes it.
package attention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// Window is how long before an expiry an item appears.
const Window = 30 * 24 * time.Hour

// IdentityWindow is how close to its expiry a device identity that was
// not renewed (Apple devices renew theirs well before, through the
// renewal profile) needs an admin.
const IdentityWindow = 14 * 24 * time.Hour

// Severity orders items: what stops management first.
type Severity string

const (
	// Critical: management is failing now (an expired certificate or
	// token, a webhook that gives up).
	Critical Severity = "critical"
	// Warning: something fails soon or for some devices.
	Warning Severity = "warning"
	// Notice: a step left undone.
	Notice Severity = "notice"
)

func (s Severity) rank() int {
	switch s {
	case Critical:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Kinds of item.
const (
	PushCertificate   = "push_certificate"
	ABMToken          = "abm_token"
	FailingCompliance = "failing_compliance"
	SilentDevices     = "silent_devices"
	DeviceIdentities  = "device_identities"
	AndroidEnterprise = "android_enterprise"
	FailingWebhook    = "failing_webhook"
	PendingHostname   = "pending_hostname"
	AndroidQuota      = "android_quota"
	FailedBulk        = "failed_bulk"
	DeviceLimit       = "device_limit"
)

// LimitNear is the share of a tenant's device limit from which it is
// announced, before enrollments are refused at the limit.
const LimitNear = 0.9

// Item is one thing that needs an admin.
type Item struct {
	Kind     string     `json:"kind"`
	Severity Severity   `json:"severity"`
	Text     string     `json:"text"`
	Link     string     `json:"link"` // the dashboard page that fixes it: relative to /dashboard/t/{tenant}/, or from the root ("/dashboard/msps/...")
	Count    int        `json:"count,omitempty"`
	Due      *time.Time `json:"due,omitempty"` // when it expires (or expired)
}

// Href is the dashboard page that fixes the item, in tenant slug.
func (i Item) Href(slug string) string {
	if strings.HasPrefix(i.Link, "/") {
		return i.Link
	}
	return "/dashboard/t/" + slug + "/" + i.Link
}

// Compare orders items by urgency: severity, then the soonest due, then
// the most devices.
func Compare(a, b Item) int {
	if c := cmp.Compare(a.Severity.rank(), b.Severity.rank()); c != 0 {
		return c
	}
	switch {
	case a.Due != nil && b.Due != nil:
		if c := a.Due.Compare(*b.Due); c != 0 {
			return c
		}
	case a.Due != nil:
		return -1
	case b.Due != nil:
		return 1
	}
	return cmp.Compare(b.Count, a.Count)
}

// Sort orders items by urgency (Compare), keeping the order of equals.
func Sort(items []Item) { slices.SortStableFunc(items, Compare) }

// PushCertificates reads the expiry of the tenant's newest Apple push
// certificate (nanomdm's storage keeps them); ok is false when it has
// none.
type PushCertificates interface {
	NewestPushCertificate(ctx context.Context) (notAfter time.Time, ok bool, err error)
}

// Identities counts the tenant's device identities that expire within
// a window without a renewal (pki.PKI).
type Identities interface {
	ExpiringCount(ctx context.Context, within time.Duration) (int, error)
}

// BulkFailures lists the tenant's bulk commands with commands that ended
// in error since a time (commands.Queue).
type BulkFailures interface {
	FailedBulks(ctx context.Context, since time.Time) ([]commands.BulkFailure, error)
}

// Sources are what the rules read; any may be nil (that part of the
// product is not configured), and the rules that need it find nothing.
type Sources struct {
	Push       PushCertificates
	ABM        *dep.Service
	Inventory  *inventory.Inventory
	Compliance *compliance.Compliance
	Webhooks   *events.Webhooks
	Directory  *tenancy.Directory
	Identities Identities
	Android    *android.Service
	Bulks      BulkFailures
	// SilentAfter is how long an enrolled device may stay out of touch
	// before it counts as silent (default 7 days).
	SilentAfter time.Duration
}

// Finder applies the rules.
type Finder struct {
	s   Sources
	now func() time.Time
}

// New returns a Finder over s, reading time from now.
func New(s Sources, now func() time.Time) *Finder {
	if s.SilentAfter <= 0 {
		s.SilentAfter = 7 * 24 * time.Hour
	}
	return &Finder{s: s, now: now}
}

// Tenant lists what needs an admin in t, the most urgent first. A rule
// that cannot read its part is an error; the items of the others are
// still returned.
func (f *Finder) Tenant(ctx context.Context, t tenancy.Tenant) ([]Item, error) {
	ctx = tenancy.WithTenant(ctx, t.ID)
	var out []Item
	var errs []error
	for _, rule := range []func(context.Context, tenancy.Tenant) ([]Item, error){
		f.pushCertificate, f.abmTokens, f.failingCompliance, f.silentDevices, f.identities, f.androidEnterprise, f.webhooks, f.hostnames,
		f.failedBulks, f.deviceLimit,
	} {
		items, err := rule(ctx, t)
		out = append(out, items...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	Sort(out)
	return out, errors.Join(errs...)
}

// expiry is the item for something that expires at na: critical once
// expired, a warning within Window, nothing before.
func (f *Finder) expiry(kind, link string, na time.Time, expired, soon string) []Item {
	now := f.now()
	switch {
	case now.After(na):
		return []Item{{Kind: kind, Severity: Critical, Text: expired, Link: link, Due: &na}}
	case na.Sub(now) < Window:
		return []Item{{Kind: kind, Severity: Warning, Text: soon, Link: link, Due: &na}}
	}
	return nil
}

func (f *Finder) pushCertificate(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Push == nil {
		return nil, nil
	}
	na, ok, err := f.s.Push.NewestPushCertificate(ctx)
	if err != nil || !ok {
		return nil, err
	}
	day := na.Format("2006-01-02")
	return f.expiry(PushCertificate, "enroll", na,
		"The Apple push certificate expired on "+day+": devices get no pushes. Renew it with the same Apple ID.",
		"The Apple push certificate expires on "+day+": renew it with the same Apple ID."), nil
}

func (f *Finder) abmTokens(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.ABM == nil {
		return nil, nil
	}
	tokens, err := f.s.ABM.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, tk := range tokens {
		if tk.Status != "active" {
			out = append(out, Item{Kind: ABMToken, Severity: Critical, Link: "abm",
				Text: fmt.Sprintf("ABM token %q is %s. %s", tk.Label, tk.Status, tk.StatusDetail)})
			continue
		}
		if na := tk.AccessTokenExpiry; na != nil {
			day := na.Format("2006-01-02")
			out = append(out, f.expiry(ABMToken, "abm", *na,
				fmt.Sprintf("ABM token %q expired on %s: download a new server token from Apple Business Manager.", tk.Label, day),
				fmt.Sprintf("ABM token %q expires on %s: download a new server token from Apple Business Manager.", tk.Label, day))...)
		}
	}
	return out, nil
}

func (f *Finder) failingCompliance(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Compliance == nil {
		return nil, nil
	}
	st, err := f.s.Compliance.Summarize(ctx)
	if err != nil || st.NonCompliant == 0 {
		return nil, err
	}
	return []Item{{Kind: FailingCompliance, Severity: Warning, Count: st.NonCompliant, Link: "devices?compliance=noncompliant",
		Text: fmt.Sprintf("%d of %d evaluated devices fail compliance.", st.NonCompliant, st.Compliant+st.NonCompliant)}}, nil // "of": plural either way
}

func (f *Finder) silentDevices(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Inventory == nil {
		return nil, nil
	}
	n, err := f.s.Inventory.SilentCount(ctx, f.now().Add(-f.s.SilentAfter))
	if err != nil || n == 0 {
		return nil, err
	}
	days := int(f.s.SilentAfter.Hours() / 24)
	return []Item{{Kind: SilentDevices, Severity: Warning, Count: n, Link: "devices?sort=last_seen_at",
		Text: fmt.Sprintf("%s not checked in for %d days or more.", Counted(n, "enrolled device has", "enrolled devices have"), days)}}, nil
}

// deviceLimit announces a tenant near its device limit (a warning) and at
// it (critical: new devices are refused).
func (f *Finder) deviceLimit(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Inventory == nil {
		return nil, nil
	}
	l, err := f.s.Inventory.DeviceLimit(ctx)
	if err != nil || !l.Near(LimitNear) {
		return nil, err
	}
	item := Item{Kind: DeviceLimit, Severity: Warning, Count: l.Enrolled, Link: "devices",
		Text: fmt.Sprintf("%d of the %d devices the tenant may have are enrolled: new ones are refused at the limit.", l.Enrolled, *l.Limit)}
	if l.Near(1) {
		item.Severity = Critical
		item.Text = fmt.Sprintf("The device limit is reached (%d of %d enrolled): new devices are refused until one is unenrolled or the limit is raised.", l.Enrolled, *l.Limit)
	}
	return []Item{item}, nil
}

func (f *Finder) identities(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Identities == nil {
		return nil, nil
	}
	n, err := f.s.Identities.ExpiringCount(ctx, IdentityWindow)
	if err != nil || n == 0 {
		return nil, err
	}
	return []Item{{Kind: DeviceIdentities, Severity: Warning, Count: n, Link: "devices",
		Text: fmt.Sprintf("%s within %d days with no renewal: those devices stop checking in then.",
			Counted(n, "device identity certificate expires", "device identity certificates expire"), int(IdentityWindow.Hours()/24))}}, nil
}

// QuotaRecent is how long a quota answer from Google stays on the
// console.
const QuotaRecent = time.Hour

// BulkRecent is how far back failed bulk commands count.
const BulkRecent = 24 * time.Hour

func (f *Finder) failedBulks(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Bulks == nil {
		return nil, nil
	}
	fs, err := f.s.Bulks.FailedBulks(ctx, f.now().Add(-BulkRecent))
	if err != nil || len(fs) == 0 {
		return nil, err
	}
	n, kinds := 0, map[string]int{}
	for _, b := range fs {
		n += b.Errors
		kinds[b.Kind] += b.Errors
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, kinds[k]))
	}
	return []Item{{Kind: FailedBulk, Severity: Warning, Count: n, Link: "commands?status=error",
		Text: fmt.Sprintf("%s to many devices at once ended in error in the last day (%s).",
			Counted(n, "command", "commands"), strings.Join(parts, ", "))}}, nil
}

// signupStale is how long an Android sign-up may stay unfinished.
const signupStale = 24 * time.Hour

func (f *Finder) androidEnterprise(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Android == nil {
		return nil, nil
	}
	e, err := f.s.Android.Enterprise(ctx)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil, nil // never signed up: Android is not used here
	} else if err != nil {
		return nil, err
	}
	switch {
	case e.QuotaAt != nil && f.now().Sub(*e.QuotaAt) < QuotaRecent:
		return []Item{{Kind: AndroidQuota, Severity: Warning, Link: "enroll",
			Text: fmt.Sprintf("Google refused the tenant's Android Management API calls for quota at %s UTC: Android changes and commands wait and are tried again.",
				e.QuotaAt.UTC().Format("15:04"))}}, nil
	case e.Status == "signing_up" && f.now().Sub(e.UpdatedAt) > signupStale:
		return []Item{{Kind: AndroidEnterprise, Severity: Notice, Link: "enroll",
			Text: "The Android Enterprise sign-up was started but not finished: start it again from Enrollment."}}, nil
	case e.Status == "unbound":
		return []Item{{Kind: AndroidEnterprise, Severity: Warning, Link: "enroll",
			Text: "The tenant is unbound from Android Enterprise: its Android devices are no longer managed."}}, nil
	}
	return nil, nil
}

func (f *Finder) webhooks(ctx context.Context, _ tenancy.Tenant) ([]Item, error) {
	if f.s.Webhooks == nil {
		return nil, nil
	}
	health, err := f.s.Webhooks.Healths(ctx)
	if err != nil {
		return nil, err
	}
	var failing []uuid.UUID
	for id, h := range health {
		if h.Failing {
			failing = append(failing, id)
		}
	}
	if len(failing) == 0 {
		return nil, nil
	}
	hooks, err := f.s.Webhooks.List(ctx, uuid.Nil, 500)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, e := range hooks {
		if e.Active && slices.Contains(failing, e.ID) {
			h := health[e.ID]
			out = append(out, Item{Kind: FailingWebhook, Severity: Critical, Link: "webhooks/" + e.ID.String(),
				Text: fmt.Sprintf("The webhook to %s is failing: %s", e.URL, h.LastError)})
		}
	}
	return out, nil
}

func (f *Finder) hostnames(ctx context.Context, t tenancy.Tenant) ([]Item, error) {
	if f.s.Directory == nil {
		return nil, nil
	}
	hs, err := f.s.Directory.Hostnames(ctx, t)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, h := range hs {
		if h.Custom && h.VerifiedAt == nil {
			out = append(out, Item{Kind: PendingHostname, Severity: Notice, Link: "settings",
				Text: fmt.Sprintf("The hostname %s waits for its DNS TXT record: it serves no device until it is found.", h.Name)})
		}
	}
	return out, nil
}

// Counted is n with the words for one or for more ("1 device", "3
// devices"): for the items' texts, here and in the MSP's own rules.
func Counted(n int, one, more string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, more)
}
