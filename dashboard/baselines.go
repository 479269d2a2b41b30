package dashboard

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/compliance"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/msp"
	"github.com/tridentmdm/trident/tenancy"
)

// baselinesView is an MSP's baselines.
type baselinesView struct {
	view
	MSP       tenancy.MSP
	Baselines []msp.Baseline
}

// tenantDrift is one tenant's drift from a baseline.
type tenantDrift struct {
	Tenant tenancy.Tenant
	Items  []msp.Drift
}

// baselineView is one baseline: its items, whom it is for, its rings,
// and each tenant's drift.
type baselineView struct {
	view
	MSP               tenancy.MSP
	B                 msp.Baseline
	RuleKinds         []ruleKind
	Platforms         []inventory.Platform
	PasswordQualities []string
	Drift             []tenantDrift
	// Preview is the dry run of an item not added yet: what it would
	// touch in each tenant (nil: none asked for).
	Preview []msp.Preview
}

func (d *Dashboard) baselinesPage(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	d.renderBaselines(w, r, m, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) renderBaselines(w http.ResponseWriter, r *http.Request, m tenancy.MSP, code int, f flash) {
	bs, err := d.opts.MSP.Baselines(r.Context(), m.ID)
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard baselines", "msp", m.Slug, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The baselines cannot be read right now; try again in a moment.")
		return
	}
	if f.Form == nil {
		f.Form = map[string]string{}
	}
	d.pageStatus(w, r, code, "baselines-content", &baselinesView{view: view{Title: "Baselines · " + m.Name,
		Crumbs: []crumb{{Name: "Baselines"}}, flash: f}, MSP: m, Baselines: bs})
}

// createBaseline makes a baseline with no items yet (its MSP's admins).
func (d *Dashboard) createBaseline(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	b, err := d.opts.MSP.CreateBaseline(r.Context(), m.ID, name, nil, sessionFrom(r.Context()).Subject)
	if err != nil {
		code, msg := d.problem(r, err)
		d.renderBaselines(w, r, m, code, flash{Error: msg, Form: map[string]string{"name": name}})
		return
	}
	done(w, r, "/dashboard/msps/"+m.Slug+"/baselines/"+b.ID.String(), "baseline-created")
}

func (d *Dashboard) baselinePage(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	d.renderBaseline(w, r, m, http.StatusOK, flash{Notice: notice(r)})
}

func (d *Dashboard) renderBaseline(w http.ResponseWriter, r *http.Request, m tenancy.MSP, code int, f flash) {
	d.renderBaselineWith(w, r, m, code, f, nil)
}

func (d *Dashboard) renderBaselineWith(w http.ResponseWriter, r *http.Request, m tenancy.MSP, code int, f flash, preview []msp.Preview) {
	id, _ := uuid.Parse(r.PathValue("id"))
	bs, err := d.opts.MSP.Baselines(r.Context(), m.ID)
	if err != nil {
		d.errorPage(w, r, http.StatusServiceUnavailable, "The baseline cannot be read right now; try again in a moment.")
		return
	}
	i := slices.IndexFunc(bs, func(b msp.Baseline) bool { return b.ID == id })
	if i < 0 {
		d.errorPage(w, r, http.StatusNotFound, "There is no such baseline in the MSP.")
		return
	}
	v := &baselineView{view: view{Title: bs[i].Name + " · " + m.Name, flash: f,
		Crumbs: []crumb{{Name: "Baselines", Link: "/dashboard/msps/" + m.Slug + "/baselines"}, {Name: bs[i].Name}}},
		MSP: m, B: bs[i], RuleKinds: ruleKinds, Platforms: rulePlatforms, PasswordQualities: android.PasswordQualities, Preview: preview}
	if v.Form == nil {
		v.Form = map[string]string{}
	}
	// Each tenant's drift from this baseline: the tenant loop.
	tenants, err := d.dir.ListTenants(r.Context(), m.ID)
	if err == nil {
		for _, t := range tenants {
			ds, err := d.opts.MSP.DriftOf(r.Context(), t)
			if err != nil {
				d.log.WarnContext(r.Context(), "dashboard baseline drift", "tenant", t.Slug, "err", err)
				continue
			}
			td := tenantDrift{Tenant: t}
			for _, x := range ds {
				if x.Baseline == id {
					td.Items = append(td.Items, x)
				}
			}
			if len(td.Items) > 0 {
				v.Drift = append(v.Drift, td)
			}
		}
	}
	d.pageStatus(w, r, code, "baseline-content", v)
}

// changeBaseline adds or removes an item (a new version), sets whom it
// is for or its rings, or promotes or rolls back a ring: its MSP's admins.
func (d *Dashboard) changeBaseline(w http.ResponseWriter, r *http.Request) {
	m, ok := d.mspOf(w, r)
	if !ok {
		return
	}
	id, _ := uuid.Parse(r.PathValue("id"))
	by := sessionFrom(r.Context()).Subject
	form := map[string]string{}
	for _, k := range []string{"key", "name", "kind", "platform", "version", "hours", "identifier", "assigned_to", "rings", "item_kind", "settings",
		"password_min_length", "password_quality", "require_encryption", "camera_disabled"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	ctx := r.Context()
	var err error
	notice := "baseline-changed"
	if r.PostFormValue("action") == "preview" {
		d.previewItem(w, r, m, id, form)
		return
	}
	switch r.PostFormValue("action") {
	case "add", "remove":
		var bs []msp.Baseline
		if bs, err = d.opts.MSP.Baselines(ctx, m.ID); err != nil {
			break
		}
		i := slices.IndexFunc(bs, func(b msp.Baseline) bool { return b.ID == id })
		if i < 0 {
			err = msp.ErrNoBaseline
			break
		}
		items := bs[i].Items
		if r.PostFormValue("action") == "remove" {
			items = slices.DeleteFunc(slices.Clone(items), func(it msp.Item) bool { return it.Key == r.PostFormValue("item") })
		} else {
			var it msp.Item
			if it, err = itemOf(r, form); err != nil {
				break
			}
			items = append(slices.Clone(items), it)
		}
		_, err = d.opts.MSP.SetItems(ctx, m.ID, id, items, by)
	case "assign":
		_, err = d.opts.MSP.Assign(ctx, m.ID, id, strings.FieldsFunc(form["assigned_to"], splitList))
	case "rings":
		var rings []msp.Ring
		if rings, err = parseRings(form["rings"]); err == nil {
			_, err = d.opts.MSP.SetRings(ctx, m.ID, id, rings)
		}
	case "promote":
		_, err = d.opts.MSP.Promote(ctx, m.ID, id, r.PostFormValue("ring"))
		notice = "baseline-promoted"
	case "rollback":
		_, err = d.opts.MSP.Rollback(ctx, m.ID, id, r.PostFormValue("ring"))
		notice = "baseline-rolled-back"
	default:
		err = &UserError{Status: http.StatusUnprocessableEntity, Message: "Choose what to change."}
	}
	if err == nil && d.opts.Jobs != nil {
		err = d.opts.MSP.QueueApply(ctx, d.opts.Jobs, m.ID)
	}
	if err != nil {
		code, msg := d.problem(r, err)
		d.renderBaseline(w, r, m, code, flash{Error: msg, Form: form})
		return
	}
	done(w, r, "/dashboard/msps/"+m.Slug+"/baselines/"+id.String(), notice)
}

// previewItem shows what adding the form's item would touch, tenant by
// tenant, without adding it: the dry run of a baseline change.
func (d *Dashboard) previewItem(w http.ResponseWriter, r *http.Request, m tenancy.MSP, id uuid.UUID, form map[string]string) {
	bs, err := d.opts.MSP.Baselines(r.Context(), m.ID)
	i := slices.IndexFunc(bs, func(b msp.Baseline) bool { return b.ID == id })
	var ps []msp.Preview
	if err == nil && i < 0 {
		err = msp.ErrNoBaseline
	}
	if err == nil {
		var it msp.Item
		if it, err = itemOf(r, form); err == nil {
			ps, err = d.opts.MSP.PreviewItems(r.Context(), m.ID, id, append(slices.Clone(bs[i].Items), it))
		}
	}
	if err != nil {
		code, msg := d.problem(r, err)
		d.renderBaseline(w, r, m, code, flash{Error: msg, Form: form})
		return
	}
	if ps == nil {
		ps = []msp.Preview{}
	}
	d.renderBaselineWith(w, r, m, http.StatusOK, flash{Form: form}, ps)
}

// itemOf is the item the add form describes: a rule, an Apple profile
// (the uploaded .mobileconfig) or Windows settings (a setting a line,
// "./Device/Vendor/MSFT/Policy/Config/Area/Name = value").
func itemOf(r *http.Request, form map[string]string) (msp.Item, error) {
	it := msp.Item{Key: form["key"]}
	switch form["item_kind"] {
	case msp.ItemAppleProfile:
		body, err := formFileMax(r, "profile", msp.MaxProfileBytes)
		if err != nil {
			return it, err
		}
		it.AppleProfile = &msp.AppleProfile{Profile: body}
	case msp.ItemWindowsSettings:
		it.WindowsSettings = &msp.WindowsSettings{Name: form["name"]}
		for line := range strings.Lines(form["settings"]) {
			uri, value, ok := strings.Cut(line, "=")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !ok {
				return it, &UserError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("%q is not a setting: write ./Device/... = value.", strings.TrimSpace(line))}
			}
			it.WindowsSettings.Settings = append(it.WindowsSettings.Settings, setting(strings.TrimSpace(uri), strings.TrimSpace(value)))
		}
	case msp.ItemAndroidPolicy:
		f, err := fragmentOf(form)
		if err != nil {
			return it, err
		}
		it.AndroidPolicy = &f
	default:
		hours, _ := strconv.Atoi(form["hours"])
		it.Rule = compliance.Rule{Name: form["name"], Kind: compliance.Kind(form["kind"]), Platform: inventory.Platform(form["platform"]),
			Params: compliance.Params{Version: form["version"], Hours: hours, Identifier: form["identifier"]}, Enabled: true}
	}
	return it, nil
}

// fragmentOf is the Android policy fragment the form describes: each
// setting left empty stays each policy's own.
func fragmentOf(form map[string]string) (android.Fragment, error) {
	f := android.Fragment{Name: form["name"]}
	if v := form["password_min_length"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, &UserError{Status: http.StatusUnprocessableEntity, Message: "The shortest password is a number of characters."}
		}
		f.PasswordMinLength = &n
	}
	if v := form["password_quality"]; v != "" {
		f.PasswordQuality = &v
	}
	yes := func(v string) *bool { b := v == "yes"; return &b }
	if v := form["require_encryption"]; v != "" {
		f.RequireEncryption = yes(v)
	}
	if v := form["camera_disabled"]; v != "" {
		f.CameraDisabled = yes(v)
	}
	return f, nil
}

// setting is one typed OMA-DM setting, its format read from its value:
// an integer, true or false, or else text.
func setting(uri, value string) msp.Setting {
	s := msp.Setting{LocURI: uri, Value: value, Format: "chr"}
	if _, err := strconv.ParseInt(value, 10, 64); err == nil {
		s.Format = "int"
	} else if value == "true" || value == "false" {
		s.Format = "bool"
	}
	return s
}

// parseRings reads the rings form: a ring a line, "pilot: tenant:lab,
// tag:early, soak:24h" (the first colon ends the name; soak:<hours>h is
// the ring's soak time).
func parseRings(text string) ([]msp.Ring, error) {
	var rings []msp.Ring
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, targets, _ := strings.Cut(line, ":")
		r := msp.Ring{Name: strings.TrimSpace(name)}
		for _, t := range strings.FieldsFunc(targets, splitList) {
			soak, ok := strings.CutPrefix(t, "soak:")
			if !ok {
				r.Targets = append(r.Targets, t)
				continue
			}
			h, err := strconv.Atoi(strings.TrimSuffix(soak, "h"))
			if err != nil {
				return nil, &UserError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("The ring %s's soak time %q is not hours, such as soak:24h.", r.Name, soak)}
			}
			r.SoakHours = h
		}
		rings = append(rings, r)
	}
	return rings, nil
}

// splitList splits a typed list on commas and white space.
func splitList(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r' }
