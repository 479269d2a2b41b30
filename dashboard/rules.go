package dashboard

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
)

// ruleKinds describe each rule kind for the form, with the parameter it
// takes.
// ruleKind is a kind of rule the form offers, and the parameter it takes.
type ruleKind struct {
	Kind  compliance.Kind
	Text  string
	Param string // "version", "hours", "identifier" or ""
}

var ruleKinds = []ruleKind{
	{compliance.OSVersionMin, "OS version at least", "version"},
	{compliance.DiskEncrypted, "Disk encrypted", ""},
	{compliance.PasscodeSet, "Passcode set", ""},
	{compliance.CheckedInWithin, "Checked in within hours", "hours"},
	{compliance.FirewallEnabled, "Firewall on", ""},
	{compliance.AppRequired, "App installed", "identifier"},
	{compliance.AppForbidden, "App not installed", "identifier"},
}

// ruleText says what a rule checks, in words.
func ruleText(r compliance.Rule) string {
	for _, k := range ruleKinds {
		if k.Kind == r.Kind {
			switch k.Param {
			case "version":
				return k.Text + " " + r.Params.Version
			case "hours":
				return "Checked in within " + strconv.Itoa(r.Params.Hours) + " h"
			case "identifier":
				return k.Text + ": " + r.Params.Identifier
			}
			return k.Text
		}
	}
	return string(r.Kind)
}

// rules lists the tenant's compliance rules and, for admins, the form for
// a new one.
func (d *Dashboard) rules(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	d.rulesPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

// ruleFailing is a rule's failing count, with what its link needs.
type ruleFailing struct {
	Slug string
	Rule uuid.UUID
	N    int
}

// ruleLive renders the compliance page's live parts after a result of
// rule changed: the rule's failing count and the tenant's standing.
func (d *Dashboard) ruleLive(ctx context.Context, slug string, rule uuid.UUID) (failing, standing string, err error) {
	var counts map[uuid.UUID]int
	var st compliance.Standing
	err = d.db.Within(ctx, func(ctx context.Context) (err error) {
		if counts, err = d.opts.Compliance.Failing(ctx); err != nil {
			return err
		}
		st, err = d.opts.Compliance.Summarize(ctx)
		return err
	})
	if err != nil {
		return "", "", err
	}
	var a, b bytes.Buffer
	if err := pages.ExecuteTemplate(&a, "rule-failing", ruleFailing{Slug: slug, Rule: rule, N: counts[rule]}); err != nil {
		return "", "", err
	}
	err = pages.ExecuteTemplate(&b, "standing", st)
	return a.String(), b.String(), err
}

func (d *Dashboard) rulesPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	if !d.available(w, r, d.opts.Compliance != nil, noCompliance) {
		return
	}
	// The stream's position is read before the page's data: an event
	// committed between the two is then sent again, never lost.
	live := d.liveURL(s.Ctx, s.T)
	if live != "" {
		live += "&parts=rules"
	}
	var rules []compliance.Rule
	var standing compliance.Standing
	var failing map[uuid.UUID]int
	err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) error {
		var err error
		if rules, err = d.opts.Compliance.Rules(ctx); err != nil {
			return err
		}
		if failing, err = d.opts.Compliance.Failing(ctx); err != nil {
			return err
		}
		standing, err = d.opts.Compliance.Summarize(ctx)
		return err
	})
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard rules", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The rules cannot be read right now; try again in a moment.")
		return
	}
	if f.Form == nil {
		f.Form = map[string]string{}
	}
	d.pageStatus(w, r, code, "rules-content", &rulesView{view: s.view("Compliance", f), Rules: rules, Failing: failing, Standing: standing, Live: live,
		RuleKinds: ruleKinds, Platforms: rulePlatforms,
		Remediations: commandable("", identity.Admin)})
}

// rulePlatforms are what a rule may be scoped to: a platform, or one of
// Apple's device families.
var rulePlatforms = []inventory.Platform{inventory.Apple, inventory.Platform(inventory.MacOS), inventory.Platform(inventory.IOS),
	inventory.Platform(inventory.IPadOS), inventory.Platform(inventory.TVOS), inventory.Windows, inventory.Android}

// platformName is how people write a rule's platform or family.
func platformName(p inventory.Platform) string {
	if n, ok := map[inventory.Platform]string{"apple": "Apple (every family)", "macos": "macOS", "ios": "iOS", "ipados": "iPadOS",
		"tvos": "tvOS", "windows": "Windows", "android": "Android"}[p]; ok {
		return n
	}
	return string(p)
}

// createRule saves a new rule from the form (admins), audited as the
// API's create-compliance-rule.
func (d *Dashboard) createRule(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok || !d.available(w, r, d.opts.Compliance != nil, noCompliance) {
		return
	}
	form := map[string]string{}
	for _, k := range []string{"name", "kind", "platform", "version", "hours", "identifier", "remediation"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	rule := compliance.Rule{Name: form["name"], Kind: compliance.Kind(form["kind"]), Platform: inventory.Platform(form["platform"]),
		Params: compliance.Params{Version: form["version"], Identifier: form["identifier"]}, Enabled: true,
		Remediation: compliance.Remediation{Command: form["remediation"]}}
	if form["hours"] != "" {
		h, err := strconv.Atoi(form["hours"])
		if err != nil {
			d.rulesPage(w, r, s, http.StatusUnprocessableEntity, flash{Error: "Hours must be a whole number.", Form: form})
			return
		}
		rule.Params.Hours = h
	}
	// Only the kind's own parameter counts.
	for _, k := range ruleKinds {
		if k.Kind == rule.Kind {
			keep := rule.Params
			rule.Params = compliance.Params{}
			switch k.Param {
			case "version":
				rule.Params.Version = keep.Version
			case "hours":
				rule.Params.Hours = keep.Hours
			case "identifier":
				rule.Params.Identifier = keep.Identifier
			}
		}
	}
	if k, ok := commands.LookupKind(rule.Remediation.Command); ok && k.Destructive && r.PostFormValue("confirm") != "yes" {
		d.rulesPage(w, r, s, http.StatusUnprocessableEntity, flash{Form: form,
			Error: k.Name + " cannot be undone: tick the box to confirm it as the remediation."})
		return
	}
	sess := sessionFrom(r.Context())
	err := d.db.Within(s.Ctx, func(ctx context.Context) error {
		created, err := d.opts.Compliance.Create(ctx, rule)
		if err != nil {
			return err
		}
		return d.record(ctx, sess, "create-compliance-rule", "/v1/tenants/"+s.T.Slug+"/compliance/rules", http.StatusCreated,
			map[string]string{"rule": created.ID.String(), "kind": string(created.Kind)})
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.rulesPage(w, r, s, code, flash{Error: msg, Form: form})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/compliance", "rule-created")
}

// ruleName is rule id's name ("" for no such rule), in ctx's tenant
// transaction or one of its own.
func (d *Dashboard) ruleName(ctx context.Context, id uuid.UUID) (string, error) {
	rules, err := d.opts.Compliance.Rules(ctx)
	for _, r := range rules {
		if r.ID == id {
			return r.Name, nil
		}
	}
	return "", err
}

// changeRule turns a rule on or off, or deletes it (admins).
func (d *Dashboard) changeRule(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Admin)
	if !ok || !d.available(w, r, d.opts.Compliance != nil, noCompliance) {
		return
	}
	id, err := uuid.Parse(r.PathValue("rule"))
	if err != nil {
		d.errorPage(w, r, http.StatusNotFound, "There is no such rule in this tenant.")
		return
	}
	action, notice := r.PostFormValue("action"), ""
	if action == "delete" {
		name, _ := d.ruleName(s.Ctx, id) // the confirmation names it if it can
		if !d.confirmed(w, r, s, named("the rule", name), "/dashboard/t/"+s.T.Slug+"/compliance") {
			return
		}
	}
	sess := sessionFrom(r.Context())
	target := "/v1/tenants/" + s.T.Slug + "/compliance/rules/" + id.String()
	err = d.db.Within(s.Ctx, func(ctx context.Context) error {
		var err error
		switch action {
		case "on", "off":
			if _, err = d.opts.Compliance.SetEnabled(ctx, id, action == "on"); err != nil {
				return err
			}
			notice = "rule-" + action
			return d.record(ctx, sess, "update-compliance-rule", target, http.StatusOK, map[string]string{"enabled": strconv.FormatBool(action == "on")})
		case "delete":
			if err = d.opts.Compliance.Delete(ctx, id); err != nil {
				return err
			}
			notice = "rule-deleted"
			return d.record(ctx, sess, "delete-compliance-rule", target, http.StatusNoContent, nil)
		}
		return &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose to turn the rule on or off, or to delete it."}
	})
	if err != nil {
		code, msg := d.problem(r, err)
		d.rulesPage(w, r, s, code, flash{Error: msg})
		return
	}
	done(w, r, "/dashboard/t/"+s.T.Slug+"/compliance", notice)
}
