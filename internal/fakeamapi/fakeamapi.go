// Package fakeamapi is a local server speaking the Android Management
// API's REST wire format (v1: signupUrls, enterprises, policies,
// enrollmentTokens, devices, their operations; Google's JSON error
// envelope) for tests of the real google.golang.org/api client, pointed
// at it with option.WithEndpoint. It also plays the devices and Pub/Sub:
// Enroll, Report and Finish change devices and operations and hand the
// notification Google would publish to Notify.
//
// Google's service cannot be reached from tests.
package fakeamapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	am "google.golang.org/api/androidmanagement/v1"
)

// Notification is what Google publishes to an enterprise's Pub/Sub
// topic: the notification type attribute and the resource JSON.
type Notification struct {
	Topic      string
	Enterprise string
	Type       string // ENROLLMENT, STATUS_REPORT, COMMAND, USAGE_LOGS
	Data       []byte
}

// Server is a running fake AMAPI.
type Server struct {
	*httptest.Server
	// Notify receives each notification (set it before devices act).
	Notify func(Notification)

	mu          sync.Mutex
	seq         int
	signups     map[string]signup // by signup name
	enterprises map[string]*am.Enterprise
	policies    map[string]*am.Policy
	tokens      map[string]*am.EnrollmentToken // by name
	devices     map[string]*am.Device
	operations  map[string]*am.Operation
	quota       int // the next quota requests answer 429
	requests    map[string]int
}

type signup struct {
	project, callback, token string
}

// New starts a server; Close it when done.
func New() *Server {
	s := &Server{signups: map[string]signup{}, enterprises: map[string]*am.Enterprise{}, policies: map[string]*am.Policy{},
		tokens: map[string]*am.EnrollmentToken{}, devices: map[string]*am.Device{}, operations: map[string]*am.Operation{},
		requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) id(prefix string) string {
	s.seq++
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s%04d%s", prefix, s.seq, strings.ToUpper(hex.EncodeToString(b)))
}

// QuotaExceeded makes the next n API calls answer 429 RESOURCE_EXHAUSTED.
func (s *Server) QuotaExceeded(n int) { s.mu.Lock(); s.quota = n; s.mu.Unlock() }

// Requests counts calls by "METHOD kind" (kind: the last path segment's
// resource, such as "policies" or "issueCommand").
func (s *Server) Requests(key string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests[key] }

// CompleteSignup plays the admin finishing Google's signup page: it
// returns the callback URL the browser is sent to, with enterpriseToken.
func (s *Server) CompleteSignup(signupURL string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := "signupUrls/" + strings.TrimPrefix(signupURL, s.URL+"/signup/")
	su, ok := s.signups[name]
	if !ok {
		return "", fmt.Errorf("fakeamapi: no signup %s", signupURL)
	}
	su.token = s.id("ET")
	s.signups[name] = su
	u, err := url.Parse(su.callback)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("enterpriseToken", su.token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Policy returns a policy as last patched.
func (s *Server) Policy(name string) *am.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policies[name]
}

// Enterprise returns the enterprise of that name as Google keeps it (nil
// if none).
func (s *Server) Enterprise(name string) *am.Enterprise {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.enterprises[name]; e != nil {
		c := *e
		return &c
	}
	return nil
}

// Device returns a device as the API has it.
func (s *Server) Device(name string) *am.Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devices[name]
}

// Enroll plays a device provisioned with an enrollment token's value:
// the device is created with the token's policy and an ENROLLMENT
// notification published.
func (s *Server) Enroll(tokenValue, serial string) (*am.Device, error) {
	s.mu.Lock()
	var tok *am.EnrollmentToken
	for _, t := range s.tokens {
		if t.Value == tokenValue {
			tok = t
		}
	}
	if tok == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("fakeamapi: no enrollment token %q", tokenValue)
	}
	ent := tok.Name[:strings.Index(tok.Name, "/enrollmentTokens/")]
	if tok.OneTimeOnly {
		delete(s.tokens, tok.Name)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	d := &am.Device{Name: ent + "/devices/" + s.id("D"), PolicyName: tok.PolicyName, AppliedPolicyName: tok.PolicyName,
		State: "ACTIVE", AppliedState: "ACTIVE", ManagementMode: "DEVICE_OWNER", Ownership: "COMPANY_OWNED",
		EnrollmentTime: now, LastStatusReportTime: now, LastPolicySyncTime: now, PolicyCompliant: true,
		EnrollmentTokenName: tok.Name,
		HardwareInfo:        &am.HardwareInfo{Brand: "Google", Model: "Pixel 9", Manufacturer: "Google", SerialNumber: serial},
		SoftwareInfo:        &am.SoftwareInfo{AndroidVersion: "15", SecurityPatchLevel: "2026-10-05", AndroidBuildNumber: "AP4A.261005.001"},
		DeviceSettings:      &am.DeviceSettings{IsEncrypted: true, IsDeviceSecure: true, EncryptionStatus: "ENCRYPTED_PER_USER"}}
	if p := s.policies[tok.PolicyName]; p != nil {
		d.AppliedPolicyVersion = p.Version
	}
	s.devices[d.Name] = d
	n := s.notification(ent, "ENROLLMENT", d)
	s.mu.Unlock()
	s.publish(n)
	return d, nil
}

// Report changes a device and publishes its STATUS_REPORT.
func (s *Server) Report(device string, change func(*am.Device)) error {
	s.mu.Lock()
	d := s.devices[device]
	if d == nil {
		s.mu.Unlock()
		return fmt.Errorf("fakeamapi: no device %s", device)
	}
	change(d)
	d.LastStatusReportTime = time.Now().UTC().Format(time.RFC3339Nano)
	n := s.notification(device[:strings.Index(device, "/devices/")], "STATUS_REPORT", d)
	s.mu.Unlock()
	s.publish(n)
	return nil
}

// Finish ends a command's operation (with an error message, or "" for
// success) and publishes the COMMAND notification.
func (s *Server) Finish(operation, failure string) error {
	s.mu.Lock()
	op := s.operations[operation]
	if op == nil {
		s.mu.Unlock()
		return fmt.Errorf("fakeamapi: no operation %s", operation)
	}
	op.Done = true
	if failure != "" {
		op.Error = &am.Status{Code: 9, Message: failure}
	}
	n := s.notification(operation[:strings.Index(operation, "/devices/")], "COMMAND", op)
	s.mu.Unlock()
	s.publish(n)
	return nil
}

// Operations lists the names of a device's operations, oldest first.
func (s *Server) Operations(device string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.operations {
		if strings.HasPrefix(name, device+"/operations/") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) notification(enterprise, typ string, v any) Notification {
	b, _ := json.Marshal(v)
	topic := ""
	if e := s.enterprises[enterprise]; e != nil {
		topic = e.PubsubTopic
	}
	return Notification{Topic: topic, Enterprise: enterprise, Type: typ, Data: b}
}

func (s *Server) publish(n Notification) {
	if s.Notify != nil {
		s.Notify(n)
	}
}

// apiError answers in Google's JSON error envelope.
func apiError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	segs := strings.Split(path, "/")
	last := segs[len(segs)-1]
	if i := strings.Index(last, ":"); i >= 0 {
		last = last[i+1:]
	} else if len(segs)%2 == 0 && len(segs) > 1 {
		last = segs[len(segs)-2]
	}
	s.requests[r.Method+" "+last]++
	if s.quota > 0 {
		s.quota--
		w.Header().Set("Retry-After", "1")
		apiError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Requests'.")
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == "POST" && path == "signupUrls":
		if q.Get("projectId") == "" || q.Get("callbackUrl") == "" {
			apiError(w, 400, "INVALID_ARGUMENT", "projectId and callbackUrl are required")
			return
		}
		name := s.id("signupUrls/C")
		s.signups[name] = signup{project: q.Get("projectId"), callback: q.Get("callbackUrl")}
		writeJSON(w, am.SignupUrl{Name: name, Url: s.URL + "/signup/" + strings.TrimPrefix(name, "signupUrls/")})
	case r.Method == "POST" && path == "enterprises":
		su, ok := s.signups[q.Get("signupUrlName")]
		if !ok || su.token == "" || su.token != q.Get("enterpriseToken") || su.project != q.Get("projectId") {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid signup URL name or enterprise token.")
			return
		}
		var e am.Enterprise
		if json.NewDecoder(r.Body).Decode(&e) != nil {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
			return
		}
		delete(s.signups, q.Get("signupUrlName"))
		e.Name = s.id("enterprises/LC")
		s.enterprises[e.Name] = &e
		writeJSON(w, e)
	case len(segs) == 2 && segs[0] == "enterprises":
		e := s.enterprises[path]
		if e == nil {
			apiError(w, 404, "NOT_FOUND", "Enterprise "+path+" not found.")
			return
		}
		switch r.Method {
		case "GET":
			writeJSON(w, e)
		case "PATCH":
			var in am.Enterprise
			if json.NewDecoder(r.Body).Decode(&in) != nil {
				apiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
				return
			}
			for _, f := range strings.Split(q.Get("updateMask"), ",") {
				switch f {
				case "enterpriseDisplayName":
					e.EnterpriseDisplayName = in.EnterpriseDisplayName
				case "primaryColor":
					e.PrimaryColor = in.PrimaryColor
				case "logo":
					e.Logo = in.Logo
				case "":
				default:
					apiError(w, 400, "INVALID_ARGUMENT", "unknown field in the update mask: "+f)
					return
				}
			}
			writeJSON(w, e)
		case "DELETE":
			delete(s.enterprises, path)
			writeJSON(w, struct{}{})
		default:
			apiError(w, 405, "UNIMPLEMENTED", "method")
		}
	case len(segs) >= 3 && segs[0] == "enterprises":
		ent := segs[0] + "/" + segs[1]
		if s.enterprises[ent] == nil {
			apiError(w, 404, "NOT_FOUND", "Enterprise "+ent+" not found.")
			return
		}
		s.enterprise(w, r, ent, segs[2:], path)
	default:
		apiError(w, 404, "NOT_FOUND", "no such method "+r.Method+" "+r.URL.Path)
	}
}

// enterprise serves the collections under an enterprise.
func (s *Server) enterprise(w http.ResponseWriter, r *http.Request, ent string, rest []string, path string) {
	name, verb, _ := strings.Cut(path, ":")
	switch {
	case rest[0] == "policies" && len(rest) == 2 && r.Method == "PATCH":
		s.patchPolicy(w, r, path)
	case rest[0] == "policies" && len(rest) == 2 && r.Method == "GET":
		if p := s.policies[path]; p != nil {
			writeJSON(w, p)
			return
		}
		apiError(w, 404, "NOT_FOUND", "Policy "+path+" not found.")
	case rest[0] == "enrollmentTokens" && len(rest) == 1 && r.Method == "POST":
		s.createToken(w, r, ent)
	case rest[0] == "enrollmentTokens" && len(rest) == 2 && r.Method == "DELETE":
		delete(s.tokens, path)
		writeJSON(w, struct{}{})
	case rest[0] == "devices" && len(rest) == 1 && r.Method == "GET":
		s.listDevices(w, r, ent)
	case rest[0] == "devices" && len(rest) == 2 && verb == "issueCommand" && r.Method == "POST":
		s.issueCommand(w, r, name)
	case rest[0] == "devices" && len(rest) == 2:
		s.device(w, r, path)
	case rest[0] == "devices" && len(rest) == 4 && rest[2] == "operations" && r.Method == "GET":
		if op := s.operations[path]; op != nil {
			writeJSON(w, op)
			return
		}
		apiError(w, 404, "NOT_FOUND", "Operation "+path+" not found.")
	default:
		apiError(w, 404, "NOT_FOUND", "no such method "+r.Method+" "+r.URL.Path)
	}
}

// patchPolicy is enterprises.policies.patch: it creates or replaces the
// policy and counts its version.
func (s *Server) patchPolicy(w http.ResponseWriter, r *http.Request, path string) {
	var p am.Policy
	if json.NewDecoder(r.Body).Decode(&p) != nil {
		apiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	if p.PasswordRequirements != nil && p.PasswordRequirements.PasswordMinimumLength > 16 {
		apiError(w, 400, "INVALID_ARGUMENT", "Invalid value at 'policy.password_requirements.password_minimum_length'")
		return
	}
	old := s.policies[path]
	p.Name, p.Version = path, 1
	if old != nil {
		p.Version = old.Version + 1
	}
	s.policies[path] = &p
	writeJSON(w, p)
}

// createToken is enterprises.enrollmentTokens.create, with Google's
// provisioning QR code.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request, ent string) {
	var t am.EnrollmentToken
	if json.NewDecoder(r.Body).Decode(&t) != nil {
		apiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	if s.policies[t.PolicyName] == nil {
		apiError(w, 400, "INVALID_ARGUMENT", "Policy "+t.PolicyName+" not found.")
		return
	}
	d := time.Hour
	if t.Duration != "" {
		if parsed, err := time.ParseDuration(t.Duration); err == nil {
			d = parsed
		}
	}
	t.Name = ent + "/enrollmentTokens/" + s.id("T")
	t.Value = s.id("TOKEN")
	t.ExpirationTimestamp = time.Now().Add(d).UTC().Format(time.RFC3339Nano)
	qr, _ := json.Marshal(map[string]any{
		"android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME":            "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver",
		"android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM":        "I5YvS0O5hXY46mb01BlRjq4oJJGs2kuUcHvVkAPEXlg",
		"android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION": "https://play.google.com/managed/downloadManagingApp?identifier=setup",
		"android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE":                    map[string]string{"com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN": t.Value},
	})
	t.QrCode = string(qr)
	s.tokens[t.Name] = &t
	writeJSON(w, t)
}

// listDevices is enterprises.devices.list, in pages of at most two, so
// clients must follow nextPageToken.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, ent string) {
	q := r.URL.Query()
	var names []string
	for n := range s.devices {
		if strings.HasPrefix(n, ent+"/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	start := 0
	if pt := q.Get("pageToken"); pt != "" {
		fmt.Sscanf(pt, "%d", &start)
	}
	size := 2
	if ps := q.Get("pageSize"); ps != "" {
		fmt.Sscanf(ps, "%d", &size)
	}
	size = min(size, 2)
	resp := am.ListDevicesResponse{Devices: []*am.Device{}}
	for i := start; i < len(names) && len(resp.Devices) < size; i++ {
		resp.Devices = append(resp.Devices, s.devices[names[i]])
	}
	if next := start + len(resp.Devices); next < len(names) {
		resp.NextPageToken = fmt.Sprint(next)
	}
	writeJSON(w, resp)
}

// issueCommand is enterprises.devices.issueCommand: it answers the
// long-running operation that follows the command.
func (s *Server) issueCommand(w http.ResponseWriter, r *http.Request, name string) {
	if s.devices[name] == nil {
		apiError(w, 404, "NOT_FOUND", "Device "+name+" not found.")
		return
	}
	var c am.Command
	if json.NewDecoder(r.Body).Decode(&c) != nil || c.Type == "" {
		apiError(w, 400, "INVALID_ARGUMENT", "Invalid command.")
		return
	}
	c.CreateTime = time.Now().UTC().Format(time.RFC3339Nano)
	meta, _ := json.Marshal(map[string]any{"@type": "type.googleapis.com/google.android.devicemanagement.v1.Command",
		"type": c.Type, "createTime": c.CreateTime})
	op := &am.Operation{Name: name + "/operations/" + s.id("OP"), Metadata: meta}
	s.operations[op.Name] = op
	writeJSON(w, op)
}

// device is enterprises.devices.get, patch (its policy) and delete.
func (s *Server) device(w http.ResponseWriter, r *http.Request, path string) {
	d := s.devices[path]
	if d == nil {
		apiError(w, 404, "NOT_FOUND", "Device "+path+" not found.")
		return
	}
	switch r.Method {
	case "GET":
		writeJSON(w, d)
	case "PATCH":
		var patch am.Device
		if json.NewDecoder(r.Body).Decode(&patch) != nil {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
			return
		}
		if patch.PolicyName != "" {
			if s.policies[patch.PolicyName] == nil {
				apiError(w, 400, "INVALID_ARGUMENT", "Policy "+patch.PolicyName+" not found.")
				return
			}
			d.PolicyName = patch.PolicyName
		}
		writeJSON(w, d)
	case "DELETE":
		d.State = "DELETED"
		delete(s.devices, path)
		writeJSON(w, struct{}{})
	}
}
