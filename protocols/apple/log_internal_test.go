package apple

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// nanomdm logs the whole body of a message it cannot parse; a line stays
// bounded whatever the device sent, and a refusal is a warning (the
// device's fault) or an error (the server's), not information.
func TestNanoLoggerBoundsAndLevels(t *testing.T) {
	var out bytes.Buffer
	n := nanoLogger{slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	huge := strings.Repeat("<key>Junk</key>", 200_000) // 3 MB of check-in
	n.Info("msg", "check-in request", "content", huge, "http_status", 400, "err", "parse error: "+huge)
	line := out.String()
	if len(line) > 4*maxLogValue {
		t.Fatalf("a refused 3 MB check-in logged %d bytes", len(line))
	}
	if !strings.Contains(line, "level=WARN") {
		t.Fatalf("a 400 is logged as %q", line[:min(len(line), 80)])
	}
	out.Reset()
	n.Info("msg", "command report results", "http_status", 500, "err", "boom")
	if !strings.Contains(out.String(), "level=ERROR") {
		t.Fatalf("a 500 is logged as %q", out.String())
	}
	out.Reset()
	n.Info("msg", "Authenticate", "id", "X")
	if !strings.Contains(out.String(), "level=INFO") {
		t.Fatalf("an ordinary line is logged as %q", out.String())
	}
}
