package windows_test

import (
	"testing"
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
