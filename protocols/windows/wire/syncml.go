package wire

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
	NsSyncML         = "SYNCML:SYNCML1.2"
	NsMetInf         = "syncml:metinf"
	SyncMLType       = "application/vnd.syncml.dm+xml"
	VerDTD           = "1.2"
	VerProto         = "DM/1.2"
	MaxSyncMLMessage = 4 << 20
)

// Alert codes (OMA-TS-DM_Protocol 1.2, section 8.7, and MS-MDM).
const (
	AlertServerInitiated = "1200"
	AlertClientInitiated = "1201"
	AlertNextMessage     = "1222"
	AlertSessionAbort    = "1223"
	AlertClientEvent     = "1224" // Microsoft's generic alert with the login status
	AlertGeneric         = "1226" // Microsoft's generic alert: unenrollment among others

	UnenrollUser  = "com.microsoft:mdm.unenrollment.userrequest"
	UnenrollAdmin = "com.microsoft/MDM/AADUserUnenrollment"
)

// Status codes (OMA-TS-SyncML_RepPro 1.2, section 10).
const (
	StatusOK             = 200
	StatusAccepted       = 202
	StatusChunkAccepted  = 213
	StatusBadRequest     = 400
	StatusForbidden      = 403
	StatusNotFound       = 404
	StatusNotAllowed     = 405
	StatusCommandFailed  = 500
	StatusVersionUnknown = 505
)

// Message is one SyncML message.
type Message struct {
	XMLName xml.Name `xml:"SyncML"`
	Hdr     Header   `xml:"SyncHdr"`
	Body    Body     `xml:"SyncBody"`
}

type Header struct {
	VerDTD    string `xml:"VerDTD"`
	VerProto  string `xml:"VerProto"`
	SessionID string `xml:"SessionID"`
	MsgID     string `xml:"MsgID"`
	Target    Loc    `xml:"Target"`
	Source    Loc    `xml:"Source"`
	Meta      *Meta  `xml:"Meta,omitempty"`
}

type Loc struct {
	LocURI string `xml:"LocURI"`
}

// Body holds the commands in their order: statuses must answer them in
// the same order.
type Body struct {
	Cmds  []Command `xml:",any"`
	Final *struct{} `xml:"Final"`
}

// Command is any SyncML Command, including Status and Results; Atomic and
// Sequence hold commands of their own.
type Command struct {
	XMLName   xml.Name
	CmdID     string    `xml:"CmdID"`
	MsgRef    string    `xml:"MsgRef,omitempty"`
	CmdRef    string    `xml:"CmdRef,omitempty"`
	Cmd       string    `xml:"Cmd,omitempty"`
	TargetRef string    `xml:"TargetRef,omitempty"`
	SourceRef string    `xml:"SourceRef,omitempty"`
	Meta      *Meta     `xml:"Meta,omitempty"`
	Data      string    `xml:"Data,omitempty"`
	Items     []Item    `xml:"Item"`
	Inner     []Command `xml:",any"`
}

type Item struct {
	Source   *Loc      `xml:"Source,omitempty"`
	Target   *Loc      `xml:"Target,omitempty"`
	Meta     *Meta     `xml:"Meta,omitempty"`
	Data     *Data     `xml:"Data,omitempty"`
	MoreData *struct{} `xml:"MoreData,omitempty"`
}

// Data is an item's value: text, or XML kept as the device sent it.
type Data struct {
	Inner string `xml:",innerxml"`
}

func (d *Data) Text() string {
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

type Meta struct {
	Format     string `xml:"Format,omitempty"`
	Type       string `xml:"Type,omitempty"`
	Size       string `xml:"Size,omitempty"`
	MaxMsgSize string `xml:"MaxMsgSize,omitempty"`
}

func (i Item) From() string {
	if i.Source != nil && strings.TrimSpace(i.Source.LocURI) != "" {
		return strings.TrimSpace(i.Source.LocURI)
	}
	// Some DM clients name the node of a Results item in its Target
	// instead (OMA-DM 1.2 asks for Source): keep the answer either way.
	if i.Target != nil {
		return strings.TrimSpace(i.Target.LocURI)
	}
	return ""
}

// ErrSyncML is a Message that is not SyncML Trident can answer at all.
var ErrSyncML = errors.New("not a SyncML 1.2 message")

// ParseMessage reads a device's Message and checks what every answer
// depends on: the versions, the session and Message ids, and the source.
func ParseMessage(b []byte) (*Message, error) {
	var m Message
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyncML, err)
	}
	// Whitespace around the header's values is layout, not content.
	h := &m.Hdr
	for _, f := range []*string{&h.VerDTD, &h.VerProto, &h.SessionID, &h.MsgID, &h.Target.LocURI, &h.Source.LocURI} {
		*f = strings.TrimSpace(*f)
	}
	if m.XMLName.Space != NsSyncML && m.XMLName.Space != "" && !strings.EqualFold(m.XMLName.Space, NsSyncML) {
		return nil, fmt.Errorf("%w: namespace %q", ErrSyncML, m.XMLName.Space)
	}
	if m.Hdr.SessionID == "" || len(m.Hdr.SessionID) > 64 || m.Hdr.MsgID == "" || len(m.Hdr.MsgID) > 32 {
		return nil, fmt.Errorf("%w: SyncHdr needs a SessionID and a MsgID", ErrSyncML)
	}
	if _, err := strconv.ParseUint(m.Hdr.MsgID, 10, 32); err != nil {
		return nil, fmt.Errorf("%w: MsgID %q is not a number", ErrSyncML, m.Hdr.MsgID)
	}
	if src := m.Hdr.Source.LocURI; src == "" || len(src) > 200 {
		return nil, fmt.Errorf("%w: SyncHdr needs the device id as its Source", ErrSyncML)
	}
	if depth(m.Body.Cmds) > 3 {
		return nil, fmt.Errorf("%w: commands nested too deep", ErrSyncML)
	}
	return &m, nil
}

func depth(cs []Command) int {
	d := 0
	for _, c := range cs {
		if n := 1 + depth(c.Inner); n > d {
			d = n
		}
	}
	return d
}

// versionOK says whether the Header names the versions Trident speaks.
func (m *Message) VersionOK() bool { return m.Hdr.VerDTD == VerDTD && m.Hdr.VerProto == VerProto }

// alerts returns the codes of the message's Alert commands.
func (m *Message) Alerts() []Command {
	var out []Command
	for _, c := range m.Body.Cmds {
		if c.XMLName.Local == "Alert" {
			out = append(out, c)
		}
	}
	return out
}

// Reply builds the server's answer to one device message.
type Reply struct {
	hdr    Header
	msgRef string
	cmdID  int
	b      strings.Builder
}

func NewReply(req *Message, serverURL string) *Reply {
	return &Reply{
		hdr: Header{VerDTD: VerDTD, VerProto: VerProto, SessionID: req.Hdr.SessionID, MsgID: req.Hdr.MsgID,
			Target: Loc{req.Hdr.Source.LocURI}, Source: Loc{serverURL}},
		msgRef: req.Hdr.MsgID,
	}
}

func (r *Reply) nextID() string { r.cmdID++; return strconv.Itoa(r.cmdID) }

// status answers one Command of the device's (CmdRef "0" with Cmd
// "SyncHdr" answers the Header).
func (r *Reply) Status(cmdRef, cmd string, code int) {
	r.write(Command{XMLName: xml.Name{Local: "Status"}, CmdID: r.nextID(), MsgRef: r.msgRef, CmdRef: cmdRef, Cmd: cmd,
		Data: strconv.Itoa(code)})
}

// alert asks for something: the next Message (1222), for one.
func (r *Reply) Alert(code string) {
	r.write(Command{XMLName: xml.Name{Local: "Alert"}, CmdID: r.nextID(), Data: code})
}

// Command adds a Command of Trident's.
func (r *Reply) Command(c Command) { r.write(c) }

func (r *Reply) write(c Command) {
	b, err := xml.Marshal(c)
	if err != nil { // only strings: cannot fail
		panic(err)
	}
	r.b.Write(b)
}

// Len is the size of the commands so far.
func (r *Reply) Len() int { return r.b.Len() }

// bytes finishes the message.
func (r *Reply) Bytes(final bool) []byte {
	hdr, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"SyncHdr"`
		Header
	}{Header: r.hdr})
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	b.WriteString(`<SyncML xmlns="` + NsSyncML + `">`)
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
func (m Meta) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = nil
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"Format", m.Format}, {"Type", m.Type}, {"Size", m.Size}, {"MaxMsgSize", m.MaxMsgSize}} {
		if f.v == "" {
			continue
		}
		if err := e.EncodeElement(f.v, xml.StartElement{Name: xml.Name{Local: f.name},
			Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: NsMetInf}}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// MarshalXML writes data's text escaped (the innerxml field is for
// reading what devices send).
func (d Data) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(d.Inner, start)
}
