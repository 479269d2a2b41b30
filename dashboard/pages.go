package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// deviceRow is a device's table row, with its tenant for the link.
type deviceRow struct {
	Slug   string
	Device inventory.Device
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
	"ruleText": ruleText,
	"json":     func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) },
	"deref":    func(p *uuid.UUID) uuid.UUID { return *p },
	"since":    func(t time.Time) string { return ago(t, "2006-01-02 15:04") },
	"row":      func(slug string, d inventory.Device) deviceRow { return deviceRow{Slug: slug, Device: d} },
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

var pages = template.Must(template.New("layout").Funcs(funcs).Parse(`{{define "layout"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles": false, "selfRequestsOnly": true}'>
<title>{{.Title}} · Trident</title>
<link rel="stylesheet" href="/dashboard/assets/style.css">
<script src="/dashboard/assets/htmx.min.js" defer></script>
<script src="/dashboard/assets/htmx-ext-sse.min.js" defer></script></head>
<body hx-headers='{"X-CSRF-Token": "{{.Session.CSRF}}"}'>
<header class="top"><a class="brand" href="/dashboard/">Trident</a>
<nav aria-label="Main">{{if .Tenant}}<a href="/dashboard/t/{{.Tenant.Slug}}/">{{.Tenant.Name}}</a>
<a href="/dashboard/t/{{.Tenant.Slug}}/devices">Devices</a><a href="/dashboard/t/{{.Tenant.Slug}}/compliance">Compliance</a>
<a href="/dashboard/t/{{.Tenant.Slug}}/profiles">Profiles</a><a href="/dashboard/t/{{.Tenant.Slug}}/enroll">Enrollment</a><a href="/dashboard/t/{{.Tenant.Slug}}/abm">ABM</a>
{{if .IsAdmin}}<a href="/dashboard/t/{{.Tenant.Slug}}/webhooks">Webhooks</a><a href="/dashboard/t/{{.Tenant.Slug}}/audit">Audit log</a><a href="/dashboard/t/{{.Tenant.Slug}}/settings">Settings</a>{{end}}{{end}}</nav>
<div class="who"><span>{{.Session.Name}}</span>
<form method="post" action="/dashboard/logout"><input type="hidden" name="csrf" value="{{.Session.CSRF}}"><button class="link" type="submit">Sign out</button></form></div></header>
<main id="main">{{template "content" .}}</main></body></html>{{end}}

{{define "home-content"}}<h1>Tenants</h1>
{{if .Tenants}}<ul class="cards">{{range .Tenants}}<li><a class="name" href="/dashboard/t/{{.Tenant.Slug}}/">{{.Tenant.Name}}</a>
<div class="muted">{{.Tenant.MSPSlug}} · {{.Role}}{{if ne .Tenant.Status "active"}} · {{.Tenant.Status}}{{end}}</div>
{{if .Counted}}<div>{{.Enrolled}} of {{.Devices}} devices enrolled</div><div class="muted">apple {{.Apple}} · windows {{.Windows}} · android {{.Android}}</div>
<div>{{if .Compliance}}{{.Compliance}}{{else}}<span class="muted">no compliance rules evaluated</span>{{end}}</div>{{end}}
{{if .Alerts}}<ul class="alerts" aria-label="Needs attention">{{range .Alerts}}<li class="bad">{{if .Link}}<a href="{{.Link}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</li>{{end}}</ul>{{end}}</li>{{end}}</ul>
{{else}}<p>Your account has no role in any tenant yet. Ask an MSP administrator for one.</p>{{end}}{{end}}

{{define "devices-content"}}<h1>Devices</h1>
<form class="filters" role="search" hx-get="/dashboard/t/{{.Tenant.Slug}}/devices" hx-target="#device-rows" hx-push-url="true" hx-trigger="submit, input changed delay:300ms from:#q, change from:#platform, change from:#compliance-filter, change from:#group-filter">
<label for="q">Search <input id="q" name="q" type="search" value="{{.Query.Search}}" placeholder="Name, serial or id" autocomplete="off"></label>
<label for="platform">Platform <select id="platform" name="platform">
<option value="">All</option>{{range .Platforms}}<option value="{{.}}"{{if eq . $.Query.Platform}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<label for="compliance-filter">Compliance <select id="compliance-filter" name="compliance">
<option value="">All</option>{{range .ComplianceFilters}}<option value="{{.}}"{{if eq . $.Query.Compliance}} selected{{end}}>{{.}}</option>{{end}}</select></label>
{{if .Groups}}<label for="group-filter">Group <select id="group-filter" name="group">
<option value="">All</option>{{range .Groups}}<option value="{{.ID}}"{{if eq .ID $.Query.Group}} selected{{end}}>{{.Name}}</option>{{end}}</select></label>{{end}}
<button type="submit">Filter</button></form>
{{if and .Groups .CanGroupSend}}<details class="group-composer"><summary>Send a command to a group</summary>
<form hx-post="/dashboard/t/{{.Tenant.Slug}}/commands/group" hx-target="#group-status" hx-swap="innerHTML">
<label for="group">Group <select id="group" name="group" required><option value="">Choose…</option>{{range .Groups}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</select></label>
<label for="group-kind">Command <select id="group-kind" name="kind" required><option value="">Choose…</option>{{range .GroupKinds}}<option value="{{.Name}}">{{.Name}}{{if .Destructive}} (destructive){{end}}</option>{{end}}</select></label>
<label for="group-payload">Payload (JSON, optional) <textarea id="group-payload" name="payload" rows="1" cols="30" spellcheck="false"></textarea></label>
<label class="confirm"><span><input type="checkbox" name="confirm" value="yes"> I understand a destructive command cannot be undone</span></label>
<button type="submit">Send to the group</button></form><p id="group-status" aria-live="polite"></p></details>{{end}}
<table><caption class="live">Devices of {{.Tenant.Name}}, by name</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Platform</th><th scope="col" class="wide">Model</th><th scope="col" class="wide">OS</th><th scope="col">Status</th><th scope="col">Last seen</th></tr></thead>
<tbody id="device-rows"{{if .Live}} hx-ext="sse" sse-connect="{{.Live}}"{{end}}>{{template "device-rows" .}}</tbody></table>
{{if .Live}}<p class="live" aria-live="polite">Rows update as devices report.</p>{{end}}{{end}}

{{/* Live rows swap their cells, not themselves: a swapped-out element
would take the SSE extension's listener with it (htmx-ext-sse 2.2.4 does
not re-register a row that replaced itself). */}}
{{define "device-row"}}<tr id="device-{{.Device.ID}}" sse-swap="device-{{.Device.ID}}" hx-swap="innerHTML">{{template "device-cells" .}}</tr>{{end}}
{{define "device-cells"}}{{with .Device}}<td><a href="/dashboard/t/{{$.Slug}}/devices/{{.ID}}">{{if .Name}}{{.Name}}{{else}}{{.Identifier}}{{end}}</a></td>
<td>{{.Platform}}</td><td class="wide">{{.Model}}</td><td class="wide">{{.OSVersion}}</td>
<td class="status-{{.Status}}">{{.Status}}</td><td><time datetime="{{iso .LastSeenAt}}">{{ago .LastSeenAt}}</time></td>{{end}}{{end}}

{{define "device-rows"}}{{range .Devices}}{{template "device-row" (row $.Tenant.Slug .)}}
{{else}}<tr><td colspan="6">No devices match.</td></tr>{{end}}
{{if .Next}}<tr id="more"><td colspan="6"><a href="{{.Next}}" hx-get="{{.Next}}" hx-target="#more" hx-swap="outerHTML">More devices</a></td></tr>{{end}}{{end}}

{{define "device-content"}}<div{{if .Live}} hx-ext="sse" sse-connect="{{.Live}}"{{end}}>
<p><a href="/dashboard/t/{{.Tenant.Slug}}/devices">← Devices</a></p>
<h1>{{if .Device.Name}}{{.Device.Name}}{{else}}{{.Device.Identifier}}{{end}}</h1>
<table id="device-summary"><tbody>{{template "device-row" (row .Tenant.Slug .Device)}}</tbody></table>
<h2>Facts</h2>
<dl class="facts"><dt>Identifier</dt><dd>{{.Device.Identifier}}</dd><dt>Serial number</dt><dd>{{.Device.SerialNumber}}</dd>
{{range .Facts}}<dt>{{.Name}}</dt><dd>{{.Value}}</dd>{{end}}</dl>
{{if .Identities}}<h2 id="identity">Identity certificate</h2>
<table aria-labelledby="identity"><thead><tr><th scope="col">Serial</th><th scope="col">Expires</th><th scope="col">State</th></tr></thead>
<tbody>{{range .Identities}}<tr><td><code>{{.Serial}}</code></td><td>{{.NotAfter.Format "2006-01-02"}}</td>
<td>{{if .RevokedAt}}<span class="bad">revoked</span>{{else if .Expired}}<span class="muted">expired</span>{{else if .RenewalOf}}current (a renewal){{else}}current{{end}}</td></tr>{{end}}</tbody></table>{{end}}
{{if .HasCompliance}}<h2 id="compliance">Compliance</h2>
<table aria-labelledby="compliance"><thead><tr><th scope="col">Rule</th><th scope="col">Result</th><th scope="col" class="wide">Detail</th><th scope="col" class="wide">Since</th></tr></thead>
<tbody>{{range .Compliance}}<tr><td>{{.Rule.Name}}{{if not .Rule.Enabled}} <span class="muted">(off)</span>{{end}}</td>
{{with .Result}}<td>{{if .Compliant}}<span class="ok">compliant</span>{{else}}<span class="bad">not compliant</span>{{end}}</td><td class="wide">{{.Detail}}</td><td class="wide">{{since .ChangedAt}}</td>
{{else}}<td class="muted">not evaluated</td><td class="wide"></td><td class="wide"></td>{{end}}</tr>
{{else}}<tr><td colspan="4">The tenant has no compliance rules.</td></tr>{{end}}</tbody></table>{{end}}
<h2>Commands</h2>
{{if .CanSend}}<form id="composer" hx-post="/dashboard/t/{{.Tenant.Slug}}/devices/{{.Device.ID}}/commands" hx-target="#command-rows" hx-swap="afterbegin">
<label for="kind">Command <select id="kind" name="kind" required><option value="">Choose…</option>
{{range .Kinds}}<option value="{{.Name}}">{{.Name}}{{if .Destructive}} (destructive){{end}}</option>{{end}}</select></label>
<label for="payload">Payload (JSON, optional) <textarea id="payload" name="payload" rows="2" cols="40" spellcheck="false"></textarea></label>
<label class="confirm"><span><input type="checkbox" name="confirm" value="yes"> I understand a destructive command cannot be undone</span></label>
<button type="submit">Send</button> <span id="composer-status" role="status" aria-live="polite"></span></form>{{end}}
<table><thead><tr><th scope="col">Command</th><th scope="col">Status</th><th scope="col" class="wide">Queued</th><th scope="col">Result</th></tr></thead>
<tbody id="command-rows">{{range .Commands}}{{template "command-row" .}}{{end}}</tbody></table></div>{{end}}

{{define "command-row"}}<tr id="command-{{.ID}}" sse-swap="command-{{.ID}}" hx-swap="innerHTML">{{template "command-cells" .}}</tr>{{end}}
{{define "command-cells"}}<td>{{.Kind}}</td>
<td class="command-{{.Status}}" data-status="{{.Status}}">{{.Status}}{{if gt .Attempts 1}} ({{.Attempts}} attempts){{end}}</td>
<td class="wide"><time datetime="{{.CreatedAt.UTC.Format "2006-01-02T15:04:05Z07:00"}}">{{since .CreatedAt}}</time> by {{.CreatedBy}}</td>
<td>{{if .Error}}<span class="bad">{{.Error}}</span>{{else if .Result}}<details><summary>Result</summary><pre>{{printf "%s" .Result}}</pre></details>{{end}}</td>{{end}}

{{define "composer-error"}}<span class="bad" role="alert">{{.}}</span>{{end}}
{{define "composer-ok"}}<span role="status">{{.}}</span>{{end}}

{{define "overview-content"}}<h1>{{.Tenant.Name}}</h1>
<ul class="cards stats">
<li><div class="muted">Devices</div><div class="big">{{.Summary.Total}}</div>
<div class="muted">{{.Enrolled}} enrolled{{with .Unenrolled}}, {{.}} unenrolled{{end}}</div></li>
<li><div class="muted">By platform</div>{{range .Platforms}}<div>{{.}}: <strong>{{index $.Summary.ByPlatform .}}</strong></div>{{end}}</li>
<li><div class="muted">Compliance</div><div{{if .Evaluated}} class="big"{{end}}>{{.Rate}}</div>
<div class="muted">{{.Standing.Compliant}} compliant, {{.Standing.NonCompliant}} not, {{.Standing.Unevaluated}} not evaluated</div></li>
</ul>
<h2 id="checkins">Enrolled devices by last check-in</h2>
<svg class="chart" viewBox="0 0 360 160" role="img" aria-labelledby="checkins" aria-describedby="checkins-desc">
<desc id="checkins-desc">{{.ChartDesc}}</desc>
<line x1="0" y1="130" x2="360" y2="130" class="axis"/>
{{range .Bars}}<g><title>{{.Label}}: {{.Value}}</title><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" class="bar"/>
<text x="{{.LabelX}}" y="{{.TextY}}" text-anchor="middle" class="value">{{.Value}}</text>
<text x="{{.LabelX}}" y="148" text-anchor="middle" class="label">{{.Label}}</text></g>{{end}}</svg>
{{if .HasCompliance}}<div class="charts"><figure><h2 id="compliance-trend">Compliance over the last 14 days</h2>
{{if .HasHistory}}<svg class="chart" viewBox="0 0 360 160" role="img" aria-labelledby="compliance-trend" aria-describedby="trend-desc">
<desc id="trend-desc">{{.History.RateDesc}}</desc>
<line x1="0" y1="130" x2="360" y2="130" class="axis"/><line x1="0" y1="25" x2="360" y2="25" class="grid"/>
<text x="2" y="21" class="label">100%</text><text x="2" y="126" class="label">0%</text>
{{range .History.Lines}}<polyline points="{{.}}" class="trend"/>{{end}}
{{range .History.Dots}}<circle cx="{{.X}}" cy="{{.Y}}" r="3" class="trend-dot"><title>{{.Label}}: {{.Text}}</title></circle>{{end}}
{{range .History.DayTicks}}{{if .Label}}<text x="{{.X}}" y="148" text-anchor="middle" class="label">{{.Label}}</text>{{end}}{{end}}</svg>
{{else}}<p class="muted">No history yet: Trident records the fleet's standing every hour.</p>{{end}}</figure>
<figure><h2 id="checkins-hourly">Check-ins by hour (UTC)</h2>
{{if .HasHistory}}<svg class="chart" viewBox="0 0 360 160" role="img" aria-labelledby="checkins-hourly" aria-describedby="hourly-desc">
<desc id="hourly-desc">{{.History.HourlyDesc}}</desc>
<line x1="0" y1="130" x2="360" y2="130" class="axis"/>
{{range .History.Hourly}}<g><title>{{.Label}}: {{.Value}}</title><rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" class="bar"/>
{{if .Tick}}<text x="{{.LabelX}}" y="148" text-anchor="middle" class="label">{{.Tick}}</text>{{end}}</g>{{end}}</svg>
{{else}}<p class="muted">No history yet.</p>{{end}}</figure></div>{{end}}
<p><a href="/dashboard/t/{{.Tenant.Slug}}/devices">All devices →</a></p>{{end}}

{{define "audit-content"}}<h1>Audit log</h1>
<table><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Did</th><th scope="col" class="wide">On</th><th scope="col">Status</th></tr></thead>
<tbody>{{range .Entries}}<tr><td><time datetime="{{.At.UTC.Format "2006-01-02T15:04:05Z07:00"}}">{{since .At}}</time></td>
<td>{{if .ActorName}}{{.ActorName}}{{else}}{{.Actor}}{{end}}</td><td>{{.Action}}</td><td class="wide"><code>{{.Target}}</code></td><td>{{.Status}}</td></tr>
{{else}}<tr><td colspan="5">Nothing recorded yet.</td></tr>{{end}}</tbody></table>
{{if .Older}}<p><a href="{{.Older}}">Older entries</a></p>{{end}}{{end}}

{{define "enroll-content"}}<h1>Enrollment</h1>{{template "flash" .}}
<h2 id="apple">Apple: iPhone, iPad, Mac</h2>
{{if .HasApple}}{{if .IsAdmin}}<div class="panel"><h3>Push certificate</h3>
{{with .Push}}<p{{if $.PushSoon}} class="{{if $.PushExpired}}bad{{else}}warn{{end}}"{{end}}>Topic <code>{{.Topic}}</code>, {{if $.PushExpired}}expired{{else}}valid until{{end}}
<time datetime="{{.NotAfter.UTC.Format "2006-01-02T15:04:05Z07:00"}}">{{.NotAfter.UTC.Format "2006-01-02"}}</time>.
{{if $.PushSoon}}Renew it with the same Apple ID at Apple's Push Certificates Portal, or devices stop getting commands.{{end}}</p>
{{else}}{{if .PushUnknown}}<p class="bad">The push certificate cannot be read right now.</p>{{else}}<p class="warn">No push certificate yet: Apple devices cannot enroll until there is one.</p>{{end}}{{end}}
<ol><li><form class="inline" method="post" action="/dashboard/t/{{.Tenant.Slug}}/enroll/apple/push/request">{{template "csrf" .Session}}<button type="submit" class="secondary">Download a certificate request</button></form>
and upload it at <a href="https://identity.apple.com/pushcert/" rel="noopener">Apple's Push Certificates Portal</a> ({{if .Push}}choose <strong>Renew</strong> on the existing certificate to keep its topic{{else}}create a certificate{{end}}).</li>
<li><form class="stacked" method="post" enctype="multipart/form-data" action="/dashboard/t/{{.Tenant.Slug}}/enroll/apple/push">{{template "csrf" .Session}}
<label for="push-cert">The certificate Apple issued (.pem) <input id="push-cert" name="certificate" type="file" accept=".pem,.crt,.cer" required></label>
<label for="push-key">Its private key (.pem), only if you made the request elsewhere <input id="push-key" name="private_key" type="file" accept=".pem,.key"></label>
<label class="confirm"><span><input type="checkbox" name="replace_topic" value="yes"> Accept a new topic: devices enrolled under the old one must re-enroll</span></label>
<button type="submit">Upload the certificate</button></form></li></ol></div>{{end}}
<p>Install the enrollment profile on the device (AirDrop, mail or a download in Safari), then approve it in Settings. Each download
enrolls one device. Company-owned devices in Apple Business Manager enroll themselves at setup: see <a href="/dashboard/t/{{.Tenant.Slug}}/abm">ABM</a>.</p>
{{if .IsOperator}}<form method="post" action="/dashboard/t/{{.Tenant.Slug}}/enroll/apple/profile">{{template "csrf" .Session}}<button type="submit">Download an enrollment profile</button></form>{{end}}
{{else}}<p class="muted">Apple management is not configured on this server.</p>{{end}}

<h2 id="windows">Windows 10 and 11</h2>
<p>On the PC: Settings › Accounts › Access work or school › <strong>Enroll only in device management</strong>. Enter the user's
email; if Windows asks for a server, enter <code>{{.Links.Server}}</code>; the password is a one-time enrollment token.
Register <code>enterpriseenrollment.</code><em>your domain</em> as a tenant hostname and Windows finds the server from the email alone.</p>
{{if .CanEnroll}}<form hx-post="/dashboard/t/{{.Tenant.Slug}}/enroll/windows" hx-target="#windows-token" hx-swap="innerHTML">
<label for="email">User's email (optional) <input id="email" name="email" type="email" autocomplete="off"></label>
<button type="submit">Make a token</button></form>
<div id="windows-token" aria-live="polite"></div>{{end}}
<p class="muted">Discovery service: <code>{{.Links.DiscoveryURL}}</code></p>

<h2 id="android">Android</h2>
{{if .HasAndroid}}{{with .Enterprise}}{{if eq .Status "bound"}}<p class="ok">Bound to the Android enterprise {{if .DisplayName}}{{.DisplayName}}{{else}}{{.Name}}{{end}}.</p>
{{else}}<p class="warn">No Android enterprise is bound{{if eq .Status "signing_up"}} yet: a sign-up was started{{end}}.</p>
{{if $.IsAdmin}}<form class="stacked" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/enroll/android/signup">{{template "csrf" $.Session}}
<label for="android-admin">The organization's Google admin email (optional) <input id="android-admin" name="admin_email" type="email"></label>
<button type="submit">Sign up with Google</button></form>{{end}}{{end}}{{end}}
{{if .IsOperator}}{{if .Policies}}<form class="stacked" method="post" action="/dashboard/t/{{.Tenant.Slug}}/enroll/android/tokens">{{template "csrf" .Session}}
<label for="android-policy">Policy for the devices <select id="android-policy" name="policy" required>{{range .Policies}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</select></label>
<label for="android-days">Valid for (days) <input id="android-days" name="days" type="number" min="1" max="90" value="30" required></label>
<label class="confirm"><span><input type="checkbox" name="one_time" value="yes"> One device only</span></label>
<button type="submit">Make an enrollment token</button></form>
{{else}}<p class="muted">Publish an Android policy first (<a href="/dashboard/t/{{.Tenant.Slug}}/profiles">Profiles</a>); enrollment tokens are made for a policy.</p>{{end}}
<p>At a new or factory-reset device's welcome screen, tap six times and scan the QR code; or enter <code>afw#setup</code> as the Google account and then the token.</p>
<ul class="cards">{{range .AndroidTokens}}<li><img class="qr" src="/dashboard/t/{{$.Tenant.Slug}}/enroll/android/tokens/{{.ID}}/qr.png" alt="QR code of enrollment token {{.Value}}" width="192" height="192">
<div>Token <code>{{.Value}}</code>{{if .OneTime}} (one device){{end}}</div><div class="muted">until {{.ExpiresAt.UTC.Format "2006-01-02 15:04 UTC"}}</div>
<form method="post" action="/dashboard/t/{{$.Tenant.Slug}}/enroll/android/tokens/{{.ID}}/revoke">{{template "csrf" $.Session}}<button class="danger" type="submit">Revoke</button></form></li>{{end}}</ul>{{end}}
{{else}}<p class="muted">Android management is not configured on this server.</p>{{end}}{{end}}

{{define "windows-token"}}<p>Token (shown once, valid until <time datetime="{{.Expires.UTC.Format "2006-01-02T15:04:05Z07:00"}}">{{.Expires.UTC.Format "2006-01-02 15:04 UTC"}}</time>, one device):</p>
<p><code id="token-value">{{.Token}}</code></p>
<p>Or open this link on the PC: <a id="deep-link" href="{{.DeepLink}}">enroll in {{.Server}}</a></p>{{end}}

{{define "signed-out"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Signed out · Trident</title>
<link rel="stylesheet" href="/dashboard/assets/style.css"></head>
<body><main><h1>Signed out</h1><p><a href="/dashboard/login">Sign in again</a></p></main></body></html>{{end}}

{{define "error"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Trident</title>
<link rel="stylesheet" href="/dashboard/assets/style.css"></head>
<body><main><h1>Trident</h1><p class="error" role="alert">{{.}}</p><p><a href="/dashboard/">Back to the dashboard</a></p></main></body></html>{{end}}` + adminTemplates))

// layouts holds each page: the layout with its content, made before any
// template runs (html/template cannot clone a template that has run).
var layouts = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, content := range []string{"home-content", "devices-content", "device-content", "overview-content", "audit-content", "enroll-content",
		"rules-content", "profiles-content", "abm-content", "webhooks-content", "webhook-content", "settings-content"} {
		t := template.Must(pages.Clone())
		template.Must(t.New("content").Parse(`{{template "` + content + `" .}}`))
		out[content] = t
	}
	return out
}()

// page renders content inside the layout.
func (d *Dashboard) page(w http.ResponseWriter, r *http.Request, content string, data map[string]any) {
	d.pageStatus(w, r, http.StatusOK, content, data)
}

// pageStatus renders content inside the layout, answering code.
func (d *Dashboard) pageStatus(w http.ResponseWriter, r *http.Request, code int, content string, data map[string]any) {
	t, ok := layouts[content]
	if !ok {
		d.log.ErrorContext(r.Context(), "dashboard: no page", "content", content)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	data["Session"] = sessionFrom(r.Context())
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

func (d *Dashboard) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
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

// visibleTenants lists the tenants the person has a role in.
func (d *Dashboard) visibleTenants(r *http.Request, p *identity.Principal) ([]tenantCard, error) {
	ctx := r.Context()
	seen := map[uuid.UUID]bool{}
	var out []tenantCard
	add := func(t tenancy.Tenant) {
		if role, ok := p.RoleIn(t); ok && !seen[t.ID] {
			seen[t.ID] = true
			out = append(out, tenantCard{Tenant: t, Role: role})
		}
	}
	for _, slug := range p.MSPAdmin {
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
		for _, t := range ts {
			add(t)
		}
	}
	for _, g := range p.Grants {
		t, err := d.dir.TenantBySlug(ctx, g.Tenant)
		if errors.Is(err, tenancy.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		add(t) // only if the tenant of that slug is in the grant's MSP
	}
	slices.SortFunc(out, func(a, b tenantCard) int {
		return strings.Compare(strings.ToLower(a.Tenant.Name), strings.ToLower(b.Tenant.Name))
	})
	return out, nil
}

// maxCounted bounds the tenants whose devices the home page counts (one
// transaction each: row-level security has no cross-tenant read).
const maxCounted = 100

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	ts, err := d.visibleTenants(r, s.principal())
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard home", "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The tenant directory is unavailable; try again in a moment.")
		return
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
	d.page(w, r, "home-content", map[string]any{"Title": "Tenants", "Tenants": ts})
}

// tenant resolves the path's tenant and the person's role in it: another
// tenant's data is a 404 page, whatever the URL says.
func (d *Dashboard) tenant(w http.ResponseWriter, r *http.Request, min identity.Role) (tenancy.Tenant, bool) {
	t, err := d.dir.TenantBySlug(r.Context(), r.PathValue("tenant"))
	if err == nil {
		if role, ok := sessionFrom(r.Context()).principal().RoleIn(t); ok && role.AtLeast(min) {
			return t, true
		}
	} else if !errors.Is(err, tenancy.ErrNotFound) {
		d.errorPage(w, r, http.StatusServiceUnavailable, "The tenant directory is unavailable; try again in a moment.")
		return tenancy.Tenant{}, false
	}
	d.errorPage(w, r, http.StatusNotFound, "There is no such tenant, or your account has no role in it.")
	return tenancy.Tenant{}, false
}

const pageSize = 50

func (d *Dashboard) devices(w http.ResponseWriter, r *http.Request) {
	t, ok := d.tenant(w, r, identity.Viewer)
	if !ok {
		return
	}
	qv := r.URL.Query()
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
	if key, id, ok := strings.Cut(qv.Get("after"), "|"); ok {
		if u, err := uuid.Parse(id); err == nil {
			q.AfterKey, q.AfterID = key, u
		}
	}
	full := r.Header.Get("HX-Request") == ""
	var live string
	if full {
		live = d.liveURL(r.Context(), t)
	}
	role, _ := sessionFrom(r.Context()).principal().RoleIn(t)
	var p inventory.Page
	var groups []inventory.Group
	err := d.db.ReadWithin(tenancy.WithTenant(r.Context(), t.ID), func(ctx context.Context) error {
		var err error
		if p, err = d.inv.List(ctx, q); err != nil {
			return err
		}
		if full {
			groups, err = d.inv.Groups(ctx)
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
	data := map[string]any{"Title": "Devices · " + t.Name, "Tenant": t, "Query": q, "Devices": p.Devices, "Live": live,
		"Groups": groups, "GroupKinds": commandable("", role), "IsAdmin": role.AtLeast(identity.Admin),
		"CanGroupSend": d.opts.Jobs != nil && role.AtLeast(identity.Operator), "IsOperator": role.AtLeast(identity.Operator),
		"ComplianceFilters": []string{"compliant", "noncompliant", "unevaluated"},
		"Platforms":         []inventory.Platform{inventory.Apple, inventory.Windows, inventory.Android}}
	if len(p.Devices) > pageSize {
		last := pageSize - 1
		next := url.Values{"after": {p.Keys[last] + "|" + p.Devices[last].ID.String()}}
		if q.Search != "" {
			next.Set("q", q.Search)
		}
		if q.Platform != "" {
			next.Set("platform", string(q.Platform))
		}
		if q.Compliance != "" {
			next.Set("compliance", q.Compliance)
		}
		if q.Group != uuid.Nil {
			next.Set("group", q.Group.String())
		}
		data["Devices"] = p.Devices[:pageSize]
		data["Next"] = "/dashboard/t/" + t.Slug + "/devices?" + next.Encode()
	}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Boosted") == "" {
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
