package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// startApp runs serve and worker in one process, as dev does, on a random
// port, and returns its base URL.
func startApp(t *testing.T) (string, *tenancy.Directory) {
	t.Helper()
	e := testenv.Get(t)
	cfg := serverConfig{baseDomain: "trident.test", eventRetention: time.Hour, shutdownTimeout: 5 * time.Second, workers: 2}
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, databases{app: e.AppURL}, roles{serve: true, work: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v after shutdown", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("no graceful shutdown within 10 s")
		}
	})
	return "http://" + ln.Addr().String(), a.dir
}

func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	base, dir := startApp(t)
	tn := testenv.Tenant(t, dir)

	if code, body := get(t, base+"/healthz", "10.0.0.1"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz", "10.0.0.1"); code != 200 || !strings.Contains(body, `"ready"`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, body := get(t, base+"/", "trident.test"); code != 200 || !strings.Contains(body, "<h1>Trident</h1>") {
		t.Fatalf("platform home: %d %s", code, body)
	}
	if code, body := get(t, base+"/", tn.Slug+".trident.test"); code != 200 || !strings.Contains(body, tn.Name) {
		t.Fatalf("tenant home: %d %s", code, body)
	}
	if code, _ := get(t, base+"/", "nobody.trident.test"); code != 404 {
		t.Fatalf("unknown tenant: %d, want 404", code)
	}

	// A hostname added elsewhere (another process, an operator command)
	// reaches this process's Host cache through NOTIFY trident_tenancy.
	custom := "mdm-" + tn.Slug + ".example"
	if code, _ := get(t, base+"/", custom); code != 404 {
		t.Fatalf("custom host before registration: %d, want 404", code)
	}
	if _, err := dir.AddHostname(context.Background(), tn.ID, custom); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/", custom)
		if code == 200 && strings.Contains(body, tn.Name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("custom host still answers %d after registration: the cache was not invalidated", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
