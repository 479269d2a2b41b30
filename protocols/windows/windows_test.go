package windows_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/protocols/windows"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// env is a tenant with the Windows endpoints on a test server.
type env struct {
	t      testing.TB
	db     *tenancy.DB
	tenant tenancy.Tenant
	ctx    context.Context
	enroll *enrollment.Windows
	cmds   *commands.Queue
	certs  *pki.PKI
	srv    *httptest.Server
}

func newEnv(t testing.TB) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the handler's options changed by opts.
func newEnvWith(t testing.TB, opts func(*windows.Options)) *env {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	_, key, _ := seal.NewRandomKey()
	k, _ := seal.ParseKey(key)
	keys := seal.NewKeyring(k)
	certs := pki.New(db, events.NewPublisher(nil), keys)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	cmds := commands.New(db, inv, pub, commands.WithChecker(inventory.Windows, windows.Commands{}), commands.WithSecrets(keys))
	enroll := enrollment.NewWindows(db, certs, inv, pub, keys)
	o := windows.Options{Scheme: "https", Identity: windows.FromHeader, Poll: 20 * time.Minute, Keys: keys}
	if opts != nil {
		opts(&o)
	}
	h, err := windows.New(db, enroll, certs, inv, cmds, o, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(tenancy.NewResolver(dir).Middleware(testenv.Logger(t), mux))
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, tenant: tn, ctx: tenancy.WithTenant(context.Background(), tn.ID), enroll: enroll, cmds: cmds, certs: certs, srv: srv}
}

func (e *env) token() string {
	var tok enrollment.Token
	if err := e.db.Within(e.ctx, func(ctx context.Context) error {
		var err error
		tok, err = e.enroll.NewToken(e.ctx, time.Hour)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return tok.Secret
}

func (e *env) device() *devicesim.WindowsDevice {
	return devicesim.NewWindowsDevice(e.srv.URL, e.tenant.Slug+".trident.test")
}

func (e *env) queue(dev *devicesim.WindowsDevice, kind string, payload map[string]any) uuid.UUID {
	var id uuid.UUID
	if err := e.db.Tx(e.ctx, func(tx pgx.Tx) error {
		var d uuid.UUID
		if err := tx.QueryRow(e.ctx, `SELECT id FROM devices WHERE identifier = $1`, dev.DeviceID).Scan(&d); err != nil {
			return err
		}
		c, err := e.cmds.Enqueue(e.ctx, commands.NewCommand{DeviceID: d, Kind: kind, Payload: payload})
		id = c.ID
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) command(id uuid.UUID) commands.Command {
	var c commands.Command
	if err := e.db.Within(e.ctx, func(ctx context.Context) error {
		var err error
		c, err = e.cmds.Get(e.ctx, id)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// normalizer replaces what differs between runs (ids, times, keys) with
// names, so exchanges compare byte for byte.
type normalizer struct{ literal []string }

var (
	reUUID   = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	reTime   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	reB64    = regexp.MustCompile(`([>"])[A-Za-z0-9+/]{60,}={0,2}([<"])`)
	reLocal  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	reThumb  = regexp.MustCompile(`\b[0-9A-F]{40}\b`)
	reHost   = regexp.MustCompile(`[a-z0-9-]+\.trident\.test(:\d+)?`)
	reDevice = regexp.MustCompile(`\b[0-9A-F]{32}\b`)
)

func (n normalizer) apply(s string) string {
	for i := 0; i+1 < len(n.literal); i += 2 {
		if n.literal[i] != "" {
			s = strings.ReplaceAll(s, n.literal[i], n.literal[i+1])
		}
	}
	s = reUUID.ReplaceAllString(s, "UUID")
	s = reTime.ReplaceAllString(s, "TIME")
	s = reB64.ReplaceAllString(s, "${1}BASE64${2}")
	s = reLocal.ReplaceAllString(s, "tenant.trident.test")
	s = reThumb.ReplaceAllString(s, "THUMBPRINT")
	s = reDevice.ReplaceAllString(s, "DEVICEID")
	return reHost.ReplaceAllString(s, "tenant.trident.test")
}

// indent pretty-prints XML keeping its prefixes as written.
func indent(b []byte) string {
	d := xml.NewDecoder(bytes.NewReader(b))
	var out strings.Builder
	depth := 0
	var pending *xml.StartElement // a start tag not yet closed, in case the element is empty
	text := ""
	name := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	open := func(se xml.StartElement, selfClose bool) string {
		var s strings.Builder
		s.WriteString("<" + name(se.Name))
		for _, a := range se.Attr {
			var v strings.Builder
			xml.EscapeText(&v, []byte(a.Value))
			s.WriteString(" " + name(a.Name) + `="` + v.String() + `"`)
		}
		if selfClose {
			s.WriteString("/")
		}
		return s.String() + ">"
	}
	flush := func() {
		if pending != nil {
			out.WriteString(strings.Repeat("  ", depth-1) + open(*pending, false) + "\n")
			pending = nil
		}
	}
	for {
		tok, err := d.RawToken()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			flush()
			se := v.Copy()
			pending = &se
			text = ""
			depth++
		case xml.CharData:
			text += string(v)
		case xml.EndElement:
			depth--
			t := strings.TrimSpace(text)
			switch {
			case pending != nil && t == "":
				out.WriteString(strings.Repeat("  ", depth) + open(*pending, true) + "\n")
			case pending != nil:
				var esc strings.Builder
				xml.EscapeText(&esc, []byte(t))
				out.WriteString(strings.Repeat("  ", depth) + open(*pending, false) + esc.String() + "</" + name(v.Name) + ">\n")
			default:
				out.WriteString(strings.Repeat("  ", depth) + "</" + name(v.Name) + ">\n")
			}
			pending, text = nil, ""
		}
	}
	return out.String()
}

// recorder keeps a device's exchanges for the golden files.
type recorder struct {
	n     int
	files map[string]string
	norm  *normalizer
	names []string
}

func (r *recorder) record(kind string, req, answer []byte) {
	r.n++
	name := fmt.Sprintf("%02d-%s.xml", r.n, kind)
	r.names = append(r.names, name)
	r.files[name] = "<!-- " + kind + ": request -->\n" + r.norm.apply(indent(req)) + "<!-- " + kind + ": answer -->\n" + r.norm.apply(indent(answer))
}

func (r *recorder) add(name, body string) {
	r.names = append(r.names, name)
	r.files[name] = r.norm.apply(body)
}

// check compares the recorded exchanges with testdata/golden, or rewrites
// them with -update.
func (r *recorder) check(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	if *update {
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		for name, body := range r.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(r.files) {
		t.Errorf("testdata/golden has %d files; the exchange has %d (run with -update after checking the difference)", len(entries), len(r.files))
	}
	for _, name := range r.names {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := r.files[name]; got != string(want) {
			t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
		}
	}
}

// Every SOAP and SyncML exchange of a device's life, normalized and
// compared with checked-in golden files whose shapes follow the examples
// in MS-MDE2 (sections 4.1-4.4: discovery, GetPolicies,
// RequestSecurityToken and the wap-provisioningdoc) and OMA-DM 1.2 with
// MS-MDM (SyncHdr, Status, Results, Alert 1201/1222/1226, Atomic,
// MoreData). The shapes are also asserted below, so a golden file
// rewritten by mistake still has to match the documents.
func TestGoldenExchanges(t *testing.T) {
	e := newEnv(t)
	dev := e.device()
	dev.Nodes["./Vendor/MSFT/Large/Node"] = strings.Repeat("abcdefghij", 12)
	dev.ChunkSize = 50
	dev.Refuse["./Device/Vendor/MSFT/RemoteLock/Lock"] = 405
	tok := e.token()
	rec := &recorder{files: map[string]string{}}
	rec.norm = &normalizer{literal: []string{tok, "TOKEN", dev.DeviceID, "DEVICEID", dev.HWDevID, "HWDEVID", dev.Name, "DESKTOP-NAME",
		dev.Nodes["./DevDetail/Ext/Microsoft/SMBIOSSerialNumber"], "SERIAL"}}
	dev.Record = rec.record

	if err := dev.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Policies(e.ctx, "wrong", false); err == nil {
		t.Fatal("a wrong token got the policies")
	}
	if _, err := dev.Policies(e.ctx, tok, false); err != nil {
		t.Fatal(err)
	}
	var doc []byte
	dev.Record = func(kind string, req, answer []byte) {
		rec.record(kind, req, answer)
		doc = answer
	}
	if err := dev.Enroll(e.ctx, tok, false); err != nil {
		t.Fatal(err)
	}
	dev.Record = rec.record
	rec.add(fmt.Sprintf("%02d-provisioningdoc.xml", rec.n), "<!-- the provisioning document in the enrollment answer -->\n"+indent(provisioningDoc(t, doc)))

	e.queue(dev, "query_settings", map[string]any{"loc_uris": []string{"./DevDetail/SwV", "./Vendor/MSFT/Large/Node"}})
	e.queue(dev, "apply_settings", map[string]any{"settings": []map[string]any{
		{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": "0"},
		{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana", "value": "0", "action": "add"},
		{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordEnabled", "action": "delete"},
	}})
	e.queue(dev, "apply_settings", map[string]any{"atomic": true, "settings": []map[string]any{
		{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Browser/AllowCookies", "value": "2"},
		{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring", "value": "true", "format": "bool"},
	}})
	e.queue(dev, "restart", nil)
	e.queue(dev, "lock", nil)
	if _, err := dev.Session(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Unenroll(e.ctx); err != nil {
		t.Fatal(err)
	}

	// Federated: discovery names the tenant's login page, and the token
	// it hands out rides in a BinarySecurityToken.
	if err := e.db.Within(e.ctx, func(ctx context.Context) error {
		_, err := e.enroll.SetFederation(e.ctx, enrollment.Federation{Issuer: "https://login.contoso.test", ClientID: "c", ClientSecret: "s"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	fdev := e.device()
	rec.norm.literal = append(rec.norm.literal, fdev.DeviceID, "DEVICEID", fdev.HWDevID, "HWDEVID", fdev.Name, "DESKTOP-NAME")
	fdev.Record = rec.record
	if err := fdev.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	var ftok enrollment.Token
	if err := e.db.Within(e.ctx, func(ctx context.Context) error {
		f, err := e.enroll.Federation(e.ctx)
		if err != nil {
			return err
		}
		ftok, err = e.enroll.FederatedToken(e.ctx, f, enrollment.Person{Subject: "u1", Email: "ana@contoso.test", EmailVerified: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rec.norm.literal = append(rec.norm.literal, base64.StdEncoding.EncodeToString([]byte(ftok.Secret)), "FEDERATED-TOKEN")
	if _, err := fdev.Policies(e.ctx, ftok.Secret, true); err != nil {
		t.Fatal(err)
	}
	if err := fdev.Enroll(e.ctx, ftok.Secret, true); err != nil {
		t.Fatal(err)
	}
	if fdev.AuthPolicy != "Federated" || fdev.AuthenticationURL == "" {
		t.Errorf("federated discovery: %q %q", fdev.AuthPolicy, fdev.AuthenticationURL)
	}
	// The certificate's renewal (MS-WSTEP Renew): a PKCS#7 signed with the
	// current certificate, answered with the certificate stores only.
	var renewal []byte
	fdev.Record = func(kind string, req, answer []byte) {
		rec.record(kind, req, answer)
		renewal = answer
	}
	if err := fdev.Renew(e.ctx, devicesim.RenewPKCS7); err != nil {
		t.Fatal(err)
	}
	rec.add(fmt.Sprintf("%02d-renewaldoc.xml", rec.n), "<!-- the provisioning document in the renewal answer -->\n"+indent(provisioningDoc(t, renewal)))
	rec.check(t)

	// The shapes, from the documents.
	shapes := map[string][]string{
		"discover": {"Envelope/Header/Action", "Envelope/Header/RelatesTo", "Envelope/Body/DiscoverResponse/DiscoverResult/AuthPolicy", "Envelope/Body/DiscoverResponse/DiscoverResult/EnrollmentVersion", "Envelope/Body/DiscoverResponse/DiscoverResult/EnrollmentPolicyServiceUrl", "Envelope/Body/DiscoverResponse/DiscoverResult/EnrollmentServiceUrl"},
		"policies": {"Envelope/Body/GetPoliciesResponse/response/policies/policy/attributes/privateKeyAttributes/minimalKeyLength", "Envelope/Body/GetPoliciesResponse/response/policies/policy/attributes/hashAlgorithmOIDReference", "Envelope/Body/GetPoliciesResponse/oIDs/oID/value"},
		"renew":    {"Envelope/Body/RequestSecurityTokenResponseCollection/RequestSecurityTokenResponse/RequestedSecurityToken/BinarySecurityToken"},
		"enroll":   {"Envelope/Header/Security/Timestamp/Created", "Envelope/Body/RequestSecurityTokenResponseCollection/RequestSecurityTokenResponse/TokenType", "Envelope/Body/RequestSecurityTokenResponseCollection/RequestSecurityTokenResponse/RequestedSecurityToken/BinarySecurityToken", "Envelope/Body/RequestSecurityTokenResponseCollection/RequestSecurityTokenResponse/RequestID"},
		"session":  {"SyncML/SyncHdr/VerDTD", "SyncML/SyncHdr/VerProto", "SyncML/SyncHdr/SessionID", "SyncML/SyncHdr/MsgID", "SyncML/SyncHdr/Target/LocURI", "SyncML/SyncHdr/Source/LocURI", "SyncML/SyncBody/Status/CmdID", "SyncML/SyncBody/Status/MsgRef", "SyncML/SyncBody/Status/CmdRef", "SyncML/SyncBody/Status/Cmd", "SyncML/SyncBody/Status/Data"},
		// CertificateStore/Root/System/{thumbprint}, APPLICATION's parms,
		// DMClient/Provider/Trident/Poll.
		"provisioningdoc": {"wap-provisioningdoc/characteristic/characteristic/characteristic/characteristic/parm", "wap-provisioningdoc/characteristic/parm",
			"wap-provisioningdoc/characteristic/characteristic/characteristic/characteristic/parm"},
		// CertificateStore/My/System/{thumbprint} and My/WSTEP/Renew.
		"renewaldoc": {"wap-provisioningdoc/characteristic/characteristic/characteristic/characteristic/parm",
			"wap-provisioningdoc/characteristic/characteristic/characteristic/characteristic/parm"},
		"fault": {"Envelope/Header/Action", "Envelope/Body/Fault/Code/Value", "Envelope/Body/Fault/Code/Subcode/Value", "Envelope/Body/Fault/Reason/Text"},
	}
	for _, name := range rec.names {
		kind := strings.TrimSuffix(name[3:], ".xml")
		body := rec.files[name]
		if i := strings.Index(body, ": answer -->\n"); i >= 0 {
			body = body[i+len(": answer -->\n"):]
		}
		if strings.Contains(body, "<s:Fault>") {
			kind = "fault"
		}
		paths := elementPaths(t, name, body)
		for _, want := range shapes[kind] {
			if !paths[want] {
				t.Errorf("%s lacks %s (MS-MDE2/OMA-DM shape)", name, want)
			}
		}
	}
}

func provisioningDoc(t *testing.T, answer []byte) []byte {
	var a struct {
		Token string `xml:"Body>RequestSecurityTokenResponseCollection>RequestSecurityTokenResponse>RequestedSecurityToken>BinarySecurityToken"`
	}
	if err := xml.Unmarshal(answer, &a); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(a.Token)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// elementPaths lists the element paths (local names) of an XML document.
func elementPaths(t *testing.T, name, doc string) map[string]bool {
	d := xml.NewDecoder(strings.NewReader(doc))
	paths := map[string]bool{}
	var stack []string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case xml.StartElement:
			stack = append(stack, v.Name.Local)
			paths[strings.Join(stack, "/")] = true
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(paths) == 0 {
		t.Errorf("%s: no XML", name)
	}
	return paths
}

func (e *env) enrolled() *devicesim.WindowsDevice {
	dev := e.device()
	if err := dev.Discover(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if err := dev.Enroll(e.ctx, e.token(), false); err != nil {
		e.t.Fatal(err)
	}
	return dev
}

func message(dev *devicesim.WindowsDevice, session, msg int, body string) []byte {
	return []byte(fmt.Sprintf(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>`+
		`<SessionID>%d</SessionID><MsgID>%d</MsgID><Target><LocURI>%s</LocURI></Target><Source><LocURI>%s</LocURI></Source></SyncHdr>`+
		`<SyncBody>%s<Final/></SyncBody></SyncML>`, session, msg, dev.ManagementURL, dev.DeviceID, body))
}

// A session that ends before the device answers loses nothing: the next
// session starts by sending the same commands again. Answers naming
// commands that are not the device's change nothing.
func TestSessionResendAndForeignAnswers(t *testing.T) {
	e := newEnv(t)
	dev, other := e.enrolled(), e.enrolled()
	restart := e.queue(dev, "restart", nil)
	foreign := e.queue(other, "restart", nil)
	if _, err := other.Send(e.ctx, message(other, 1, 1, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`)); err != nil {
		t.Fatal(err) // other takes its command and never answers
	}
	// dev's first session: it takes the restart, then goes away.
	b, err := dev.Send(e.ctx, message(dev, 1, 1, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`))
	if err != nil || !strings.Contains(string(b), restart.String()+".1") {
		t.Fatalf("first session: %v %s", err, b)
	}
	// It answers the other device's command and one that does not exist.
	body := fmt.Sprintf(`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>%s.1</CmdRef><Cmd>Exec</Cmd><Data>200</Data></Status>`+
		`<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>%s.1</CmdRef><Cmd>Exec</Cmd><Data>200</Data></Status>`, foreign, uuid.New())
	if _, err := dev.Send(e.ctx, message(dev, 1, 2, body)); err != nil {
		t.Fatal(err)
	}
	if c := e.command(foreign); c.Status != commands.Sent {
		t.Errorf("another device's command after a stranger's answer: %s", c.Status)
	}
	// The next session sends the restart again.
	res, err := dev.Session(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commands) != 1 || res.Commands[0] != "Exec ./Device/Vendor/MSFT/Reboot/RebootNow" {
		t.Errorf("second session: %+v", res)
	}
	if c := e.command(restart); c.Status != commands.Acknowledged || c.Attempts != 2 {
		t.Errorf("restart: %s after %d attempts", c.Status, c.Attempts)
	}
}

// Protocol errors the device can act on.
func TestSessionRefusals(t *testing.T) {
	e := newEnv(t)
	dev := e.enrolled()
	send := func(msg []byte) string {
		b, err := dev.Send(e.ctx, msg)
		var herr *devicesim.HTTPError
		if err != nil && !errors.As(err, &herr) {
			t.Fatal(err)
		}
		return string(b)
	}
	// An older protocol: the header's status says so.
	old := strings.Replace(string(message(dev, 1, 1, "")), "<VerDTD>1.2</VerDTD>", "<VerDTD>1.1</VerDTD>", 1)
	if b := send([]byte(old)); !strings.Contains(b, "<Cmd>SyncHdr</Cmd><Data>505</Data>") {
		t.Errorf("SyncML 1.1: %s", b)
	}
	// Commands a server does not take from a device.
	if b := send(message(dev, 1, 1, `<Get><CmdID>7</CmdID><Item><Target><LocURI>./x</LocURI></Target></Item></Get>`)); !strings.Contains(b, "<CmdRef>7</CmdRef><Cmd>Get</Cmd><Data>405</Data>") {
		t.Errorf("a Get from the device: %s", b)
	}
	// A certificate of this tenant's CA that no enrollment holds.
	stranger := e.enrolled()
	stranger.DeviceID = "NOT-ENROLLED"
	if b := send(message(stranger, 1, 1, "")); strings.Contains(b, "200</Data>") {
		t.Errorf("no enrollment: %s", b)
	}
}

// More commands than one reply carries go in the session's next
// messages, in order.
func TestSessionAcrossMessages(t *testing.T) {
	e := newEnv(t)
	dev := e.enrolled()
	var ids []uuid.UUID
	for i := range 25 {
		ids = append(ids, e.queue(dev, "query_settings", map[string]any{"loc_uris": []string{fmt.Sprintf("./Vendor/MSFT/Node%d", i)}}))
		dev.Nodes[fmt.Sprintf("./Vendor/MSFT/Node%d", i)] = fmt.Sprint(i)
	}
	res, err := dev.Session(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 3 || len(res.Commands) != 25 || res.Commands[24] != "Get ./Vendor/MSFT/Node24" {
		t.Errorf("session: %d messages, commands %v", res.Messages, res.Commands)
	}
	for i, id := range ids {
		if c := e.command(id); c.Status != commands.Acknowledged || !strings.Contains(string(c.Result), fmt.Sprintf(`"value": "%d"`, i)) {
			t.Errorf("command %d: %s %s", i, c.Status, c.Result)
		}
	}
}

// A canceled erase and a lock past its deadline never reach a Windows
// device's session: the session carries only the command after them, and
// the restart handed out is marked sent with its attempt.
func TestSessionNeverSendsCanceledOrExpired(t *testing.T) {
	e := newEnv(t)
	dev := e.enrolled()
	erase := e.queue(dev, "erase", nil)
	lock := e.queue(dev, "lock", nil)
	restart := e.queue(dev, "restart", nil)
	if err := e.db.Tx(e.ctx, func(tx pgx.Tx) error {
		if _, err := e.cmds.Cancel(e.ctx, erase); err != nil {
			return err
		}
		_, err := tx.Exec(e.ctx, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, lock)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b, err := dev.Send(e.ctx, message(dev, 1, 1, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "RemoteWipe") || strings.Contains(string(b), "RemoteLock") || !strings.Contains(string(b), restart.String()+".1") {
		t.Fatalf("the session's commands: %s", b)
	}
	for id, want := range map[uuid.UUID]commands.Status{erase: commands.Canceled, lock: commands.Expired, restart: commands.Sent} {
		if c := e.command(id); c.Status != want || (want == commands.Sent) != (c.Attempts == 1 && c.SentAt != nil) {
			t.Errorf("%s: %s after %d attempts; want %s", c.Kind, c.Status, c.Attempts, want)
		}
	}
}

// What Windows DM clients actually send: Results that name the node in
// Target rather than Source, and an Atomic answered only as a whole.
func TestSessionTargetResultsAndAtomicStatus(t *testing.T) {
	e := newEnv(t)
	dev := e.enrolled()
	query := e.queue(dev, "query_settings", map[string]any{"loc_uris": []string{"./DevDetail/SwV"}})
	atomic := e.queue(dev, "apply_settings", map[string]any{"atomic": true, "settings": []any{
		map[string]any{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera", "value": "0"},
		map[string]any{"loc_uri": "./Device/Vendor/MSFT/Policy/Config/Bluetooth/AllowDiscoverableMode", "value": "0"},
	}})
	if _, err := dev.Send(e.ctx, message(dev, 7, 1, `<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>`)); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>`+
		`<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>%[1]s.1</CmdRef><Cmd>Get</Cmd><Data>200</Data></Status>`+
		`<Results><CmdID>3</CmdID><MsgRef>1</MsgRef><CmdRef>%[1]s.1</CmdRef><Item><Target><LocURI>./DevDetail/SwV</LocURI></Target>`+
		`<Meta><Format xmlns="syncml:metinf">chr</Format></Meta><Data>10.0.22631.4460</Data></Item></Results>`+
		`<Status><CmdID>4</CmdID><MsgRef>1</MsgRef><CmdRef>%[2]s</CmdRef><Cmd>Atomic</Cmd><Data>200</Data></Status>`, query, atomic)
	if _, err := dev.Send(e.ctx, message(dev, 7, 2, body)); err != nil {
		t.Fatal(err)
	}
	if c := e.command(query); c.Status != commands.Acknowledged || !strings.Contains(string(c.Result), "10.0.22631.4460") {
		t.Errorf("a Results item naming its node in Target: %s %s", c.Status, c.Result)
	}
	if c := e.command(atomic); c.Status != commands.Acknowledged {
		t.Errorf("an Atomic answered as a whole: %s %s %s", c.Status, c.Error, c.Result)
	}
}

// Windows' enrollment and DM clients read one message of a stated length:
// "the HTTP server response must not be chunked" (Microsoft's enrollment
// documentation). Every endpoint's answer, faults and a SyncML reply over
// 64 KB included, carries Content-Length (the simulator refuses a chunked
// answer, as Windows does).
func TestAnswersAreWholeMessages(t *testing.T) {
	e := newEnv(t)
	dev := e.device()
	tok := e.token()
	if err := dev.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Policies(e.ctx, tok, false); err != nil {
		t.Fatal(err)
	}
	if err := dev.Enroll(e.ctx, tok, false); err != nil {
		t.Fatal(err)
	}
	if dev.Largest < 8<<10 {
		t.Errorf("the enrollment answer is %d bytes; want the whole provisioning document (several KB)", dev.Largest)
	}
	e.queue(dev, "apply_settings", map[string]any{"settings": []map[string]any{
		{"loc_uri": "./Device/Vendor/MSFT/Policy/ConfigOperations/ADMXInstall/App/Policy/Big", "value": strings.Repeat("<policy/>", 12000), "format": "chr"},
	}})
	if _, err := dev.Session(e.ctx); err != nil {
		t.Fatal(err)
	}
	if dev.Largest <= 64<<10 {
		t.Errorf("the largest answer is %d bytes; the test wants one over 64 KB", dev.Largest)
	}
	// A fault is a whole message too.
	resp, err := http.Post(e.srv.URL+windows.EnrollmentPath, "application/soap+xml", strings.NewReader(`<not-soap/>`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 && (resp.ContentLength < 0 || len(resp.TransferEncoding) > 0) {
		t.Errorf("a fault: %d, Content-Length %d, %v", resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+windows.EnrollmentPath, strings.NewReader(`<not-soap/>`))
	req.Host = e.tenant.Slug + ".trident.test"
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.ContentLength <= 0 || len(resp.TransferEncoding) > 0 {
		t.Errorf("a fault: %d, Content-Length %d, %v; want 400 with a length", resp.StatusCode, resp.ContentLength, resp.TransferEncoding)
	}
}

// sample reads one of Microsoft's published sample requests.
func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "microsoft", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// post sends body to path on the tenant's hostname.
func (e *env) post(path, contentType, body string) (int, string, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Host = e.tenant.Slug + ".trident.test"
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), resp.Header
}

// Microsoft's sample requests, sent as the documentation prints them
// (whitespace around Action, TokenType and RequestType; the Discover
// namespace with a trailing slash; a MessageID with a space), are read as
// what they are: the samples' own placeholders (a password that is no
// enrollment token, "BinarySecurityTokenInsertedHere") are what is
// refused, and with only those filled in, the device enrolls.
func TestMicrosoftSamples(t *testing.T) {
	e := newEnv(t)
	const soap = "application/soap+xml; charset=utf-8"

	code, body, _ := e.post(windows.DiscoveryPath, soap, sample(t, "discover.xml"))
	if code != 200 || !strings.Contains(body, "<EnrollmentPolicyServiceUrl>https://"+e.tenant.Slug+".trident.test/EnrollmentServer/Policy.svc</EnrollmentPolicyServiceUrl>") ||
		!strings.Contains(body, "<a:RelatesTo>urn:uuid: 748132ec-a575-4329-b01b-6171a9cf8478</a:RelatesTo>") {
		t.Fatalf("Microsoft's Discover: %d %s", code, body)
	}

	code, body, _ = e.post(windows.PolicyPath, soap, sample(t, "getpolicies.xml"))
	if code != 400 || !strings.Contains(body, "s:Authentication") {
		t.Errorf("Microsoft's GetPolicies with its sample password: %d %s; want an Authentication fault, not a format one", code, body)
	}
	tok := e.token()
	code, body, _ = e.post(windows.PolicyPath, soap, strings.Replace(sample(t, "getpolicies.xml"), ">mypassword<", ">"+tok+"<", 1))
	if code != 200 || !strings.Contains(body, "<GetPoliciesResponse") {
		t.Fatalf("Microsoft's GetPolicies with a token: %d %s", code, body)
	}

	code, body, _ = e.post(windows.EnrollmentPath, soap, sample(t, "rst.xml"))
	if code != 400 || !strings.Contains(body, "s:CertificateRequest") {
		t.Errorf("Microsoft's RequestSecurityToken with its placeholder: %d %s; want a CertificateRequest fault", code, body)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "7BA748C8703241E99D5F98D0D2C4E04C"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := base64.StdEncoding.EncodeToString(der)
	rst := strings.Replace(sample(t, "rst.xml"), ">mypassword<", ">"+tok+"<", 1)
	rst = strings.Replace(rst, "BinarySecurityTokenInsertedHere", csr, 1)
	code, body, _ = e.post(windows.EnrollmentPath, soap, rst)
	if code != 200 || !strings.Contains(body, "RequestSecurityTokenResponseCollection") {
		t.Fatalf("Microsoft's RequestSecurityToken filled in: %d %s", code, body)
	}

	// The sample SyncML session start reads as a session start; with no
	// certificate it is refused with SyncML's own 403, not a parse error.
	code, body, _ = e.post(windows.ManagementPath, "application/vnd.syncml.dm+xml", sample(t, "syncml-alert.xml"))
	if code != 403 || !strings.Contains(body, "<Data>403</Data>") || !strings.Contains(body, "<MsgRef>1</MsgRef>") {
		t.Errorf("Microsoft's SyncML session start: %d %s", code, body)
	}
}

// What the enrolled device is told to do: find its certificate by
// SSLCLIENTCERTSEARCHCRITERIA written as the w7 APPLICATION CSP specifies
// (its values URL-escaped, "=" included, and the certificate's whole
// subject), keep its key in the TPM where there is one, and poll at the
// first login of every user.
func TestEnrollmentKeysPollAndCertificateSearch(t *testing.T) {
	e := newEnv(t)
	dev := e.device()
	var doc []byte
	dev.Record = func(kind string, _, answer []byte) {
		if kind == "enroll" {
			doc = answer
		}
	}
	tok := e.token()
	if err := dev.Discover(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Policies(e.ctx, tok, false); err != nil {
		t.Fatal(err)
	}
	if len(dev.KeyProviders) != 2 || dev.KeyProviders[0] != windows.TPMProvider || dev.KeyProviders[1] != windows.SoftwareProvider {
		t.Errorf("key storage providers %q; want the TPM's first, then the software one", dev.KeyProviders)
	}
	if err := dev.Enroll(e.ctx, tok, false); err != nil {
		t.Fatal(err)
	}
	if !dev.PollOnFirstLogin {
		t.Error("no AllUsersPollOnFirstLogin")
	}
	crit := regexp.MustCompile(`name="SSLCLIENTCERTSEARCHCRITERIA" value="([^"]*)"`).FindStringSubmatch(string(provisioningDoc(t, doc)))
	if crit == nil {
		t.Fatal("no SSLCLIENTCERTSEARCHCRITERIA")
	}
	value := strings.ReplaceAll(crit[1], "&amp;", "&")
	subjectValue := strings.TrimPrefix(strings.Split(value, "&")[0], "Subject=")
	if strings.ContainsAny(subjectValue, "=, ") {
		t.Errorf("the subject %q is not escaped: '=' ',' and ' ' must be %%-encoded", subjectValue)
	}
	subject, store, err := devicesim.SearchCriteria(value)
	if err != nil || store != `MY\System` || subject != dev.Cert.Subject.String() || !strings.Contains(subject, "OU=") || !strings.Contains(subject, "O=Trident") {
		t.Fatalf("criteria %q read back as %q in %q (%v); want the certificate's subject %q", value, subject, store, err, dev.Cert.Subject)
	}
	if dev.CertNotFound {
		t.Fatal("the device cannot find its certificate")
	}
	if _, err := dev.Session(e.ctx); err != nil {
		t.Fatalf("a session with the certificate the criteria found: %v", err)
	}
}

// Windows renews its certificate itself (MS-WSTEP Renew, "ROBO") when the
// provisioning document's renewal period starts: with the current
// certificate as the credential, no enrollment token. The new certificate
// has the same subject (the DM client finds it by its search criteria),
// the old one keeps working until it expires, and a renewal with a
// certificate that is revoked, expired, already renewed, or not the one
// the PKCS#7 is signed with is refused with a SOAP fault.
func TestCertificateRenewal(t *testing.T) {
	e := newEnv(t)
	dev := e.enrolled()
	if !dev.ROBO || dev.RenewPeriodDays != windows.RenewPeriodDays || dev.RetryDays != windows.RetryIntervalDays ||
		!strings.HasSuffix(dev.RenewURL, windows.EnrollmentPath) {
		t.Fatalf("renewal settings: ROBO %v, period %d days, retry %d days, URL %q", dev.ROBO, dev.RenewPeriodDays, dev.RetryDays, dev.RenewURL)
	}
	first := dev.Cert
	if err := dev.Renew(e.ctx, devicesim.RenewPKCS7); err != nil {
		t.Fatal(err)
	}
	if dev.Cert.SerialNumber.Cmp(first.SerialNumber) == 0 || dev.Cert.Subject.String() != first.Subject.String() || dev.CertNotFound {
		t.Fatalf("renewed: serial %s (was %s), subject %q (was %q)", dev.Cert.SerialNumber, first.SerialNumber, dev.Cert.Subject, first.Subject)
	}
	var renews, enrolledWith string
	if err := e.db.Tx(e.ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(e.ctx, `SELECT renewal_of FROM issued_certificates WHERE serial = $1`, fmt.Sprintf("%x", dev.Cert.SerialNumber.Bytes())).Scan(&renews); err != nil {
			return err
		}
		return tx.QueryRow(e.ctx, `SELECT cert_serial FROM windows_enrollments WHERE device_id = $1`, dev.DeviceID).Scan(&enrolledWith)
	}); err != nil {
		t.Fatal(err)
	}
	if renews != fmt.Sprintf("%x", first.SerialNumber.Bytes()) || enrolledWith != fmt.Sprintf("%x", dev.Cert.SerialNumber.Bytes()) {
		t.Errorf("records: renewal_of %s, enrollment on %s", renews, enrolledWith)
	}
	// Both certificates open sessions.
	if _, err := dev.Session(e.ctx); err != nil {
		t.Fatalf("a session with the renewed certificate: %v", err)
	}
	renewed := dev.Cert
	dev.Cert = first
	if _, err := dev.Session(e.ctx); err != nil {
		t.Fatalf("a session with the certificate it renewed, still current: %v", err)
	}
	// The renewed-from certificate cannot renew again.
	again := *dev
	again.Cert, again.Key = first, dev.PreviousKey
	var fault *devicesim.SOAPFault
	if err := again.Renew(e.ctx, devicesim.RenewPKCS7); !errors.As(err, &fault) || fault.Subcode != "s:Authorization" || fault.HTTPStatus != 400 {
		t.Errorf("a second renewal from the old certificate: %v", err)
	}
	dev.Cert = renewed

	t.Run("tls", func(t *testing.T) {
		d := e.enrolled()
		if err := d.Renew(e.ctx, devicesim.RenewTLS); err != nil {
			t.Fatalf("a bare PKCS#10 with the TLS certificate: %v", err)
		}
		if err := d.Renew(e.ctx, devicesim.RenewBoth); err != nil {
			t.Fatalf("a PKCS#7 with the same certificate in TLS: %v", err)
		}
		if _, err := d.Session(e.ctx); err != nil {
			t.Fatalf("a session after two renewals: %v", err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		d, other := e.enrolled(), e.enrolled()
		// A PKCS#7 signed with one device's certificate, presented in TLS
		// with another's.
		mixed := *d
		mixed.TLSCert = other.Cert
		if err := mixed.Renew(e.ctx, devicesim.RenewBoth); !errors.As(err, &fault) || fault.Subcode != "s:Authentication" {
			t.Errorf("signer and TLS certificate differ: %v", err)
		}
		// No credential at all.
		bare := *d
		bare.CertHeader = ""
		if err := bare.Renew(e.ctx, devicesim.RenewTLS); !errors.As(err, &fault) || fault.Subcode != "s:Authentication" {
			t.Errorf("no certificate: %v", err)
		}
		// Revoked.
		if err := e.db.Tx(e.ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(e.ctx, `UPDATE issued_certificates SET revoked_at = now() WHERE serial = $1`, fmt.Sprintf("%x", other.Cert.SerialNumber.Bytes()))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := other.Renew(e.ctx, devicesim.RenewPKCS7); !errors.As(err, &fault) || fault.Subcode != "s:Authorization" {
			t.Errorf("a revoked certificate: %v", err)
		}
		// Expired: a year and a day later.
		e.certs.SetClock(func() time.Time { return time.Now().Add(pki.DeviceLifetime + 24*time.Hour) })
		defer e.certs.SetClock(time.Now)
		if err := d.Renew(e.ctx, devicesim.RenewPKCS7); !errors.As(err, &fault) || fault.Subcode != "s:Authorization" {
			t.Errorf("an expired certificate: %v", err)
		}
	})
}
