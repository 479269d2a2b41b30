package windows_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// A management session with nothing to do: one message, authenticated by
// the enrollment certificate (against the tenant's CA and its records),
// recorded as a check-in with an event.
func BenchmarkSessionCheckIn(b *testing.B) {
	e := newEnv(b)
	dev := e.enrolled()
	b.ResetTimer()
	for b.Loop() {
		if _, err := dev.Session(e.ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// A session that delivers one command and takes its answer: two messages.
func BenchmarkSessionWithCommand(b *testing.B) {
	e := newEnv(b)
	dev := e.enrolled()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		e.queue(dev, "restart", nil)
		b.StartTimer()
		res, err := dev.Session(e.ctx)
		if err != nil || res.Messages != 2 {
			b.Fatal(res, err)
		}
	}
}

// A message of 27,000 Statuses for command ids no one issued (the outside
// test sent 29,823 in 4 MB; these fill 3.9 MB): one query for all of them, not one each.
func BenchmarkStatusesForUnknownCommands(b *testing.B) {
	e := newEnv(b)
	dev := e.enrolled()
	var body strings.Builder
	for i := range 27000 {
		fmt.Fprintf(&body, `<Status><CmdID>%d</CmdID><MsgRef>1</MsgRef><CmdRef>%s.1</CmdRef><Cmd>Exec</Cmd><Data>200</Data></Status>`, i+1, uuid.New())
	}
	msg := message(dev, 1, 1, `<Alert><CmdID>0</CmdID><Data>1201</Data></Alert>`+body.String())
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := dev.Send(e.ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}
