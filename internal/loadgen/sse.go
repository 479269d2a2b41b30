package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tridentmdm/trident/internal/devidp"
)

// SSEOptions say how to load the dashboard's live streams.
type SSEOptions struct {
	URL      string // the platform, as people reach it: http://localhost:8090
	Tenant   string // the tenant whose streams to open
	Streams  int    // dashboard pages open at once (one person's tabs)
	Events   int    // events to make, one at a time
	Interval time.Duration
	User     string // a dashboard sign-in of the dev identity provider
	Password string
	Token    string        // an API bearer token, to make events (queue commands)
	Wait     time.Duration // how long after the last event to wait for stragglers
}

// SSEResult is what the stream test measured: from the moment an event
// was made (before the API call that makes it) to its arrival on each
// stream.
type SSEResult struct {
	Streams   int       `json:"streams"`
	Connected int       `json:"connected"`
	Events    int       `json:"events"`
	Delivered int       `json:"delivered"` // (stream, event) pairs that arrived
	Missing   int       `json:"missing"`
	Latency   Latencies `json:"latency"`
	Samples   []string  `json:"error_samples,omitempty"`
}

func (r SSEResult) String() string {
	s := fmt.Sprintf("streams %d (connected %d), events %d: delivered %d, missing %d; event to every stream: %s\n",
		r.Streams, r.Connected, r.Events, r.Delivered, r.Missing, r.Latency)
	for _, e := range r.Samples {
		s += "  error: " + e + "\n"
	}
	return s
}

var reLive = regexp.MustCompile(`sse-connect="([^"]+)"`)

// LoadSSE signs in to the dashboard, opens the tenant's devices page's
// live stream Streams times, then makes Events events (commands queued
// through the API for one of the tenant's devices) and times each one's
// arrival on every stream.
func LoadSSE(ctx context.Context, o SSEOptions) (SSEResult, error) {
	res := SSEResult{Streams: o.Streams, Events: o.Events}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: o.Streams + 16}}
	base := strings.TrimRight(o.URL, "/")
	live, err := liveStream(client, base, o)
	if err != nil {
		return res, err
	}
	device, err := firstDevice(ctx, client, base, o.Tenant, o.Token)
	if err != nil {
		return res, err
	}

	w := &watchers{client: client, url: live, arrivals: make([]map[string]time.Time, o.Streams), connected: make([]bool, o.Streams)}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var ready, done sync.WaitGroup
	for i := range o.Streams {
		w.arrivals[i] = map[string]time.Time{}
		ready.Add(1)
		done.Go(func() { w.watch(sctx, i, ready.Done) })
	}
	ready.Wait()
	for _, c := range w.connected {
		if c {
			res.Connected++
		}
	}
	made := map[string]time.Time{}
	for range o.Events {
		t0 := time.Now()
		id, err := queue(ctx, client, base, o.Tenant, device, o.Token)
		if err != nil {
			w.fail("make an event: " + err.Error())
		} else {
			made["command-"+id] = t0
		}
		time.Sleep(o.Interval)
	}
	time.Sleep(o.Wait)
	stop()
	done.Wait()
	var lat []time.Duration
	lat, res.Missing = w.latencies(made)
	res.Delivered, res.Latency, res.Samples = len(lat), summarize(lat), w.failures
	return res, nil
}

// liveStream signs in to the dashboard and answers the URL of the live
// stream on the tenant's devices page.
func liveStream(client *http.Client, base string, o SSEOptions) (string, error) {
	if code, _, err := devidp.SignIn(client, base+"/dashboard/", o.User, o.Password); err != nil || code != http.StatusOK {
		return "", fmt.Errorf("sign in to the dashboard: HTTP %d: %v", code, err)
	}
	resp, err := client.Get(base + "/dashboard/t/" + o.Tenant + "/devices")
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := reLive.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("the devices page of %s has no live stream (HTTP %d)", o.Tenant, resp.StatusCode)
	}
	return base + strings.ReplaceAll(string(m[1]), "&amp;", "&"), nil
}

// watchers are the open streams: each notes when each named event first
// arrives on it.
type watchers struct {
	client    *http.Client
	url       string
	mu        sync.Mutex
	arrivals  []map[string]time.Time
	connected []bool // written once, before the stream's ready
	failures  []string
}

func (w *watchers) fail(s string) {
	w.mu.Lock()
	if len(w.failures) < 10 {
		w.failures = append(w.failures, s)
	}
	w.mu.Unlock()
}

// watch reads stream i until ctx ends; ready is called once, when the
// stream says it is connected or has failed.
func (w *watchers) watch(ctx context.Context, i int, ready func()) {
	readied := false
	defer func() {
		if !readied {
			ready()
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	resp, err := w.client.Do(req)
	if err != nil {
		w.fail(err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.fail(fmt.Sprintf("stream: HTTP %d", resp.StatusCode))
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	newRow := false
	for sc.Scan() {
		line := sc.Text()
		if !readied && strings.HasPrefix(line, ": connected") {
			w.connected[i], readied = true, true
			ready()
		}
		name, ok := strings.CutPrefix(line, "event: ")
		switch {
		case ok && strings.HasPrefix(name, "command-new-"):
			// A new command's row (named after its device): the
			// command is the row's id, in the data that follows.
			newRow = true
		case ok:
			newRow = false
			w.arrived(i, name)
		case newRow && strings.HasPrefix(line, "data: "):
			if m := reRowID.FindStringSubmatch(line); m != nil {
				newRow = false
				w.arrived(i, m[1])
			}
		}
	}
}

// reRowID finds a command row's id in a new row's HTML.
var reRowID = regexp.MustCompile(`<tr id="(command-[0-9a-f-]{36})"`)

// arrived notes when stream i first saw the event named name.
func (w *watchers) arrived(i int, name string) {
	now := time.Now()
	w.mu.Lock()
	if _, seen := w.arrivals[i][name]; !seen {
		w.arrivals[i][name] = now
	}
	w.mu.Unlock()
}

// latencies are, for each connected stream and each event made (at the
// time given), how long it took to arrive, and how many never did.
func (w *watchers) latencies(made map[string]time.Time) (lat []time.Duration, missing int) {
	for i := range w.arrivals {
		if !w.connected[i] {
			continue
		}
		for name, t0 := range made {
			if at, ok := w.arrivals[i][name]; ok {
				lat = append(lat, at.Sub(t0))
			} else {
				missing++
			}
		}
	}
	return lat, missing
}

func apiRequest(ctx context.Context, client *http.Client, method, u, token string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, u, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}

func firstDevice(ctx context.Context, client *http.Client, base, tenant, token string) (string, error) {
	b, err := apiRequest(ctx, client, http.MethodGet, base+"/v1/tenants/"+tenant+"/devices?limit=1&status=enrolled", token, nil)
	if err != nil {
		return "", err
	}
	var page struct {
		Items []struct{ ID string }
	}
	if err := json.Unmarshal(b, &page); err != nil || len(page.Items) == 0 {
		return "", errors.New("the tenant has no enrolled device to send commands to")
	}
	return page.Items[0].ID, nil
}

func queue(ctx context.Context, client *http.Client, base, tenant, device, token string) (string, error) {
	b, err := apiRequest(ctx, client, http.MethodPost, base+"/v1/tenants/"+tenant+"/devices/"+device+"/commands", token,
		map[string]any{"kind": "device_information"})
	if err != nil {
		return "", err
	}
	var c struct{ ID string }
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		return "", fmt.Errorf("queue a command: %s", b)
	}
	return c.ID, nil
}
