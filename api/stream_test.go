package api_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tridentmdm/trident/api"
)

type sseMessage struct{ id, event, data string }

// openStream follows a tenant's event stream as caller.
func (w *world) openStream(t *testing.T, caller, tenant string, lastID string) (<-chan sseMessage, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", w.url+"/v1/tenants/"+tenant+"/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+w.tokens[caller])
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan sseMessage, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.data != "" {
					out <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, "id: "):
				m.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out, resp
}

// next returns the next event on the stream, skipping pings.
func next(t *testing.T, c <-chan sseMessage) sseMessage {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c:
			if !ok {
				t.Fatal("the stream ended")
			}
			if m.event == "ping" {
				continue
			}
			return m
		case <-deadline:
			t.Fatal("no event on the stream within 10 s")
		}
	}
}

// The dashboard's live feed: each change arrives as it happens, tenant by
// tenant, and a reconnect with Last-Event-ID picks up what was missed.
func TestEventStream(t *testing.T) {
	w := newWorld(t, api.Limits{})
	stream, resp := w.openStream(t, "viewer-a", w.a.Slug, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	w.do(t, "admin-b", "PATCH", "/v1/tenants/"+w.b.Slug, map[string]any{"name": "Other tenant's change"})
	if r := w.do(t, "admin-a", "PATCH", "/v1/tenants/"+w.a.Slug, map[string]any{"name": "First"}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	m := next(t, stream)
	if m.event != "event" || m.id == "" || !strings.Contains(m.data, `"First"`) || strings.Contains(m.data, "Other tenant") {
		t.Fatalf("first message %+v", m)
	}
	first := m.id
	w.do(t, "admin-a", "PATCH", "/v1/tenants/"+w.a.Slug, map[string]any{"name": "Second"})
	if m := next(t, stream); !strings.Contains(m.data, `"Second"`) {
		t.Fatalf("second message %+v", m)
	}

	// A reconnect that saw only the first event gets the second again.
	again, _ := w.openStream(t, "viewer-a", w.a.Slug, first)
	if m := next(t, again); !strings.Contains(m.data, `"Second"`) {
		t.Fatalf("resumed stream %+v", m)
	}

	// Another tenant's viewer cannot follow A's stream.
	if _, resp := w.openStream(t, "admin-b", w.a.Slug, ""); resp.StatusCode != 404 {
		t.Fatalf("foreign stream: %d", resp.StatusCode)
	}
}

// A caller holds at most events.DefaultStreams live streams open at once
// (the outside security test held any number): the next is 429, and one
// closed frees its place.
func TestStreamsPerCaller(t *testing.T) {
	w := newWorld(t, api.Limits{})
	var first *http.Response
	for i := range 10 {
		_, resp := w.openStream(t, "viewer-a", w.a.Slug, "")
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
		}
		if i == 0 {
			first = resp
		}
	}
	open := func() int {
		req, _ := http.NewRequest("GET", w.url+"/v1/tenants/"+w.a.Slug+"/events/stream", nil)
		req.Header.Set("Authorization", "Bearer "+w.tokens["viewer-a"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
		} else {
			t.Cleanup(func() { resp.Body.Close() })
		}
		return resp.StatusCode
	}
	if code := open(); code != http.StatusTooManyRequests {
		t.Fatalf("an eleventh stream: %d, want 429", code)
	}
	if _, resp := w.openStream(t, "admin-b", w.b.Slug, ""); resp.StatusCode != 200 {
		t.Fatalf("another caller's stream: %d", resp.StatusCode)
	}
	first.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for open() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("a closed stream never freed its place")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
