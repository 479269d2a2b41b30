// Package fakedep is a local server speaking Apple's DEP (Device
// Assignment) API wire format, for tests of the real nanodep client:
// OAuth1 session authentication (GET /session, then X-ADM-Auth-Session),
// GET /account, the device fetch and sync with cursors and
// more_to_follow, and profile define and assign; errors come as Apple
// sends them (a status and an upper-case code in the body). It also plays
// Apple Business Manager's "download token" step: Token encrypts a server
// token to the certificate an admin uploaded, as the .p7m ABM serves.
//
// Apple's service cannot be reached from tests. Where Apple's documentation
// is silent (how cursors look, page sizes) the server makes its own
// choices; clients must treat cursors as opaque, so that is fair.
package fakedep

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smallstep/pkcs7"
)

// Device is a device Apple assigned to a server.
type Device struct {
	SerialNumber  string `json:"serial_number"`
	Model         string `json:"model"`
	Description   string `json:"description"`
	Color         string `json:"color"`
	DeviceFamily  string `json:"device_family"`
	OS            string `json:"os"`
	AssetTag      string `json:"asset_tag,omitempty"`
	ProfileStatus string `json:"profile_status"`
	ProfileUUID   string `json:"profile_uuid,omitempty"`
	AssignedBy    string `json:"device_assigned_by"`
	AssignedDate  string `json:"device_assigned_date"`
	OpType        string `json:"op_type,omitempty"`
	OpDate        string `json:"op_date,omitempty"`
}

// Server is a running fake DEP API with any number of ABM servers
// (accounts), each known by its consumer key.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	accounts map[string]*Account // by consumer key
	sessions map[string]string   // session token -> consumer key
	// Requests counts requests by path, for tests.
	requests map[string]int

	// AfterSync, if set, runs after a sync page is written and before the
	// client gets it, outside the server's lock: a test changes ABM (or
	// asks for another sync) while a sync run is under way.
	AfterSync func()
}

// Account is one ABM MDM server: its tokens, devices and profiles.
type Account struct {
	Name           string // the organization
	ConsumerKey    string
	consumerSecret string
	accessToken    string
	accessSecret   string
	expiry         time.Time

	// What tests switch.
	TermsNotSigned bool // every call answers 403 T_C_NOT_SIGNED
	Revoked        bool // /session answers 401: the token was replaced or revoked
	EchoCursor     bool // sync answers its own cursor with more_to_follow and no devices
	// FailSyncAfter makes the sync page after that many more successful
	// pages fail with a 500 (once); negative is off.
	FailSyncAfter int
	// AssignFails lists serials whose profile assignment FAILs.
	AssignFails map[string]bool
	// PageSize caps what one fetch or sync page returns, whatever the
	// client asks (Apple's own default is 100).
	PageSize int

	devices  map[string]Device // present devices, by serial
	log      []Device          // every change, in order: the sync feed
	profiles map[string]map[string]any
	assigned map[string]string // serial -> profile uuid
}

// New starts a server; Close it when done.
func New() *Server {
	s := &Server{accounts: map[string]*Account{}, sessions: map[string]string{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewAccount creates an ABM server whose token expires in a year.
func (s *Server) NewAccount(org string) *Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &Account{Name: org, ConsumerKey: "CK_" + randHex(8), consumerSecret: "CS_" + randHex(8),
		accessToken: "AT_" + randHex(8), accessSecret: "AS_" + randHex(8), expiry: time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second),
		FailSyncAfter: -1, AssignFails: map[string]bool{}, devices: map[string]Device{}, profiles: map[string]map[string]any{},
		assigned: map[string]string{}, PageSize: 100}
	s.accounts[a.ConsumerKey] = a
	return a
}

// Update changes an account's switches under the server's lock.
func (s *Server) Update(a *Account, f func(*Account)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(a)
}

// SetExpiry changes when the account's access token expires (in the token
// files Token makes from now on).
func (s *Server) SetExpiry(a *Account, t time.Time) {
	s.Update(a, func(a *Account) { a.expiry = t.UTC() })
}

// Requests returns how many requests path got.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Token is the .p7m file ABM lets an admin download for the account: its
// OAuth1 tokens, encrypted to cert (the public key the admin uploaded).
func (s *Server) Token(a *Account, cert *x509.Certificate) ([]byte, error) {
	s.mu.Lock()
	tok, _ := json.Marshal(map[string]string{"consumer_key": a.ConsumerKey, "consumer_secret": a.consumerSecret,
		"access_token": a.accessToken, "access_secret": a.accessSecret, "access_token_expiry": a.expiry.Format(time.RFC3339)})
	s.mu.Unlock()
	inner := "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
		"-----BEGIN MESSAGE-----\r\n" + string(tok) + "\r\n-----END MESSAGE-----\r\n"
	enc, err := pkcs7.Encrypt([]byte(inner), []*x509.Certificate{cert})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("Content-Type: application/pkcs7-mime; name=\"smime.p7m\"; smime-type=enveloped-data\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n")
	b.WriteString("Content-Description: S/MIME Encrypted Message\r\n\r\n")
	b64 := base64.StdEncoding.EncodeToString(enc)
	for len(b64) > 76 {
		b.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	b.WriteString(b64 + "\r\n")
	return []byte(b.String()), nil
}

// Add assigns devices to the account in ABM (op_type added).
func (s *Server) Add(a *Account, serials ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sn := range serials {
		d := Device{SerialNumber: sn, Model: "iPhone 16", Description: "IPHONE 16 BLACK 128GB", Color: "BLACK",
			DeviceFamily: "iPhone", OS: "iOS", ProfileStatus: "empty", AssignedBy: "admin@" + strings.ToLower(a.Name) + ".example",
			AssignedDate: time.Now().UTC().Format(time.RFC3339)}
		a.devices[sn] = d
		a.change(d, "added")
	}
}

// Modify changes a device's asset tag (op_type modified).
func (s *Server) Modify(a *Account, serial, assetTag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := a.devices[serial]
	d.AssetTag = assetTag
	a.devices[serial] = d
	a.change(d, "modified")
}

// Remove unassigns a device from the account (op_type deleted).
func (s *Server) Remove(a *Account, serial string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := a.devices[serial]
	delete(a.devices, serial)
	a.change(d, "deleted")
}

// Assigned returns the profile uuid assigned to serial, and the profile
// as defined.
func (s *Server) Assigned(a *Account, serial string) (string, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := a.assigned[serial]
	return u, a.profiles[u]
}

func (a *Account) change(d Device, op string) {
	d.OpType, d.OpDate = op, time.Now().UTC().Format(time.RFC3339)
	a.log = append(a.log, d)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/devices/sync" && s.AfterSync != nil {
		defer s.AfterSync() // after the deferred Unlock below
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.URL.Path]++
	if r.URL.Path == "/session" {
		s.session(w, r)
		return
	}
	a := s.accounts[s.sessions[r.Header.Get("X-ADM-Auth-Session")]]
	if a == nil {
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED")
		return
	}
	if a.Revoked { // its sessions end with it
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED")
		return
	}
	if a.TermsNotSigned {
		apiError(w, http.StatusForbidden, "T_C_NOT_SIGNED")
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /account":
		writeJSON(w, map[string]any{"server_name": a.Name + " MDM", "server_uuid": a.ConsumerKey, "admin_id": "admin@example.com",
			"facilitator_id": "admin@example.com", "org_name": a.Name, "org_email": "it@example.com", "org_phone": "+1 555 0100",
			"org_address": "1 Infinite Loop", "org_id": "ORG" + a.ConsumerKey[3:9], "org_type": "org", "org_version": "v2"})
	case "POST /server/devices":
		s.fetch(w, r, a)
	case "POST /devices/sync":
		s.sync(w, r, a)
	case "POST /profile":
		var p map[string]any
		if json.NewDecoder(r.Body).Decode(&p) != nil {
			apiError(w, http.StatusBadRequest, "MALFORMED_REQUEST_BODY")
			return
		}
		if u, _ := p["url"].(string); !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			apiError(w, http.StatusBadRequest, "CONFIG_URL_INVALID")
			return
		}
		u := strings.ToUpper(randHex(16))
		a.profiles[u] = p
		writeJSON(w, map[string]any{"profile_uuid": u, "devices": map[string]string{}})
	case "PUT /profile/devices":
		var req struct {
			ProfileUUID string   `json:"profile_uuid"`
			Devices     []string `json:"devices"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Devices) == 0 {
			apiError(w, http.StatusBadRequest, "MALFORMED_REQUEST_BODY")
			return
		}
		if a.profiles[req.ProfileUUID] == nil {
			apiError(w, http.StatusBadRequest, "PROFILE_NOT_FOUND")
			return
		}
		out := map[string]string{}
		for _, sn := range req.Devices {
			d, ok := a.devices[sn]
			switch {
			case !ok:
				out[sn] = "NOT_ACCESSIBLE"
			case a.AssignFails[sn]:
				out[sn] = "FAILED"
			default:
				out[sn] = "SUCCESS"
				a.assigned[sn] = req.ProfileUUID
				d.ProfileUUID, d.ProfileStatus = req.ProfileUUID, "assigned"
				a.devices[sn] = d
				a.change(d, "modified")
			}
		}
		writeJSON(w, map[string]any{"profile_uuid": req.ProfileUUID, "devices": out})
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND")
	}
}

// session checks the OAuth1 Authorization header's consumer key and
// access token (the signature is not checked) and opens a session.
func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	params := map[string]string{}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "OAuth ")
	for _, kv := range strings.Split(auth, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		params[k], _ = strconv.Unquote(v)
	}
	a := s.accounts[params["oauth_consumer_key"]]
	if !ok || a == nil || params["oauth_token"] != a.accessToken || params["oauth_signature_method"] != "HMAC-SHA1" || params["oauth_signature"] == "" {
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED")
		return
	}
	if a.Revoked || time.Now().After(a.expiry) {
		// Apple: an expired or revoked server token fails authentication.
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "ACCESS_DENIED")
		return
	}
	if a.TermsNotSigned {
		apiError(w, http.StatusForbidden, "T_C_NOT_SIGNED")
		return
	}
	tok := "SESSION_" + randHex(12)
	s.sessions[tok] = a.ConsumerKey
	w.Header().Set("X-ADM-Auth-Session", tok)
	writeJSON(w, map[string]string{"auth_session_token": tok})
}

type pageRequest struct {
	Cursor *string `json:"cursor"`
	Limit  int     `json:"limit"`
}

func (a *Account) limit(req pageRequest) int {
	n := req.Limit
	if n <= 0 {
		n = 100
	}
	if n > 1000 {
		n = 1000
	}
	if a.PageSize > 0 && n > a.PageSize {
		n = a.PageSize
	}
	return n
}

// Fetch cursors are "f<offset>.<log position at the fetch's start>";
// sync cursors "s<log position>".
func (s *Server) fetch(w http.ResponseWriter, r *http.Request, a *Account) {
	var req pageRequest
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		apiError(w, http.StatusBadRequest, "MALFORMED_REQUEST_BODY")
		return
	}
	offset, pos := 0, len(a.log)
	if req.Cursor != nil && *req.Cursor != "" {
		c := *req.Cursor
		if strings.HasPrefix(c, "s") {
			apiError(w, http.StatusBadRequest, "EXHAUSTED_CURSOR")
			return
		}
		o, p, ok := strings.Cut(strings.TrimPrefix(c, "f"), ".")
		var err1, err2 error
		offset, err1 = strconv.Atoi(o)
		pos, err2 = strconv.Atoi(p)
		if !ok || err1 != nil || err2 != nil || !strings.HasPrefix(c, "f") || pos > len(a.log) {
			apiError(w, http.StatusBadRequest, "INVALID_CURSOR")
			return
		}
	}
	serials := make([]string, 0, len(a.devices))
	for sn := range a.devices {
		serials = append(serials, sn)
	}
	sort.Strings(serials)
	n := a.limit(req)
	var page []Device
	for i := offset; i < len(serials) && len(page) < n; i++ {
		d := a.devices[serials[i]]
		d.OpType, d.OpDate = "", ""
		page = append(page, d)
	}
	next := offset + len(page)
	more := next < len(serials)
	cursor := "f" + strconv.Itoa(next) + "." + strconv.Itoa(pos)
	if !more {
		cursor = "s" + strconv.Itoa(pos)
	}
	writeJSON(w, map[string]any{"devices": page, "cursor": cursor, "more_to_follow": more,
		"fetched_until": time.Now().UTC().Format(time.RFC3339)})
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request, a *Account) {
	var req pageRequest
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Cursor == nil {
		apiError(w, http.StatusBadRequest, "MALFORMED_REQUEST_BODY")
		return
	}
	pos, err := strconv.Atoi(strings.TrimPrefix(*req.Cursor, "s"))
	if err != nil || !strings.HasPrefix(*req.Cursor, "s") || pos > len(a.log) {
		apiError(w, http.StatusBadRequest, "INVALID_CURSOR")
		return
	}
	if a.EchoCursor {
		writeJSON(w, map[string]any{"devices": []Device{}, "cursor": *req.Cursor, "more_to_follow": true,
			"fetched_until": time.Now().UTC().Format(time.RFC3339)})
		return
	}
	if a.FailSyncAfter == 0 {
		a.FailSyncAfter = -1
		apiError(w, http.StatusInternalServerError, "INTERNAL_ERROR")
		return
	}
	if a.FailSyncAfter > 0 {
		a.FailSyncAfter--
	}
	end := min(pos+a.limit(req), len(a.log))
	page := append([]Device{}, a.log[pos:end]...)
	writeJSON(w, map[string]any{"devices": page, "cursor": "s" + strconv.Itoa(end), "more_to_follow": end < len(a.log),
		"fetched_until": time.Now().UTC().Format(time.RFC3339)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF8")
	json.NewEncoder(w).Encode(v)
}

// apiError answers as Apple does: the status, and the code as a JSON
// string in the body.
func apiError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(code)
}
