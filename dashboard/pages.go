package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// deviceRow is a device's table row, with its tenant for the link and
// its compliance state ("compliant", "noncompliant", or "" when not
// evaluated).
type deviceRow struct {
	Slug       string
	Device     inventory.Device
	Compliance string
}

// ago says how long ago t was; past two days, its date in layout.
func ago(t time.Time, layout string) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return t.UTC().Format(layout)
}

var funcs = template.FuncMap{
	"icon": icon,
	"failingOf": func(slug string, rule uuid.UUID, n int) ruleFailing {
		return ruleFailing{Slug: slug, Rule: rule, N: n}
	},
	// viewLink is a saved view's list: its query is the list's own
	// encoding (listValues), not to be escaped again.
	"viewLink": func(slug, query string) template.URL {
		return template.URL("/dashboard/t/" + url.PathEscape(slug) + "/devices?" + query)
	},
	"commandFormOf": func(v *deviceView, f commandForm) commandFormView {
		return commandFormView{Slug: v.Tenant.Slug, Device: v.Device.ID.String(), DeviceName: deviceName(v.Device), Form: f}
	},
	"fieldAs": func(id string, f commandField) fieldView { return fieldView{ID: id, Field: f} },
	"fieldFor": func(id string, f commandField) fieldView {
		v := fieldView{ID: id, Field: f}
		if len(f.Families) > 0 {
			v.For = familiesText(f.Families) + " only"
		}
		return v
	},
	"navLink":      navLink,
	"tenantPicked": func(picked, slug string) bool { return slices.Contains(strings.Split(picked, ","), slug) },
	"ringOf": func(slug string, id uuid.UUID, ring, csrf string) map[string]any {
		return map[string]any{"Slug": slug, "ID": id, "Ring": ring, "CSRF": csrf}
	},
	"driftClass": func(state string) string {
		return map[string]string{msp.Applied: "ok", msp.Changed: "bad", msp.Missing: "bad", msp.Failed: "bad", msp.Overridden: "warn", msp.RollingOut: "warn"}[state]
	},
	"severityClass": func(s attention.Severity) string {
		return map[attention.Severity]string{attention.Critical: "bad", attention.Warning: "warn"}[s]
	},
	"ruleText":     ruleText,
	"isTrue":       func(b *bool) bool { return b != nil && *b },
	"platformName": platformName,
	// platformTitle is a device platform's name ("Apple"), where a rule's
	// "Apple (every family)" would mislead.
	"platformTitle": func(p inventory.Platform) string {
		return map[inventory.Platform]string{inventory.Apple: "Apple", inventory.Windows: "Windows", inventory.Android: "Android"}[p]
	},
	"modelName": inventory.ModelName,
	"json":      func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) },
	"deref":     func(p *uuid.UUID) uuid.UUID { return *p },
	"since":     func(t time.Time) string { return ago(t, "2006-01-02 15:04") },
	"row": func(slug string, d inventory.Device, states map[uuid.UUID]string) deviceRow {
		return deviceRow{Slug: slug, Device: d, Compliance: states[d.ID]}
	},
	"ago": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return ago(*t, "2006-01-02")
	},
	"iso": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
}

// The pages' templates, one file per page (and the layout with its
// shared parts), embedded in the binary.
//
//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFiles, "templates/*.html"))

// layouts holds each page: the layout with its content, made before any
// template runs (html/template cannot clone a template that has run).
var layouts = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, content := range []string{"home-content", "devices-content", "device-content", "overview-content", "audit-content", "enroll-content",
		"rules-content", "groups-content", "commands-content", "people-content", "profiles-content", "abm-content", "webhooks-content", "webhook-content", "settings-content", "confirm-content", "reports-content", "search-content", "operations-content", "operation-content", "baselines-content", "baseline-content", "access-content"} {
		t := template.Must(pages.Clone())
		template.Must(t.New("content").Parse(`{{template "` + content + `" .}}`))
		out[content] = t
	}
	return out
}()

// page renders content inside the layout.
func (d *Dashboard) page(w http.ResponseWriter, r *http.Request, content string, data page) {
	d.pageStatus(w, r, http.StatusOK, content, data)
}

// pageStatus renders content inside the layout, answering code.
func (d *Dashboard) pageStatus(w http.ResponseWriter, r *http.Request, code int, content string, data page) {
	t, ok := layouts[content]
	if !ok {
		d.log.ErrorContext(r.Context(), "dashboard: no page", "content", content)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := data.base()
	v.Session, v.Path = sessionFrom(r.Context()), r.URL.Path
	if v.Tenant != nil {
		v.Switch = d.switchable(r, v.Session)
		v.Brand = d.brand(r, *v.Tenant)
	}
	// Rendered whole first: a template that fails halfway answers an error
	// page, not half a page with 200.
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		d.log.ErrorContext(r.Context(), "dashboard render", "content", content, "err", err)
		d.errorPage(w, r, http.StatusInternalServerError, "This page failed to render; the error is logged.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// brand is t's branding for its pages, nil without one (or when it cannot
// be read: the page is shown as Trident's).
func (d *Dashboard) brand(r *http.Request, t tenancy.Tenant) *brandView {
	b, err := d.opts.Tenants.Branding(tenancy.WithTenant(r.Context(), t.ID))
	if err != nil {
		d.log.WarnContext(r.Context(), "dashboard: the tenant's branding", "tenant", t.Slug, "err", err)
		return nil
	}
	if b.UpdatedAt.IsZero() {
		return nil
	}
	return &brandView{Name: b.Name(t), Support: b.Support(), Logo: b.LogoType != "", Colored: b.PrimaryColor != "" || b.AccentColor != "",
		Version: strconv.FormatInt(b.UpdatedAt.UnixMilli(), 36)}
}

// brandLogo serves the tenant's logo to its people's pages.
func (d *Dashboard) brandLogo(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	data, typ, err := d.opts.Tenants.Logo(tenancy.WithTenant(r.Context(), t.ID))
	if err != nil || data == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=86400") // the URL names the version
	w.Write(data)
}

// brandCSS is the tenant's colours as a style sheet: the page's CSP
// allows no inline style, and the colours are checked #rrggbb.
func (d *Dashboard) brandCSS(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	b, err := d.opts.Tenants.Branding(tenancy.WithTenant(r.Context(), t.ID))
	if err != nil {
		http.Error(w, "branding unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	primary := cmp.Or(b.PrimaryColor, "currentColor")
	fmt.Fprintf(w, ".tenant-brand { border-color: %s; }\n.tenant-brand a { color: %s; }\n", primary, cmp.Or(b.AccentColor, b.PrimaryColor, "inherit"))
}

// fragment answers one template of the pages, for htmx to swap in:
// rendered whole first, like a page.
func (d *Dashboard) fragment(w http.ResponseWriter, r *http.Request, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		d.log.ErrorContext(r.Context(), "dashboard render", "fragment", name, "err", err)
		d.errorPage(w, r, http.StatusInternalServerError, "This part of the page failed to render; the error is logged.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

func (d *Dashboard) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Header.Get("HX-Request") == "true" {
		// An htmx action: the message goes to the page's flash region, not
		// into what the action would have swapped (the layout tells htmx to
		// swap error answers, which it does not by default).
		w.Header().Set("HX-Retarget", "#flash")
		w.Header().Set("HX-Reswap", "innerHTML")
		w.WriteHeader(code)
		pages.ExecuteTemplate(w, "flash-error", msg)
		return
	}
	w.WriteHeader(code)
	pages.ExecuteTemplate(w, "error", msg)
}

type tenantCard struct {
	Tenant   tenancy.Tenant
	Role     identity.Role
	Counted  bool
	Devices  int
	Enrolled int
	Windows  int
	Apple    int
	Android  int
	// Compliance is the compliant share of evaluated devices ("" when
	// none is evaluated).
	Compliance string
	Alerts     []Alert
}

// visibleTenants lists the tenants the person has a role in, as the
// policy says: every tenant of the MSPs they work for where their MSP's
// standing access or a grant reaches, and those their token names.
func (d *Dashboard) visibleTenants(r *http.Request, p *identity.Principal) ([]tenantCard, error) {
	ctx := r.Context()
	seen := map[uuid.UUID]bool{}
	var out []tenantCard
	add := func(t tenancy.Tenant, a identity.Access) {
		if a.Role.Valid() && !seen[t.ID] {
			seen[t.ID] = true
			out = append(out, tenantCard{Tenant: t, Role: a.Role})
		}
	}
	for _, slug := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(p.MSPAdmin), p.MSPTechnician...)))) {
		m, err := d.dir.MSPBySlug(ctx, slug)
		if errors.Is(err, tenancy.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		ts, err := d.dir.ListTenants(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		acc, err := d.opts.Grants.InMSP(ctx, p, m.ID, ts)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			add(t, acc[t.ID])
		}
	}
	for _, g := range p.Grants {
		t, err := d.dir.TenantBySlug(ctx, g.Tenant)
		if errors.Is(err, tenancy.ErrNotFound) || seen[t.ID] {
			continue
		} else if err != nil {
			return nil, err
		}
		a, err := d.opts.Grants.In(ctx, p, t) // only if the tenant of that slug is in the grant's MSP
		if err != nil {
			return nil, err
		}
		add(t, a)
	}
	slices.SortFunc(out, func(a, b tenantCard) int {
		return strings.Compare(strings.ToLower(a.Tenant.Name), strings.ToLower(b.Tenant.Name))
	})
	return out, nil
}

// access is the policy's answer for the person in t, asked once a
// request (identity.Delegations.In); an error reads as no access.
func (d *Dashboard) access(r *http.Request, t tenancy.Tenant) identity.Access {
	s := sessionFrom(r.Context())
	if a, ok := s.access[t.ID]; ok {
		return a
	}
	a, err := d.opts.Grants.In(r.Context(), s.principal(), t)
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard: the access policy", "tenant", t.Slug, "err", err)
		return identity.Access{}
	}
	if s.access == nil {
		s.access = map[uuid.UUID]identity.Access{}
	}
	s.access[t.ID] = a
	return a
}

// roleIn is the person's role in t, and whether they have one.
func (d *Dashboard) roleIn(r *http.Request, t tenancy.Tenant) (identity.Role, bool) {
	a := d.access(r, t)
	return a.Role, a.Role.Valid()
}

// maxCounted bounds the tenants whose devices the home page counts (one
// transaction each: row-level security has no cross-tenant read).
const maxCounted = 100

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request) {
	d.homePage(w, r, http.StatusOK, flash{Notice: notice(r)})
}

// homePage is the MSP's home answering code, with f (a refused new
// tenant's form).
func (d *Dashboard) homePage(w http.ResponseWriter, r *http.Request, code int, f flash) {
	s := sessionFrom(r.Context())
	ts, err := d.visibleTenants(r, s.principal())
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard home", "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The tenant directory is unavailable; try again in a moment.")
		return
	}
	var consoles []consoleView
	if d.opts.MSP != nil && len(s.MSPAdmin) > 0 {
		// An MSP admin's tenants are on the MSP's console; cards remain
		// for tenants of other MSPs the person holds a grant in.
		if consoles, err = d.consoles(r.Context(), s.MSPAdmin, tagParam(r)); err != nil {
			d.log.ErrorContext(r.Context(), "dashboard home: console", "err", err)
			d.errorPage(w, r, http.StatusServiceUnavailable, "The MSP console cannot be read right now; try again in a moment.")
			return
		}
		ts = slices.DeleteFunc(ts, func(c tenantCard) bool { return s.principal().AdministersMSP(c.Tenant.MSPSlug) })
	}
	for i := range ts[:min(len(ts), maxCounted)] {
		ctx := tenancy.WithTenant(r.Context(), ts[i].Tenant.ID)
		err := d.db.ReadWithin(ctx, func(ctx context.Context) error {
			sum, err := d.inv.Summarize(ctx)
			c := &ts[i]
			c.Counted, c.Devices, c.Enrolled = err == nil, sum.Total, sum.ByStatus[inventory.Enrolled]
			c.Apple, c.Windows, c.Android = sum.ByPlatform[inventory.Apple], sum.ByPlatform[inventory.Windows], sum.ByPlatform[inventory.Android]
			if err != nil || d.opts.Compliance == nil {
				return err
			}
			st, err := d.opts.Compliance.Summarize(ctx)
			if n := st.Compliant + st.NonCompliant; err == nil && n > 0 {
				c.Compliance = strconv.Itoa(st.Compliant*100/n) + "% compliant"
			}
			return err
		})
		if err != nil {
			d.log.WarnContext(r.Context(), "dashboard home: count devices", "tenant", ts[i].Tenant.ID, "err", err)
		}
		if d.opts.Alerts != nil {
			alerts, err := d.opts.Alerts(ctx, ts[i].Tenant)
			if err != nil {
				d.log.WarnContext(r.Context(), "dashboard home: alerts", "tenant", ts[i].Tenant.ID, "err", err)
			}
			ts[i].Alerts = alerts
		}
	}
	d.pageStatus(w, r, code, "home-content", &homeView{view: view{Title: "Tenants", flash: f}, Consoles: consoles, Tenants: ts, MSPs: s.MSPAdmin})
}

// maxSwitch bounds the tenants the switcher lists; past it, the home
// page has them all.
const maxSwitch = 50

// switchable are the tenants the layout's switcher offers: those the
// person has a role in.
func (d *Dashboard) switchable(r *http.Request, s *session) []tenancy.Tenant {
	cards, err := d.visibleTenants(r, s.principal())
	if err != nil {
		d.log.WarnContext(r.Context(), "dashboard: the tenant switcher", "err", err)
		return nil
	}
	out := make([]tenancy.Tenant, 0, min(len(cards), maxSwitch))
	for _, c := range cards[:min(len(cards), maxSwitch)] {
		out = append(out, c.Tenant)
	}
	return out
}

// tenant resolves the path's tenant and the person's role in it: another
// tenant's data, or a page above the person's role, is a 404 page,
// whatever the URL says; someone of the tenant's MSP without a grant is
// told to ask for one.
func (d *Dashboard) tenant(w http.ResponseWriter, r *http.Request, min identity.Role) (tenancy.Tenant, bool) {
	t, err := d.dir.TenantBySlug(r.Context(), r.PathValue("tenant"))
	if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
		d.errorPage(w, r, http.StatusServiceUnavailable, "The tenant directory is unavailable; try again in a moment.")
		return tenancy.Tenant{}, false
	}
	a := identity.Access{}
	if err == nil {
		a = d.access(r, t)
	}
	switch {
	case !a.Role.Valid() && a.MFARequired:
		d.errorPage(w, r, http.StatusForbidden, "Your MSP requires you to sign in with a second factor. Sign out, and sign in again with it.")
		return tenancy.Tenant{}, false
	case !a.Role.Valid() && a.Member:
		if r.Method == http.MethodGet && r.Header.Get("HX-Request") != "true" {
			d.askForGrant(w, r, t)
		} else {
			d.errorPage(w, r, http.StatusForbidden, "You work for this tenant's MSP but hold no grant in it: ask for one on its page, and come back once it is active.")
		}
		return tenancy.Tenant{}, false
	case !a.Role.AtLeast(min): // a page above the person's role is not there for them
		d.errorPage(w, r, http.StatusNotFound, "There is no such tenant, or your account has no role in it.")
		return tenancy.Tenant{}, false
	}
	if err := d.opts.Grants.Covers(r.Context(), a, r.PathValue("device")); err != nil {
		_, msg := d.problem(r, err)
		d.errorPage(w, r, http.StatusForbidden, msg)
		return tenancy.Tenant{}, false
	}
	// A suspended tenant is read-only, but for what its MSP may still do
	// (the API's while_suspended operations).
	if err := t.Writable(); err != nil && r.Method != http.MethodGet && r.Method != http.MethodHead && !whileSuspended[r.Pattern] {
		_, msg := d.problem(r, err)
		d.errorPage(w, r, http.StatusConflict, msg)
		return tenancy.Tenant{}, false
	}
	return t, true
}

// whileSuspended are the changes a suspended tenant takes: its MSP's
// tags on it, and resuming it.
var whileSuspended = map[string]bool{
	"POST /dashboard/t/{tenant}/settings/tags":   true,
	"POST /dashboard/t/{tenant}/settings/status": true,
}

const pageSize = 50

// deviceQuery is the device list's query from the page's URL; what it
// does not understand it leaves out.
func deviceQuery(qv url.Values) inventory.Query {
	q := inventory.Query{Search: strings.TrimSpace(qv.Get("q")), Platform: inventory.Platform(qv.Get("platform")), Limit: pageSize + 1}
	if len(q.Search) > 200 {
		q.Search = q.Search[:200]
	}
	if !q.Platform.Valid() {
		q.Platform = ""
	}
	switch c := qv.Get("compliance"); c {
	case "compliant", "noncompliant", "unevaluated":
		q.Compliance = c
	}
	if g, err := uuid.Parse(qv.Get("group")); err == nil {
		q.Group = g
	}
	if id, err := uuid.Parse(qv.Get("rule")); err == nil {
		q.FailingRule = id
	}
	if s := qv.Get("sort"); slices.Contains(inventory.Sorts(), s) {
		q.Sort = inventory.Sort(s)
	}
	if key, id, ok := strings.Cut(qv.Get("after"), "|"); ok {
		if u, err := uuid.Parse(id); err == nil {
			q.AfterKey, q.AfterID = key, u
		}
	}
	return q
}

// sortLinks are, for the sortable columns, the list sorted by each (the
// other way when it is the sort already) and its aria-sort.
func sortLinks(base string, q inventory.Query) (links, aria map[string]string) {
	links, aria = map[string]string{}, map[string]string{}
	for _, col := range []string{"name", "serial", "last_seen_at"} {
		by, state := col, "none"
		switch string(q.Sort) {
		case col, "":
			if col == "name" || q.Sort != "" {
				by, state = "-"+col, "ascending"
			}
		case "-" + col:
			state = "descending"
		}
		sorted := q
		sorted.Sort = inventory.Sort(by)
		links[col], aria[col] = base+listValues(sorted).Encode(), state
	}
	return links, aria
}

// listValues are the query of the device list q is (its filters and
// sort, not its position).
func listValues(q inventory.Query) url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"q": q.Search, "platform": string(q.Platform), "compliance": q.Compliance, "sort": string(q.Sort)} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if q.Group != uuid.Nil {
		v.Set("group", q.Group.String())
	}
	if q.FailingRule != uuid.Nil {
		v.Set("rule", q.FailingRule.String())
	}
	return v
}

func (d *Dashboard) devices(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	q := deviceQuery(r.URL.Query())
	full := r.Header.Get("HX-Request") == ""
	var live string
	if full {
		live = d.liveURL(r.Context(), t)
	}
	role, _ := d.roleIn(r, t)
	var p inventory.Page
	var groups []inventory.Group
	var total int
	var failingRule string
	var states map[uuid.UUID]string
	var views []inventory.View
	err := d.db.ReadWithin(tenancy.WithTenant(r.Context(), t.ID), func(ctx context.Context) error {
		var err error
		if p, err = d.inv.List(ctx, q); err != nil {
			return err
		}
		if total, err = d.inv.Count(ctx, q); err != nil {
			return err
		}
		if d.opts.Compliance != nil {
			if states, err = d.opts.Compliance.States(ctx, deviceIDs(p.Devices)); err != nil {
				return err
			}
		}
		if q.FailingRule != uuid.Nil && d.opts.Compliance != nil {
			if failingRule, err = d.ruleName(ctx, q.FailingRule); err != nil {
				return err
			}
		}
		if full {
			if groups, err = d.inv.Groups(ctx); err != nil {
				return err
			}
			views, err = d.inv.Views(ctx, sessionFrom(r.Context()).Subject)
		}
		return err
	})
	if fault.Is(err, fault.Invalid) {
		d.errorPage(w, r, http.StatusBadRequest, "That page of devices does not exist; start from the first.")
		return
	} else if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard devices", "tenant", t.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The devices cannot be read right now; try again in a moment.")
		return
	}
	v := tenantView("Devices · "+t.Name, t, role)
	v.Notice = notice(r)
	data := &devicesView{view: v, Query: q, Devices: p.Devices, Live: live,
		Groups: groups, GroupKinds: groupForms(role), CanGroupSend: d.opts.Jobs != nil && role.AtLeast(identity.Operator),
		ComplianceFilters: []string{"compliant", "noncompliant", "unevaluated"},
		Platforms:         []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}, Total: total, FailingRule: failingRule,
		States: states, CanBulk: role.AtLeast(identity.Operator), BulkKinds: bulkKinds(role),
		Views: views, ListQuery: listValues(q).Encode(), Columns: hideable,
		TakesNew: q.Search == "" && q.Platform == "" && q.Compliance == "" && q.Group == uuid.Nil && q.FailingRule == uuid.Nil,
		Export:   "/dashboard/t/" + t.Slug + "/devices.csv?" + listValues(q).Encode(),
	}
	base := "/dashboard/t/" + t.Slug + "/devices?"
	data.SortLinks, data.AriaSort = sortLinks(base, q)
	if len(p.Devices) > pageSize {
		last := pageSize - 1
		next := listValues(q)
		next.Set("after", p.Keys[last]+"|"+p.Devices[last].ID.String())
		data.Devices = p.Devices[:pageSize]
		data.Next = base + next.Encode()
	}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Boosted") == "" {
		// A next page's rows ("More devices") leave the count alone; a
		// new search or filter brings it.
		data.OOB = q.AfterID == uuid.Nil
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Vary", "HX-Request")
		if err := pages.ExecuteTemplate(w, "device-rows", data); err != nil {
			d.log.ErrorContext(r.Context(), "dashboard render", "err", err)
		}
		return
	}
	w.Header().Set("Vary", "HX-Request")
	d.page(w, r, "devices-content", data)
}
