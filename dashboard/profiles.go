package dashboard

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
)

// maxProfile bounds an uploaded configuration profile.
const maxProfile = 1 << 20

// profiles shows what configures the tenant's devices: ADE profiles for
// Apple setup, Android policies, and, for operators, installing an Apple
// configuration profile on a group.
func (d *Dashboard) profiles(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Viewer)
	if !ok {
		return
	}
	d.profilesPage(w, r, s, http.StatusOK, flash{Notice: notice(r)})
}

// policyView is an Android policy with its settings as JSON, for reading.
type policyView struct {
	android.Policy
	JSON string
}

func (d *Dashboard) profilesPage(w http.ResponseWriter, r *http.Request, s scope, code int, f flash) {
	var ade []dep.Profile
	var policies []policyView
	var groups []inventory.Group
	err := d.db.ReadWithin(s.Ctx, func(ctx context.Context) error {
		var err error
		if d.opts.DEP != nil {
			if ade, err = d.opts.DEP.Profiles(ctx); err != nil {
				return err
			}
		}
		if d.opts.Android != nil {
			ps, err := d.opts.Android.Policies(ctx)
			if err != nil {
				return err
			}
			for _, p := range ps {
				b, _ := json.MarshalIndent(p.Settings, "", "  ")
				policies = append(policies, policyView{Policy: p, JSON: string(b)})
			}
		}
		if s.Role.AtLeast(identity.Operator) {
			groups, err = d.inv.Groups(ctx)
		}
		return err
	})
	if err != nil {
		d.log.ErrorContext(s.Ctx, "dashboard profiles", "tenant", s.T.ID, "err", err)
		d.errorPage(w, r, http.StatusServiceUnavailable, "The profiles cannot be read right now; try again in a moment.")
		return
	}
	d.pageStatus(w, r, code, "profiles-content", &profilesView{view: s.view("Profiles", f), ADE: ade, Policies: policies, Groups: groups,
		HasDEP: d.opts.DEP != nil, HasAndroid: d.opts.Android != nil, CanInstall: d.opts.Jobs != nil && s.Role.AtLeast(identity.Operator)})
}

// looksLikeProfile tells a configuration profile from other files: a
// property list, or one signed (CMS, DER: a SEQUENCE).
func looksLikeProfile(b []byte) bool {
	t := bytes.TrimSpace(b)
	return bytes.Contains(t[:min(len(t), 512)], []byte("<plist")) || (len(t) > 2 && t[0] == 0x30 && t[1] >= 0x80)
}

// installProfile queues install_profile with an uploaded .mobileconfig for
// every enrolled Apple device of a group, in the background as the API's
// queue-bulk-command (operators).
func (d *Dashboard) installProfile(w http.ResponseWriter, r *http.Request) {
	s, ok := d.scoped(w, r, identity.Operator)
	if !ok {
		return
	}
	if !d.available(w, r, d.opts.Jobs != nil, noGroupCommands) {
		return
	}
	fail := func(err error) {
		code, msg := d.problem(r, err)
		d.profilesPage(w, r, s, code, flash{Error: msg})
	}
	b, err := formFileMax(r, "profile", maxProfile)
	if err != nil {
		fail(err)
		return
	}
	if len(b) == 0 || !looksLikeProfile(b) {
		fail(&UserError{Status: http.StatusUnprocessableEntity, Message: "Choose a configuration profile (.mobileconfig): a property list, signed or not."})
		return
	}
	group, err := uuid.Parse(r.PostFormValue("group"))
	if err != nil {
		fail(&UserError{Status: http.StatusUnprocessableEntity, Message: "Choose a group."})
		return
	}
	payload := map[string]any{"profile": base64.StdEncoding.EncodeToString(b)}
	if err := commands.Authorize(s.Role, "install_profile", payload); err != nil {
		fail(err)
		return
	}
	var name string
	err = d.db.Within(s.Ctx, func(ctx context.Context) (err error) {
		g, err := d.groupOf(ctx, group)
		if errors.Is(err, errNoGroup) {
			return &UserError{Status: http.StatusNotFound, Message: "There is no such group in this tenant."}
		} else if err != nil {
			return err
		}
		name = g.Name
		return d.queueForGroup(ctx, s.T, sessionFrom(r.Context()), g, inventory.Apple, "install_profile", payload)
	})
	if err != nil {
		fail(err)
		return
	}
	d.profilesPage(w, r, s, http.StatusAccepted, flash{Notice: "The profile is being queued for every enrolled Apple device of " + name +
		"; each device's page shows its install_profile command."})
}
