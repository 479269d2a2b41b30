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
	if code, _, err := devidp.SignIn(client, base+"/dashboard/", o.User, o.Password); err != nil || code != http.StatusOK {
		return res, fmt.Errorf("sign in to the dashboard: HTTP %d: %v", code, err)
	}
	resp, err := client.Get(base + "/dashboard/t/" + o.Tenant + "/devices")
	if err != nil {
		return res, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := reLive.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return res, fmt.Errorf("the devices page of %s has no live stream (HTTP %d)", o.Tenant, resp.StatusCode)
	}
	live := base + strings.ReplaceAll(string(m[1]), "&amp;", "&")
	device, err := firstDevice(ctx, client, base, o.Tenant, o.Token)
	if err != nil {
		return res, err
	}

	// Every stream notes when each named event first arrives.
	type arrival map[string]time.Time
	arrivals := make([]arrival, o.Streams)
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
		mu.Unlock()
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var ready, done sync.WaitGroup
	connected := make([]bool, o.Streams)
	for i := range o.Streams {
		arrivals[i] = arrival{}
		ready.Add(1)
		done.Go(func() {
			readied := false
			defer func() {
				if !readied {
					ready.Done()
				}
			}()
			req, _ := http.NewRequestWithContext(sctx, http.MethodGet, live, nil)
			resp, err := client.Do(req)
			if err != nil {
				fail(err.Error())
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Sprintf("stream: HTTP %d", resp.StatusCode))
				return
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if !readied && strings.HasPrefix(line, ": connected") {
					connected[i], readied = true, true
					ready.Done()
				}
				if name, ok := strings.CutPrefix(line, "event: "); ok {
					now := time.Now()
					mu.Lock()
					if _, seen := arrivals[i][name]; !seen {
						arrivals[i][name] = now
					}
					mu.Unlock()
				}
			}
		})
	}
	ready.Wait()
	for _, c := range connected {
		if c {
			res.Connected++
		}
	}
	made := map[string]time.Time{}
	for range o.Events {
		t0 := time.Now()
		id, err := queue(ctx, client, base, o.Tenant, device, o.Token)
		if err != nil {
			fail("make an event: " + err.Error())
		} else {
			made["command-"+id] = t0
		}
		time.Sleep(o.Interval)
	}
	time.Sleep(o.Wait)
	stop()
	done.Wait()
	var lat []time.Duration
	for i := range arrivals {
		if !connected[i] {
			continue
		}
		for name, t0 := range made {
			if at, ok := arrivals[i][name]; ok {
				lat = append(lat, at.Sub(t0))
			} else {
				res.Missing++
			}
		}
	}
	res.Delivered, res.Latency, res.Samples = len(lat), summarize(lat), failures
	return res, nil
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
