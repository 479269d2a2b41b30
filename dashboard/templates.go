package dashboard

// adminTemplates are the tenant's setup pages: compliance rules, profiles,
// enrollment of Apple and Android devices, ABM tokens, webhooks and
// settings. pages.go parses them with the layout.
const adminTemplates = `
{{define "flash"}}{{with .Notice}}<p class="panel ok" role="status">{{.}}</p>{{end}}{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}{{end}}
{{define "csrf"}}<input type="hidden" name="csrf" value="{{.CSRF}}">{{end}}

{{define "rules-content"}}<h1>Compliance</h1>{{template "flash" .}}
<p>{{.Standing.Compliant}} enrolled devices comply with every rule, {{.Standing.NonCompliant}} fail at least one,
{{.Standing.Unevaluated}} are not evaluated yet. Devices are evaluated when they report and whenever a rule changes.</p>
<table><caption class="muted">Rules of {{.Tenant.Name}}</caption>
<thead><tr><th scope="col">Rule</th><th scope="col">Checks</th><th scope="col" class="wide">Platform</th><th scope="col" class="wide">Remediation</th><th scope="col">State</th>{{if .IsAdmin}}<th scope="col"><span class="muted">Change</span></th>{{end}}</tr></thead>
<tbody>{{range .Rules}}<tr id="rule-{{.ID}}"><td>{{.Name}}</td><td>{{ruleText .}}</td><td class="wide">{{if .Platform}}{{.Platform}}{{else}}all{{end}}</td>
<td class="wide">{{with .Remediation.Command}}{{.}}{{else}}<span class="muted">none</span>{{end}}</td><td>{{if .Enabled}}<span class="ok">on</span>{{else}}<span class="muted">off</span>{{end}}</td>
{{if $.IsAdmin}}<td><form class="inline" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/compliance/rules/{{.ID}}">{{template "csrf" $.Session}}
{{if .Enabled}}<button class="secondary" name="action" value="off">Turn off</button>{{else}}<button class="secondary" name="action" value="on">Turn on</button>{{end}}
<button class="danger" name="action" value="delete" aria-label="Delete {{.Name}}">Delete</button></form></td>{{end}}</tr>
{{else}}<tr><td colspan="6">No rules yet: every device counts as not evaluated.</td></tr>{{end}}</tbody></table>
{{if .IsAdmin}}<h2 id="new-rule">New rule</h2>
<form class="stacked" method="post" action="/dashboard/t/{{.Tenant.Slug}}/compliance/rules" aria-labelledby="new-rule">{{template "csrf" .Session}}
<label for="rule-name">Name <input id="rule-name" name="name" required maxlength="200" value="{{.Form.name}}"></label>
<label for="rule-kind">Checks <select id="rule-kind" name="kind" required><option value="">Choose…</option>
{{range .RuleKinds}}<option value="{{.Kind}}"{{if eq (print .Kind) $.Form.kind}} selected{{end}}>{{.Text}}{{with .Param}} (needs {{.}}){{end}}</option>{{end}}</select></label>
<label for="rule-version">Version (for “OS version at least”) <input id="rule-version" name="version" placeholder="17.4" value="{{.Form.version}}"></label>
<label for="rule-hours">Hours (for “checked in within”) <input id="rule-hours" name="hours" inputmode="numeric" value="{{.Form.hours}}"></label>
<label for="rule-identifier">App identifier (for app rules) <input id="rule-identifier" name="identifier" placeholder="com.example.vpn" value="{{.Form.identifier}}"></label>
<label for="rule-platform">Platform <select id="rule-platform" name="platform"><option value="">All</option>
{{range .Platforms}}<option value="{{.}}"{{if eq (print .) $.Form.platform}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<label for="rule-remediation">When a device fails it, send <select id="rule-remediation" name="remediation"><option value="">nothing (report only)</option>
{{range .Remediations}}<option value="{{.Name}}"{{if eq .Name $.Form.remediation}} selected{{end}}>{{.Name}}{{if .Destructive}} (destructive){{end}}</option>{{end}}</select></label>
<label class="confirm"><span><input type="checkbox" name="confirm" value="yes"> A destructive remediation cannot be undone, and I mean it</span></label>
<button type="submit">Save the rule</button></form>{{end}}{{end}}

{{define "profiles-content"}}<h1>Profiles</h1>{{template "flash" .}}
<p>Apple configuration profiles and Windows settings go to devices as commands: install one on a group here, or send
<code>install_profile</code> or <code>apply_settings</code> from a device's page or the <a href="/dashboard/t/{{.Tenant.Slug}}/devices">device list</a>'s group composer.</p>
{{if .CanInstall}}<h2 id="install">Install a configuration profile on a group</h2>
{{if .Groups}}<form class="stacked" method="post" enctype="multipart/form-data" action="/dashboard/t/{{.Tenant.Slug}}/profiles/install" aria-labelledby="install">{{template "csrf" .Session}}
<label for="profile-file">Configuration profile (.mobileconfig, up to 1 MiB) <input id="profile-file" name="profile" type="file" accept=".mobileconfig,.plist" required></label>
<label for="profile-group">Group <select id="profile-group" name="group" required><option value="">Choose…</option>{{range .Groups}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</select></label>
<button type="submit">Install on the group's Apple devices</button></form>
{{else}}<p class="muted">The tenant has no groups yet; make them with the API (<code>POST /v1/tenants/{{.Tenant.Slug}}/groups</code>).</p>{{end}}{{end}}
<h2 id="ade">Automated Device Enrollment profiles (Apple)</h2>
{{if .HasDEP}}<table aria-labelledby="ade"><thead><tr><th scope="col">Name</th><th scope="col">Settings</th><th scope="col" class="wide">Updated</th></tr></thead>
<tbody>{{range .ADE}}<tr><td>{{.Name}}</td><td><details><summary>Show</summary><pre>{{json .Settings}}</pre></details></td><td class="wide">{{since .UpdatedAt}}</td></tr>
{{else}}<tr><td colspan="3">No ADE profiles yet.</td></tr>{{end}}</tbody></table>{{else}}<p class="muted">Apple Business Manager is not configured on this server.</p>{{end}}
<h2 id="policies">Android policies</h2>
{{if .HasAndroid}}<table aria-labelledby="policies"><thead><tr><th scope="col">Name</th><th scope="col">Published</th><th scope="col">Settings</th></tr></thead>
<tbody>{{range .Policies}}<tr><td>{{.Name}}</td><td>{{if .PublishError}}<span class="bad">{{.PublishError}}</span>{{else if .PublishedAt}}<span class="ok">version {{.Version}}</span>, {{ago .PublishedAt}}{{else}}<span class="warn">not yet</span>{{end}}</td>
<td><details><summary>Show</summary><pre>{{.JSON}}</pre></details></td></tr>
{{else}}<tr><td colspan="3">No Android policies yet.</td></tr>{{end}}</tbody></table>{{else}}<p class="muted">Android management is not configured on this server.</p>{{end}}
<p class="muted">ADE profiles and Android policies are written with the API (see <a href="/docs">the API docs</a>).</p>{{end}}

{{define "abm-content"}}<h1>Apple Business Manager</h1>{{template "flash" .}}
<p>Company-owned Apple devices assigned to Trident's MDM server in Apple Business Manager enroll themselves during setup, with the ADE profile the token gives them.</p>
{{range .Tokens}}<div class="panel" id="token-{{.ID}}"><h2>{{.Label}}</h2>
<p class="{{if eq .Status "active"}}ok{{else if eq .Status "expiring"}}warn{{else}}bad{{end}}">{{.Status}}{{with .StatusDetail}}: {{.}}{{end}}</p>
<dl class="facts">{{with .Account}}<dt>Organization</dt><dd>{{.OrgName}}</dd><dt>MDM server</dt><dd>{{.ServerName}}</dd>{{end}}
<dt>Devices</dt><dd>{{.Devices}}</dd><dt>Server token expires</dt><dd>{{with .AccessTokenExpiry}}{{.UTC.Format "2006-01-02"}}{{else}}not uploaded{{end}}</dd>
<dt>Last sync</dt><dd>{{if .SyncedAt}}{{ago .SyncedAt}}{{else}}never{{end}}{{with .SyncError}} <span class="bad">({{.}})</span>{{end}}</dd></dl>
{{if $.IsOperator}}<form class="inline" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/abm/tokens/{{.ID}}">{{template "csrf" $.Session}}<button class="secondary" name="action" value="sync">Sync now</button></form>{{end}}
{{if $.IsAdmin}}<ol><li><a href="/dashboard/t/{{$.Tenant.Slug}}/abm/tokens/{{.ID}}/certificate">Download the public key</a> and upload it in Apple Business Manager (Preferences › your MDM server).</li>
<li><form class="stacked" method="post" enctype="multipart/form-data" action="/dashboard/t/{{$.Tenant.Slug}}/abm/tokens/{{.ID}}/server-token">{{template "csrf" $.Session}}
<label for="server-token-{{.ID}}">The server token ABM gives you (.p7m){{if .AccessTokenExpiry}}: a newer one renews it{{end}} <input id="server-token-{{.ID}}" name="server_token" type="file" accept=".p7m" required></label>
<button type="submit">Upload the server token</button></form></li></ol>
<form class="stacked" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/abm/tokens/{{.ID}}">{{template "csrf" $.Session}}<input type="hidden" name="action" value="profile">
<label for="token-profile-{{.ID}}">ADE profile for new devices <select id="token-profile-{{.ID}}" name="profile"><option value="">None (assign by hand)</option>
{{$p := .ProfileID}}{{range $.Profiles}}<option value="{{.ID}}"{{if and $p (eq .ID (deref $p))}} selected{{end}}>{{.Name}}</option>{{end}}</select></label>
<button type="submit" class="secondary">Save</button></form>
<form method="post" action="/dashboard/t/{{$.Tenant.Slug}}/abm/tokens/{{.ID}}">{{template "csrf" $.Session}}<button class="danger" name="action" value="delete" aria-label="Delete token {{.Label}}">Delete the token</button></form>{{end}}</div>
{{else}}<p>No ABM tokens yet.</p>{{end}}
{{if .IsAdmin}}<h2 id="new-token">Connect an MDM server</h2>
<form class="stacked" method="post" action="/dashboard/t/{{.Tenant.Slug}}/abm/tokens" aria-labelledby="new-token">{{template "csrf" .Session}}
<label for="token-label">Label <input id="token-label" name="label" required maxlength="200" value="{{.Label}}" placeholder="Main ABM account"></label>
<button type="submit">Make a token</button></form>{{end}}{{end}}

{{define "webhooks-content"}}<h1>Webhooks</h1>{{template "flash" .}}
{{with .Created}}<div class="panel ok" role="status"><p>The webhook to <code>{{.URL}}</code> is made. Its signing secret, shown only now:</p>
<p><code id="webhook-secret">{{.Secret}}</code></p><p class="muted">Each delivery carries <code>Trident-Signature: t=&lt;unix&gt;,v1=&lt;hex HMAC-SHA256(secret, t + "." + body)&gt;</code>.</p></div>{{end}}
<table><thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col" class="wide">Description</th><th scope="col">State</th></tr></thead>
<tbody>{{range .Webhooks}}<tr><td><a href="/dashboard/t/{{$.Tenant.Slug}}/webhooks/{{.ID}}">{{.URL}}</a></td><td>{{range $i, $k := .EventKinds}}{{if $i}}, {{end}}<code>{{$k}}</code>{{end}}</td>
<td class="wide">{{.Description}}</td><td>{{if .Active}}<span class="ok">active</span>{{else}}<span class="muted">paused</span>{{end}}</td></tr>
{{else}}<tr><td colspan="4">No webhooks yet.</td></tr>{{end}}</tbody></table>
<h2 id="new-webhook">New webhook</h2>
<form class="stacked" method="post" action="/dashboard/t/{{.Tenant.Slug}}/webhooks" aria-labelledby="new-webhook">{{template "csrf" .Session}}
<label for="webhook-url">URL (https) <input id="webhook-url" name="url" type="url" required maxlength="2000" value="{{.Form.url}}" placeholder="https://example.com/trident"></label>
<label for="webhook-kinds">Event kinds: exact (<code>device.enrolled</code>), a prefix ending in a dot (<code>device.</code>), or <code>*</code> <input id="webhook-kinds" name="kinds" required value="{{.Form.kinds}}"></label>
<label for="webhook-description">Description <input id="webhook-description" name="description" maxlength="500" value="{{.Form.description}}"></label>
<button type="submit">Create the webhook</button></form>{{end}}

{{define "webhook-content"}}<p><a href="/dashboard/t/{{.Tenant.Slug}}/webhooks">← Webhooks</a></p>
{{with .Webhook}}<h1>{{.URL}}</h1>{{template "flash" $}}
<p>{{if .Active}}<span class="ok">Active</span>{{else}}<span class="muted">Paused</span>{{end}} · events {{range $i, $k := .EventKinds}}{{if $i}}, {{end}}<code>{{$k}}</code>{{end}}{{with .Description}} · {{.}}{{end}}</p>
<form class="inline" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/webhooks/{{.ID}}">{{template "csrf" $.Session}}
<button class="secondary" name="action" value="ping">Send a test event</button>
{{if .Active}}<button class="secondary" name="action" value="pause">Pause</button>{{else}}<button class="secondary" name="action" value="resume">Resume</button>{{end}}
<button class="danger" name="action" value="delete">Delete</button></form>{{end}}
<h2>Latest deliveries</h2>
<table><thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col" class="wide">Last answer</th><th scope="col">When</th></tr></thead>
<tbody>{{range .Deliveries}}<tr><td><code>{{.EventKind}}</code></td><td class="{{if eq .Status "delivered"}}ok{{else if eq .Status "failed"}}bad{{else}}warn{{end}}">{{.Status}}</td>
<td>{{.Attempts}}</td><td class="wide">{{with .LastStatusCode}}HTTP {{.}}{{end}} {{.LastError}}</td><td>{{since .CreatedAt}}</td></tr>
{{else}}<tr><td colspan="5">No deliveries yet.</td></tr>{{end}}</tbody></table>{{end}}

{{define "settings-content"}}<h1>Settings</h1>{{template "flash" .}}
<h2 id="tenant-name">Name</h2>
<form class="stacked" method="post" action="/dashboard/t/{{.Tenant.Slug}}/settings/name" aria-labelledby="tenant-name">{{template "csrf" .Session}}
<label for="name">Display name <input id="name" name="name" required maxlength="200" value="{{.Tenant.Name}}"></label>
<button type="submit">Save</button></form>
<p class="muted">Slug <code>{{.Tenant.Slug}}</code> · MSP <code>{{.Tenant.MSPSlug}}</code> · status {{.Tenant.Status}}. Suspending a tenant is for MSP admins, in the API.</p>
<h2 id="hostnames">Hostnames</h2>
<p>Devices reach the tenant at <code>{{.Platform.Name}}</code>{{if .Custom}} and at its verified custom hostnames{{end}}.
A custom hostname serves devices once the tenant proves it controls the name: publish the TXT record shown, then check it.</p>
{{if .Custom}}<table aria-labelledby="hostnames">
<thead><tr><th scope="col">Hostname</th><th scope="col">State</th><th scope="col">DNS record to publish</th><th scope="col"><span class="muted">Change</span></th></tr></thead>
<tbody>{{range .Custom}}<tr id="hostname-{{.Name}}"><td><code>{{.Name}}</code></td>
<td>{{if .Verified}}<span class="ok">verified</span>{{else}}<span class="warn">pending</span>{{with .CheckError}}<br><span class="muted">{{.}}</span>{{end}}{{end}}</td>
<td>{{if .Verified}}<span class="muted">keep it while the name is in use</span>{{else}}<code>{{.RecordName}}</code> TXT <code>{{.RecordValue}}</code>{{end}}</td>
<td>{{if not .Verified}}<form class="inline" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/settings/hostnames/verify">{{template "csrf" $.Session}}
<input type="hidden" name="hostname" value="{{.Name}}"><button type="submit" aria-label="Check DNS for {{.Name}} now">Check now</button></form> {{end}}<form class="inline" method="post" action="/dashboard/t/{{$.Tenant.Slug}}/settings/hostnames/remove">{{template "csrf" $.Session}}
<input type="hidden" name="hostname" value="{{.Name}}"><button class="link" type="submit" aria-label="Remove {{.Name}}">remove</button></form></td></tr>{{end}}</tbody></table>{{end}}
<form class="stacked" method="post" action="/dashboard/t/{{.Tenant.Slug}}/settings/hostnames" aria-labelledby="hostnames">{{template "csrf" .Session}}
<label for="hostname">Custom hostname (e.g. <code>enterpriseenrollment.example.com</code> for Windows discovery) <input id="hostname" name="hostname" required value="{{.NewHostname}}"></label>
<button type="submit">Register</button></form>
<h2>Windows federated enrollment</h2>
{{with .Federation}}<p>Users of <code>{{.Issuer}}</code> (client <code>{{.ClientID}}</code>){{if .AllowedDomains}} with emails at {{range $i, $d := .AllowedDomains}}{{if $i}}, {{end}}{{$d}}{{end}}{{end}} enroll Windows devices by signing in.</p>
{{else}}<p class="muted">Off: Windows devices enroll with one-time tokens. Set up the customer's identity provider with the API (<code>PUT /v1/tenants/{{.Tenant.Slug}}/windows/federation</code>).</p>{{end}}{{end}}
`
