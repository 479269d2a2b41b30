package dashboard

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/services/inventory"
)

// commandField is one typed field of a command's form: what the person
// fills in instead of a JSON payload.
type commandField struct {
	Name  string // the payload's field
	Label string
	Help  string
	// Input is how it is typed: text, password, tel, lines (a list, one
	// per line), json (a JSON value, for OMA-DM settings) or file (its
	// bytes in base64).
	Input    string
	Pattern  string // for text and password inputs, as HTML's pattern
	Says     string // what Pattern asks for, in words
	Required bool
	// Families the field is for ("" for every device the kind is for).
	Families []inventory.Family
}

// commandText is how the dashboard names a kind and its button.
type commandText struct {
	Title, Button string
	Fields        []commandField
}

var macOnly = []inventory.Family{inventory.MacOS}

// commandTexts are the forms of the kinds people send from a device's
// page. A kind missing here has a form without fields.
var commandTexts = map[string]commandText{
	"device_information":     {Title: "Ask for its facts", Button: "Ask"},
	"security_info":          {Title: "Ask for its security state", Button: "Ask"},
	"installed_applications": {Title: "Ask for its installed apps", Button: "Ask"},
	"profile_list":           {Title: "Ask for its profiles", Button: "Ask"},
	"restart":                {Title: "Restart", Button: "Restart"},
	"shutdown":               {Title: "Shut down", Button: "Shut down"},
	"lock": {Title: "Lock", Button: "Lock", Fields: []commandField{
		{Name: "message", Label: "Message on the lock screen", Input: "text", Families: []inventory.Family{inventory.MacOS, inventory.IOS, inventory.IPadOS}},
		{Name: "phone_number", Label: "Phone number on the lock screen", Input: "tel", Families: []inventory.Family{inventory.MacOS, inventory.IOS, inventory.IPadOS}},
		{Name: "pin", Label: "Six-digit PIN to unlock it", Help: "A Mac asks for it before it can be used again.", Input: "password",
			Pattern: `\d{6}`, Says: "six digits", Required: true, Families: macOnly},
	}},
	"erase": {Title: "Erase", Button: "Erase the device", Fields: []commandField{
		{Name: "pin", Label: "Six-digit PIN (Find My lock)", Help: "Older Macs ask for it after the erase.", Input: "password", Pattern: `\d{6}`, Says: "six digits", Families: macOnly},
	}},
	"clear_passcode": {Title: "Clear the passcode", Button: "Clear the passcode", Fields: []commandField{
		{Name: "new_password", Label: "New password", Help: "Empty removes the password.", Input: "password", Families: []inventory.Family{inventory.AndroidFamily}},
	}},
	"query_settings": {Title: "Read OMA-DM nodes", Button: "Read", Fields: []commandField{
		{Name: "loc_uris", Label: "Node URIs, one per line", Input: "lines", Required: true, Help: "For example ./DevDetail/SwV"},
	}},
	"apply_settings": {Title: "Apply OMA-DM settings", Button: "Apply", Fields: []commandField{
		{Name: "settings", Label: "Settings (a JSON list of {loc_uri, value, format, action})", Input: "json", Required: true},
	}},
	"install_profile": {Title: "Install a configuration profile", Button: "Install", Fields: []commandField{
		{Name: "profile", Label: "Profile (.mobileconfig, signed or not, up to 1 MiB)", Input: "file", Required: true},
	}},
	"remove_profile": {Title: "Remove a configuration profile", Button: "Remove", Fields: []commandField{
		{Name: "identifier", Label: "The profile's identifier (PayloadIdentifier)", Input: "text", Required: true},
	}},
}

// patterns are the fields' patterns, compiled once, whole-value (as
// HTML's pattern attribute matches).
var patterns = func() map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	for _, t := range commandTexts {
		for _, f := range t.Fields {
			if f.Pattern != "" {
				out[f.Pattern] = regexp.MustCompile(`^(?:` + f.Pattern + `)$`)
			}
		}
	}
	return out
}()

// formOrder is the order of the forms on a device's page: the everyday
// ones first, the destructive ones last.
var formOrder = []string{"restart", "lock", "shutdown", "device_information", "security_info", "installed_applications", "profile_list",
	"install_profile", "remove_profile", "query_settings", "apply_settings", "clear_passcode", "erase"}

// rePayloadNote is the API's note on a kind's payload, which a form's
// fields say instead.
var rePayloadNote = regexp.MustCompile(`\s*\([^()]*payload[^()]*\)`)

// commandForm is one kind's form on a device's page.
type commandForm struct {
	commands.Kind
	commandText
	Multipart bool // a file field: the form posts multipart
}

// commandFormView is one form with the device it is on.
type commandFormView struct {
	Slug, Device, DeviceName string
	Form                     commandForm
}

// commandForms are the forms of the kinds the person may send to dev,
// with the fields that apply to its family.
func commandForms(dev inventory.Device, role identity.Role) []commandForm {
	var out []commandForm
	for _, k := range commandable(dev.Platform, role) {
		text := commandTexts[k.Name]
		if text.Title == "" {
			text.Title, text.Button = k.Name, "Send"
		}
		f := commandForm{Kind: k, commandText: text}
		f.Summary = rePayloadNote.ReplaceAllString(k.Summary, "")
		f.Fields = fieldsFor(text.Fields, dev.Family())
		f.Multipart = slices.ContainsFunc(f.Fields, func(c commandField) bool { return c.Input == "file" })
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b commandForm) int { return order(a.Name) - order(b.Name) })
	return out
}

// groupForms are the forms of the kinds the person may send to a group:
// every family's fields, each saying which devices it is for (a group
// may hold any).
func groupForms(role identity.Role) []commandForm {
	var out []commandForm
	for _, k := range commandable("", role) {
		text := commandTexts[k.Name]
		if text.Title == "" {
			text.Title, text.Button = k.Name, "Send"
		}
		f := commandForm{Kind: k, commandText: text}
		f.Summary = rePayloadNote.ReplaceAllString(k.Summary, "")
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b commandForm) int { return order(a.Name) - order(b.Name) })
	return out
}

// fieldView is a field as a form draws it: with its element's id, and,
// in the group composer, the families it is for in words.
type fieldView struct {
	ID    string
	Field commandField
	For   string
}

// familiesText names families as people do: "macOS, iOS and iPadOS".
func familiesText(fs []inventory.Family) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = platformName(inventory.Platform(f))
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// order is a kind's place in formOrder (past its end if not there).
func order(kind string) int {
	if i := slices.Index(formOrder, kind); i >= 0 {
		return i
	}
	return len(formOrder)
}

// fieldsFor keeps the fields for family (an Apple device of no known
// family gets every Apple field: it may be any of them).
func fieldsFor(fields []commandField, family inventory.Family) []commandField {
	var out []commandField
	for _, c := range fields {
		if len(c.Families) == 0 || family == "" || slices.Contains(c.Families, family) {
			out = append(out, c)
		}
	}
	return out
}

// typedPayload is the payload the form of kind makes of what was typed
// for family: each field converted as its input says, empty ones left
// out; a required one missing, or one that does not parse, is a problem
// for the person. A JSON "payload" (the group composer's, or a script's)
// is the start, and typed fields go on top of it.
func typedPayload(r *http.Request, kind string, family inventory.Family) (map[string]any, int, string) {
	payload, code, problem := jsonPayload(r)
	if problem != "" {
		return nil, code, problem
	}
	for _, c := range fieldsFor(commandTexts[kind].Fields, family) {
		v, problem := fieldValue(r, c)
		if problem != "" {
			return nil, http.StatusUnprocessableEntity, problem
		}
		if v == nil {
			if c.Required && payload[c.Name] == nil {
				return nil, http.StatusUnprocessableEntity, c.Label + ": fill it in."
			}
			continue
		}
		if payload == nil {
			payload = map[string]any{}
		}
		payload[c.Name] = v
	}
	return payload, 0, ""
}

// jsonPayload is the form's optional JSON object "payload".
func jsonPayload(r *http.Request) (payload map[string]any, code int, problem string) {
	p := strings.TrimSpace(r.PostFormValue("payload"))
	if p == "" {
		return nil, 0, ""
	}
	if len(p) > 256<<10 {
		return nil, http.StatusRequestEntityTooLarge, "The payload is larger than 256 KiB."
	}
	if err := json.Unmarshal([]byte(p), &payload); err != nil {
		return nil, http.StatusUnprocessableEntity, "The payload is not a JSON object: " + err.Error()
	}
	return payload, 0, ""
}

// fieldValue is what the person typed in c, converted; nil when empty.
func fieldValue(r *http.Request, c commandField) (any, string) {
	if c.Input == "file" {
		f, _, err := r.FormFile(c.Name)
		if err != nil {
			return nil, ""
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxProfile+1))
		switch {
		case err != nil:
			return nil, c.Label + ": the upload could not be read."
		case len(b) > maxProfile:
			return nil, c.Label + ": larger than 1 MiB."
		case len(b) == 0:
			return nil, ""
		}
		return base64.StdEncoding.EncodeToString(b), ""
	}
	s := strings.TrimSpace(r.PostFormValue(c.Name))
	if s == "" {
		return nil, ""
	}
	switch c.Input {
	case "lines":
		var list []any
		for line := range strings.Lines(s) {
			if line = strings.TrimSpace(line); line != "" {
				list = append(list, line)
			}
		}
		return list, ""
	case "json":
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Sprintf("%s: not JSON (%v).", c.Label, err)
		}
		return v, ""
	}
	if c.Pattern != "" && !patterns[c.Pattern].MatchString(s) {
		return nil, c.Label + ": " + c.Says + "."
	}
	return s, ""
}
