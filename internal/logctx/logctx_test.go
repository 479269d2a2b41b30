package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tridentmdm/trident/internal/logctx"
	"github.com/tridentmdm/trident/tenancy"
)

func TestHandlerAddsTheRequestsContext(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(logctx.New(slog.NewTextHandler(&b, nil))).With("component", "api")
	tn := uuid.New()
	ctx := logctx.WithCaller(logctx.WithRequestID(tenancy.WithTenant(context.Background(), tn), "req-123456"), "integrator")
	ctx = logctx.WithMSP(ctx, "acme-it")
	log.InfoContext(ctx, "queued", "device", "d1")
	line := b.String()
	for _, want := range []string{"tenant=" + tn.String(), "msp=acme-it", "request_id=req-123456", "caller=integrator", "component=api", "device=d1"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %s", line, want)
		}
	}
	// A record that names its own tenant keeps it, once.
	b.Reset()
	log.InfoContext(ctx, "other", "tenant", "explicit")
	if strings.Count(b.String(), "tenant=") != 1 || !strings.Contains(b.String(), "tenant=explicit") {
		t.Errorf("explicit tenant: %q", b.String())
	}
	// ... and still gets the others.
	b.Reset()
	log.InfoContext(ctx, "own id", "request_id", "mine")
	if l := b.String(); strings.Count(l, "request_id=") != 1 || !strings.Contains(l, "request_id=mine") || !strings.Contains(l, "tenant="+tn.String()) || !strings.Contains(l, "caller=integrator") {
		t.Errorf("own request id: %q", l)
	}
	// Without a request's context: nothing added.
	b.Reset()
	log.Info("plain")
	if strings.Contains(b.String(), "tenant=") || strings.Contains(b.String(), "request_id=") {
		t.Errorf("plain: %q", b.String())
	}
}
