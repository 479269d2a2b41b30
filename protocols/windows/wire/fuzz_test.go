package wire

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenRequests seeds the fuzzers with the requests of the golden
// exchanges (testdata/golden), the device's side of each.
func goldenRequests(f *testing.F, kind func(name string) bool) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "golden", "*.xml"))
	for _, name := range files {
		if !kind(filepath.Base(name)) {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		s := string(b)
		start := strings.Index(s, "-->\n")
		end := strings.Index(s, "<!-- ")
		if end >= 0 {
			if next := strings.Index(s[end+1:], "<!-- "); next >= 0 {
				f.Add([]byte(s[start+4 : end+1+next]))
			}
		}
	}
}

// Whatever a device sends, the SOAP parser returns an envelope or a
// fault, never panics, and a fault's answer is well-formed XML.
func FuzzParseEnvelope(f *testing.F) {
	goldenRequests(f, func(n string) bool {
		return strings.Contains(n, "discover") || strings.Contains(n, "policies") || strings.Contains(n, "enroll")
	})
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`))
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">]]&gt;&lt;x</a:MessageID></s:Header></s:Envelope>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseEnvelope(b)
		if err != nil {
			if _, ok := err.(*Fault); !ok {
				t.Fatalf("a parse error that is not a fault: %v", err)
			}
			wellFormed(t, FaultResponse(AsFault(err), ""))
			return
		}
		Token(env)
		if env.Body.RST != nil {
			env.Body.RST.Context("DeviceID")
		}
		wellFormed(t, FaultResponse(SenderFault("s:MessageFormat", "x"), env.Header.MessageID))
		wellFormed(t, Response(ActionDiscoverResponse, env.Header.MessageID, "<x/>", true))
	})
}

// Whatever a device sends to the management endpoint, the SyncML parser
// refuses it or reads it, and the reply to what it read is SyncML that
// parses again with the session and message the device named.
func FuzzParseMessage(f *testing.F) {
	goldenRequests(f, func(n string) bool { return strings.Contains(n, "session") })
	f.Add([]byte(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>` +
		`<Target><LocURI>x</LocURI></Target><Source><LocURI>D</LocURI></Source></SyncHdr><SyncBody><Atomic><CmdID>1</CmdID><Atomic><Atomic><Atomic/></Atomic></Atomic></Atomic><Final/></SyncBody></SyncML>`))
	f.Add([]byte(`<SyncML><SyncHdr><SessionID>1</SessionID><MsgID>99999999999</MsgID></SyncHdr></SyncML>`))
	f.Add([]byte(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>2</MsgID>` +
		`<Source><LocURI>D</LocURI></Source></SyncHdr><SyncBody><Results><CmdID>2</CmdID><CmdRef>x.1</CmdRef><Item><Source><LocURI>./a</LocURI></Source>` +
		`<Data><![CDATA[<x>]]></Data><MoreData/></Item></Results></SyncBody></SyncML>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		for _, c := range m.Body.Cmds {
			for _, it := range c.Items {
				it.From()
				it.Data.Text()
			}
		}
		m.Alerts()
		rep := NewReply(m, "https://tenant.example/ManagementServer/MDM.svc")
		rep.Status("0", "SyncHdr", StatusOK)
		for _, c := range m.Body.Cmds {
			rep.Status(c.CmdID, c.XMLName.Local, StatusOK)
		}
		rep.Alert(AlertNextMessage)
		out := rep.Bytes(true)
		again, err := ParseMessage(out)
		if err != nil {
			t.Fatalf("the reply does not parse: %v\n%s", err, out)
		}
		if again.Hdr.SessionID != m.Hdr.SessionID || again.Hdr.MsgID != m.Hdr.MsgID || again.Hdr.Target.LocURI != m.Hdr.Source.LocURI {
			t.Fatalf("the reply names session %q message %q target %q for %q %q %q", again.Hdr.SessionID, again.Hdr.MsgID,
				again.Hdr.Target.LocURI, m.Hdr.SessionID, m.Hdr.MsgID, m.Hdr.Source.LocURI)
		}
	})
}

func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("not well-formed: %v\n%s", err, b)
		}
	}
}
