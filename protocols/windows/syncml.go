package windows

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SyncML 1.2 as OMA-DM 1.2 uses it (OMA-TS-DM_RepPro, OMA-TS-SyncML_
// RepPro) and Windows speaks it (MS-MDM, "OMA DM protocol support").
const (
	nsSyncML         = "SYNCML:SYNCML1.2"
	nsMetInf         = "syncml:metinf"
	syncMLType       = "application/vnd.syncml.dm+xml"
	verDTD           = "1.2"
	verProto         = "DM/1.2"
	maxSyncMLMessage = 4 << 20
)

// Alert codes (OMA-TS-DM_Protocol 1.2, section 8.7, and MS-MDM).
const (
	alertServerInitiated = "1200"
	alertClientInitiated = "1201"
	alertNextMessage     = "1222"
	alertSessionAbort    = "1223"
	alertClientEvent     = "1224" // Microsoft's generic alert with the login status
	alertGeneric         = "1226" // Microsoft's generic alert: unenrollment among others

	unenrollUser  = "com.microsoft:mdm.unenrollment.userrequest"
	unenrollAdmin = "com.microsoft/MDM/AADUserUnenrollment"
)

// Status codes (OMA-TS-SyncML_RepPro 1.2, section 10).
const (
	statusOK             = 200
	statusAccepted       = 202
	statusChunkAccepted  = 213
	statusBadRequest     = 400
	statusForbidden      = 403
	statusNotFound       = 404
	statusNotAllowed     = 405
	statusCommandFailed  = 500
	statusVersionUnknown = 505
)

// message is one SyncML message.
type message struct {
	XMLName xml.Name `xml:"SyncML"`
	Hdr     header   `xml:"SyncHdr"`
	Body    body     `xml:"SyncBody"`
}

type header struct {
	VerDTD    string `xml:"VerDTD"`
	VerProto  string `xml:"VerProto"`
	SessionID string `xml:"SessionID"`
	MsgID     string `xml:"MsgID"`
	Target    locURI `xml:"Target"`
	Source    locURI `xml:"Source"`
	Meta      *meta  `xml:"Meta,omitempty"`
}

type locURI struct {
	LocURI string `xml:"LocURI"`
}

// body holds the commands in their order: statuses must answer them in
// the same order.
type body struct {
	Cmds  []command `xml:",any"`
	Final *struct{} `xml:"Final"`
}

// command is any SyncML command, including Status and Results; Atomic and
// Sequence hold commands of their own.
type command struct {
	XMLName   xml.Name
	CmdID     string    `xml:"CmdID"`
	MsgRef    string    `xml:"MsgRef,omitempty"`
	CmdRef    string    `xml:"CmdRef,omitempty"`
	Cmd       string    `xml:"Cmd,omitempty"`
	TargetRef string    `xml:"TargetRef,omitempty"`
	SourceRef string    `xml:"SourceRef,omitempty"`
	Meta      *meta     `xml:"Meta,omitempty"`
	Data      string    `xml:"Data,omitempty"`
	Items     []item    `xml:"Item"`
	Inner     []command `xml:",any"`
}

type item struct {
	Source   *locURI   `xml:"Source,omitempty"`
	Target   *locURI   `xml:"Target,omitempty"`
	Meta     *meta     `xml:"Meta,omitempty"`
	Data     *data     `xml:"Data,omitempty"`
	MoreData *struct{} `xml:"MoreData,omitempty"`
}

// data is an item's value: text, or XML kept as the device sent it.
type data struct {
	Inner string `xml:",innerxml"`
}

func (d *data) text() string {
	if d == nil {
		return ""
	}
	s := strings.TrimSpace(d.Inner)
	if strings.HasPrefix(s, "<![CDATA[") && strings.HasSuffix(s, "]]>") && !strings.Contains(s[9:len(s)-3], "]]>") {
		return s[9 : len(s)-3]
	}
	if !strings.Contains(s, "<") && strings.Contains(s, "&") {
		var v struct {
			S string `xml:",chardata"`
		}
		if xml.Unmarshal([]byte("<d>"+s+"</d>"), &v) == nil {
			return v.S
		}
	}
	return s
}

type meta struct {
	Format     string `xml:"Format,omitempty"`
	Type       string `xml:"Type,omitempty"`
	Size       string `xml:"Size,omitempty"`
	MaxMsgSize string `xml:"MaxMsgSize,omitempty"`
}

func (i item) source() string {
	if i.Source != nil {
		return strings.TrimSpace(i.Source.LocURI)
	}
	return ""
}

// errSyncML is a message that is not SyncML Trident can answer at all.
var errSyncML = errors.New("not a SyncML 1.2 message")

// parseMessage reads a device's message and checks what every answer
// depends on: the versions, the session and message ids, and the source.
func parseMessage(b []byte) (*message, error) {
	var m message
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", errSyncML, err)
	}
	if m.XMLName.Space != nsSyncML && m.XMLName.Space != "" && !strings.EqualFold(m.XMLName.Space, nsSyncML) {
		return nil, fmt.Errorf("%w: namespace %q", errSyncML, m.XMLName.Space)
	}
	if m.Hdr.SessionID == "" || len(m.Hdr.SessionID) > 64 || m.Hdr.MsgID == "" || len(m.Hdr.MsgID) > 32 {
		return nil, fmt.Errorf("%w: SyncHdr needs a SessionID and a MsgID", errSyncML)
	}
	if _, err := strconv.ParseUint(m.Hdr.MsgID, 10, 32); err != nil {
		return nil, fmt.Errorf("%w: MsgID %q is not a number", errSyncML, m.Hdr.MsgID)
	}
	if src := m.Hdr.Source.LocURI; src == "" || len(src) > 200 {
		return nil, fmt.Errorf("%w: SyncHdr needs the device id as its Source", errSyncML)
	}
	if depth(m.Body.Cmds) > 3 {
		return nil, fmt.Errorf("%w: commands nested too deep", errSyncML)
	}
	return &m, nil
}

func depth(cs []command) int {
	d := 0
	for _, c := range cs {
		if n := 1 + depth(c.Inner); n > d {
			d = n
		}
	}
	return d
}

// versionOK says whether the header names the versions Trident speaks.
func (m *message) versionOK() bool { return m.Hdr.VerDTD == verDTD && m.Hdr.VerProto == verProto }

// alerts returns the codes of the message's Alert commands.
func (m *message) alerts() []command {
	var out []command
	for _, c := range m.Body.Cmds {
		if c.XMLName.Local == "Alert" {
			out = append(out, c)
		}
	}
	return out
}

// reply builds the server's answer to one device message.
type reply struct {
	hdr    header
	msgRef string
	cmdID  int
	b      strings.Builder
}

func newReply(req *message, serverURL string) *reply {
	return &reply{
		hdr: header{VerDTD: verDTD, VerProto: verProto, SessionID: req.Hdr.SessionID, MsgID: req.Hdr.MsgID,
			Target: locURI{req.Hdr.Source.LocURI}, Source: locURI{serverURL}},
		msgRef: req.Hdr.MsgID,
	}
}

func (r *reply) nextID() string { r.cmdID++; return strconv.Itoa(r.cmdID) }

// status answers one command of the device's (CmdRef "0" with Cmd
// "SyncHdr" answers the header).
func (r *reply) status(cmdRef, cmd string, code int) {
	r.write(command{XMLName: xml.Name{Local: "Status"}, CmdID: r.nextID(), MsgRef: r.msgRef, CmdRef: cmdRef, Cmd: cmd,
		Data: strconv.Itoa(code)})
}

// alert asks for something: the next message (1222), for one.
func (r *reply) alert(code string) {
	r.write(command{XMLName: xml.Name{Local: "Alert"}, CmdID: r.nextID(), Data: code})
}

// command adds a command of Trident's.
func (r *reply) command(c command) { r.write(c) }

func (r *reply) write(c command) {
	b, err := xml.Marshal(c)
	if err != nil { // only strings: cannot fail
		panic(err)
	}
	r.b.Write(b)
}

// Len is the size of the commands so far.
func (r *reply) Len() int { return r.b.Len() }

// bytes finishes the message.
func (r *reply) bytes(final bool) []byte {
	hdr, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"SyncHdr"`
		header
	}{header: r.hdr})
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	b.WriteString(`<SyncML xmlns="` + nsSyncML + `">`)
	b.Write(hdr)
	b.WriteString(`<SyncBody>`)
	b.WriteString(r.b.String())
	if final {
		b.WriteString(`<Final/>`)
	}
	b.WriteString(`</SyncBody></SyncML>`)
	return b.Bytes()
}

// MarshalXML writes meta's children in the syncml:metinf namespace.
func (m meta) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = nil
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"Format", m.Format}, {"Type", m.Type}, {"Size", m.Size}, {"MaxMsgSize", m.MaxMsgSize}} {
		if f.v == "" {
			continue
		}
		if err := e.EncodeElement(f.v, xml.StartElement{Name: xml.Name{Local: f.name},
			Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: nsMetInf}}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// MarshalXML writes data's text escaped (the innerxml field is for
// reading what devices send).
func (d data) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(d.Inner, start)
}
