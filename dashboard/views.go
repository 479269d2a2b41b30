package dashboard

import (
	"html/template"
	"time"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/audit"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/services/tenants"
	"github.com/tridentmdm/trident/tenancy"
)

// The pages' view models: each page's template reads one of these types,
// so a field it needs is a field the handler must fill (the compiler
// checks the handler; TestPagesPerRole and the browser test check the
// templates).

// view is what the layout and the flash read on every page.
type view struct {
	Title      string
	Tenant     *tenancy.Tenant // nil on the MSP's home page
	IsAdmin    bool
	IsOperator bool
	Session    *session // set by pageStatus
	Path       string   // the request's path, for the current page in the navigation
	// Switch is the tenants the switcher offers (set by pageStatus on
	// tenant pages), and Crumbs the breadcrumbs past the tenant: the
	// last is the page itself, without a link.
	Switch []tenancy.Tenant
	Crumbs []crumb
	// Brand is the tenant's branding, on its pages (set by pageStatus).
	Brand *brandView
	flash
}

// brandView is how a tenant's pages show its branding.
type brandView struct {
	Name, Support string
	Logo          bool
	Version       string // changes with the branding, for the cached logo and colours
	Colored       bool
}

// crumb is a breadcrumb.
type crumb struct {
	Name string
	Link string // "" for the current page
}

func (v *view) base() *view { return v }

// page is a view model: a struct that embeds view.
type page interface{ base() *view }

// flash is what a page says after an action, and what the person sent,
// to show again when it was refused.
type flash struct {
	Notice string
	Error  string
	// Form is the refused form's fields, to fill it again.
	Form map[string]string
	// Created is a webhook just made, whose secret is shown once.
	Created *events.Endpoint
	// Label and NewHostname fill again the ABM token and hostname forms.
	Label       string
	NewHostname string
}

// view starts a tenant page's view model: its title and the tenant, with
// what the layout's navigation needs.
func (s scope) view(title string, f flash) view {
	v := tenantView(title+" · "+s.T.Name, s.T, s.Role)
	v.flash = f
	return v
}

// homeView is the MSP's home: the tenants the person may see.
type homeView struct {
	view
	Consoles []consoleView // the consoles of the MSPs the person administers
	Tenants  []tenantCard  // the other tenants the person has a role in
	MSPs     []string      // the MSPs the person administers: they make tenants in them
}

// devicesView is a tenant's device list (and its rows alone, for htmx).
type devicesView struct {
	view
	Query             inventory.Query
	Devices           []inventory.Device
	Next              string // the next page, if any
	Live              string // the tenant's stream, "" when off
	Groups            []inventory.Group
	GroupKinds        []commandForm
	CanGroupSend      bool
	ComplianceFilters []string
	Platforms         []inventory.Platform
	Total             int                  // devices the filters keep, on every page
	FailingRule       string               // the name of the rule the list keeps the failing devices of, if any
	SortLinks         map[string]string    // by column: the list sorted by it (the other way when it is the sort)
	AriaSort          map[string]string    // by column: ascending, descending or none
	States            map[uuid.UUID]string // the devices' compliance states (compliance.States)
	CanBulk           bool                 // operators act on selected devices
	BulkKinds         []commandForm        // the commands they may send them
	Export            string               // the list, filtered as it is, as CSV
	OOB               bool                 // rows alone, for htmx: the count and export link come out of band
	TakesNew          bool                 // unfiltered: newly enrolled devices appear at the top, live
	Views             []inventory.View     // the person's saved views
	Columns           []column             // the columns a person may hide (columns.js keeps the choice)
	ListQuery         string               // the list's filters and sort, encoded: what "save this view" saves
}

// column is one of the device list's columns a person may hide.
type column struct{ Key, Name string }

// hideable are the device list's columns a person may hide: the name
// stays.
var hideable = []column{{"platform", "Platform"}, {"user", "User"}, {"model", "Model"}, {"os", "OS"}, {"serial", "Serial"},
	{"compliance", "Compliance"}, {"status", "Status"}, {"seen", "Last seen"}}

// deviceView is one device's page.
type deviceView struct {
	view
	Device        inventory.Device
	States        map[uuid.UUID]string // its compliance state, for its row
	Groups        []inventory.Group    // the groups it is in
	Facts         []fact
	Apps          []app // installed, by name
	Commands      []commandView
	Forms         []commandForm // one per kind the person may send it
	CanSend       bool
	Live          string
	Compliance    []standing
	HasCompliance bool
	Identities    []pki.Identity
}

// overviewView is a tenant's fleet at a glance.
type overviewView struct {
	view
	Fleet         fleetView // the live part
	Live          string    // the tenant's stream with the fleet, "" when off
	HasCompliance bool
	History       historyView
	HasHistory    bool
}

// historyView is the overview's two history charts.
type historyView struct {
	Dots       []dot
	Lines      []string
	DayTicks   []dot
	RateDesc   string
	Hourly     []bar
	HourlyDesc string
}

// auditView is a page of the tenant's audit log.
type auditView struct {
	view
	Entries []auditRow
	Filter  map[string]string // the filters as typed: actor, action, target, since, until
	Older   string            // the next, older page, if any, with the same filters
	Live    string            // the stream of new entries (the first page, unfiltered)
}

// auditRow is an entry with the name of the device it is on, if any.
type auditRow struct {
	audit.Entry
	Name string
}

// enrollView is the enrollment page: Apple, Windows and Android.
type enrollView struct {
	view
	CanEnroll     bool
	Links         enrollment.WindowsLinks
	HasApple      bool
	Push          *PushCertificate
	PushUnknown   bool
	PushExpired   bool
	PushSoon      bool
	HasAndroid    bool
	Enterprise    android.Enterprise
	Policies      []android.Policy
	AndroidTokens []android.EnrollmentToken
}

// rulesView is the compliance rules page.
type rulesView struct {
	view
	Rules        []compliance.Rule
	Failing      map[uuid.UUID]int // devices failing each rule
	Live         string            // the tenant's stream with the rules' parts, "" when off
	Standing     compliance.Standing
	RuleKinds    []ruleKind
	Platforms    []inventory.Platform
	Remediations []commands.Kind
}

// profilesView is the profiles page: ADE profiles and Android policies.
type profilesView struct {
	view
	ADE        []dep.Profile
	Policies   []policyView
	Groups     []inventory.Group
	HasDEP     bool
	HasAndroid bool
	CanInstall bool
}

// abmView is the ABM tokens page.
type abmView struct {
	view
	Tokens   []dep.Token
	Profiles []dep.Profile
}

// commandsView is the tenant's command history.
type commandsView struct {
	view
	Commands     []commandView
	Status, Kind string // the filters
	Statuses     []commands.Status
	Kinds        []string
	Live         string
	Older        string // the next, older page, with the same filters
}

// groupsView lists the tenant's device groups.
type groupsView struct {
	view
	Groups []inventory.Group
}

// webhooksView lists the tenant's webhooks.
type webhooksView struct {
	view
	Webhooks []webhookRow
}

// webhookRow is a webhook with how its deliveries go.
type webhookRow struct {
	events.Endpoint
	Health events.Health
}

// webhookView is one webhook and its deliveries.
type webhookView struct {
	view
	Webhook    events.Endpoint
	Deliveries []deliveryRow
	Live       string // the stream of new deliveries
}

// settingsView is the tenant's settings: hostnames and federation.
type settingsView struct {
	view
	MSPAdmin   bool     // the person administers the tenant's MSP: they tag it
	Tags       []string // the tenant's tags
	Hostnames  []tenancy.Hostname
	Platform   *tenancy.Hostname // the tenant's own name under the base domain
	Custom     []tenancy.Hostname
	Federation *enrollment.Federation
	Branding   tenants.Branding
}

// windowsTokenView is a new Windows enrollment token, shown once (an htmx
// fragment of the enrollment page).
type windowsTokenView struct {
	Token    string
	Expires  time.Time
	DeepLink template.URL // ms-device-enrollment:, which html/template would refuse as a URL
	Server   string
}

// deliveryRow is a webhook delivery with the tenant its links are in.
type deliveryRow struct {
	events.Delivery
	Slug string
}
