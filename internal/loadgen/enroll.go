package loadgen

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tridentmdm/trident/internal/devicesim"
)

// EnrollOptions say how to run the burst.
type EnrollOptions struct {
	URL string // where Trident listens, for example http://127.0.0.1:8080
	// Within spreads the devices' starts evenly over this long (0: all at
	// once).
	Within time.Duration
	// Header, when set, sends each device's identity in this header
	// (RFC 9440) as a TLS-terminating proxy would, for a server run with
	// --apple-device-identity header; empty signs every message
	// (Mdm-Signature), the default production mode.
	Header string
	// InFlight bounds the devices enrolling at once (0: no bound).
	InFlight int
}

// Result is what the burst measured.
type Result struct {
	Devices  int                  `json:"devices"`
	Enrolled int                  `json:"enrolled"`
	Errors   int                  `json:"errors"`
	Samples  []string             `json:"error_samples,omitempty"`
	Started  time.Duration        `json:"started_within_ns"`  // from the first start to the last
	Elapsed  time.Duration        `json:"all_enrolled_in_ns"` // from the first start to the last TokenUpdate
	Steps    map[string]Latencies `json:"steps"`              // per request kind
	Device   Latencies            `json:"device"`             // a device's whole enrollment
	Rate     float64              `json:"issued_per_second"`  // certificates issued (SCEP and Windows) per second of the burst
	// GeneratorCPU is the cores this load generator used over the burst
	// (it shares the machine with Trident).
	GeneratorCPU float64 `json:"generator_cores"`
}

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "devices %d, enrolled %d, errors %d; starts within %s, all enrolled in %s; %.1f certificates issued/s; the generator used %.2f cores\n",
		r.Devices, r.Enrolled, r.Errors, r.Started.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond), r.Rate, r.GeneratorCPU)
	for _, k := range []string{"scep", "authenticate", "token_update", "discover", "policies", "enroll", "first_session"} {
		if l, ok := r.Steps[k]; ok {
			fmt.Fprintf(&b, "  %-13s %s\n", k, l)
		}
	}
	fmt.Fprintf(&b, "  %-13s %s\n", "whole device", r.Device)
	for _, s := range r.Samples {
		fmt.Fprintf(&b, "  error: %s\n", s)
	}
	return b.String()
}

// Enroll takes every device through SCEP, Authenticate and TokenUpdate
// against the running server, and answers the enrolled devices (with
// their identities, for the steady-state scripts) and what it measured.
func Enroll(ctx context.Context, devices []Device, keys []*rsa.PrivateKey, o EnrollOptions) ([]Device, Result) {
	b := &burst{
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096,
			MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}},
		base: strings.TrimRight(o.URL, "/"), header: o.Header,
		steps: map[string][]time.Duration{}, res: Result{Devices: len(devices)}, enrolled: make([]Device, 0, len(devices)),
	}
	var sem chan struct{}
	if o.InFlight > 0 {
		sem = make(chan struct{}, o.InFlight)
	}
	var wg sync.WaitGroup
	var lastStart time.Time
	cpu0 := cpuTime()
	start := time.Now()
	for i, d := range devices {
		if o.Within > 0 && len(devices) > 1 {
			at := start.Add(o.Within * time.Duration(i) / time.Duration(len(devices)))
			if w := time.Until(at); w > 0 {
				select {
				case <-time.After(w):
				case <-ctx.Done():
				}
			}
		}
		if sem != nil {
			sem <- struct{}{}
		}
		lastStart = time.Now()
		wg.Go(func() {
			if sem != nil {
				defer func() { <-sem }()
			}
			began := time.Now()
			key := keys[d.Key%len(keys)]
			var ok bool
			if d.Platform == "windows" {
				d, ok = b.windows(ctx, d, key)
			} else {
				d, ok = b.apple(ctx, d, key)
			}
			if ok {
				b.finish(d, began)
			}
		})
	}
	wg.Wait()
	res := b.res
	res.GeneratorCPU = (cpuTime() - cpu0).Seconds() / time.Since(start).Seconds()
	res.Enrolled = len(b.enrolled)
	res.Started = lastStart.Sub(start)
	if !b.lastDone.IsZero() {
		res.Elapsed = b.lastDone.Sub(start)
		res.Rate = float64(len(b.steps["scep"])+len(b.steps["enroll"])) / res.Elapsed.Seconds()
	}
	res.Steps = map[string]Latencies{}
	for k, v := range b.steps {
		res.Steps[k] = summarize(v)
	}
	res.Device = summarize(b.whole)
	return b.enrolled, res
}

// burst is one Enroll's shared state: the devices' client and what they
// measured.
type burst struct {
	client *http.Client
	base   string
	header string

	mu       sync.Mutex
	steps    map[string][]time.Duration
	whole    []time.Duration
	res      Result
	enrolled []Device
	lastDone time.Time
}

func (b *burst) fail(d Device, step string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.res.Errors++
	if len(b.res.Samples) < 10 {
		b.res.Samples = append(b.res.Samples, fmt.Sprintf("%s %s: %v", d.Host, step, err))
	}
}

func (b *burst) finish(d Device, began time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.whole = append(b.whole, time.Since(began))
	b.enrolled = append(b.enrolled, d)
	if now := time.Now(); now.After(b.lastDone) {
		b.lastDone = now
	}
}

// timed runs step f for d and records how long it took, or its failure.
func (b *burst) timed(d Device, step string, f func() error) error {
	t := time.Now()
	if err := f(); err != nil {
		b.fail(d, step, err)
		return err
	}
	b.mu.Lock()
	b.steps[step] = append(b.steps[step], time.Since(t))
	b.mu.Unlock()
	return nil
}

// windows discovers, enrolls and runs the first session; it answers the
// device with its identity and management URL.
func (b *burst) windows(ctx context.Context, d Device, key *rsa.PrivateKey) (Device, bool) {
	wd := devicesim.NewWindowsDevice(b.base, d.Host)
	wd.Client, wd.Key = b.client, key
	for _, s := range []struct {
		name string
		f    func() error
	}{
		{"discover", func() error { return wd.Discover(ctx) }},
		{"policies", func() error { _, err := wd.Policies(ctx, d.Secret, false); return err }},
		{"enroll", func() error { return wd.Enroll(ctx, d.Secret, false) }},
		// The first session takes what enrolling queued.
		{"first_session", func() error { _, err := wd.Session(ctx); return err }},
	} {
		if b.timed(d, s.name, s.f) != nil {
			return d, false
		}
	}
	u, err := url.Parse(wd.ManagementURL)
	if err != nil {
		b.fail(d, "management URL", err)
		return d, false
	}
	d.UDID, d.Secret, d.Management, d.Path = wd.DeviceID, "", wd.ManagementURL, u.RequestURI()
	d.Cert = ":" + base64.StdEncoding.EncodeToString(wd.Cert.Raw) + ":"
	return d, true
}

// apple gets the device's certificate (by SCEP, unless it was issued
// ahead) and sends Authenticate and TokenUpdate; it answers the device
// with its identity.
func (b *burst) apple(ctx context.Context, d Device, key *rsa.PrivateKey) (Device, bool) {
	var dev *devicesim.AppleDevice
	if d.SCEP == "" && d.Cert != "" {
		// Issued ahead (SelfIssued): no SCEP.
		der, err := base64.StdEncoding.DecodeString(strings.Trim(d.Cert, ":"))
		var cert *x509.Certificate
		if err == nil {
			cert, err = x509.ParseCertificate(der)
		}
		if err != nil {
			b.fail(d, "certificate", err)
			return d, false
		}
		dev = devicesim.NewAppleDevice(b.base+"/mdm", d.Host, d.Topic, key, cert)
	} else if b.timed(d, "scep", func() error {
		cert, err := b.scep(ctx, d, key)
		if err == nil {
			dev = devicesim.NewAppleDevice(b.base+"/mdm", d.Host, d.Topic, key, cert)
		}
		return err
	}) != nil {
		return d, false
	}
	dev.Client, dev.CertHeader = b.client, b.header
	if b.timed(d, "authenticate", func() error { return dev.Authenticate(ctx) }) != nil {
		return d, false
	}
	if b.timed(d, "token_update", func() error { return dev.TokenUpdate(ctx) }) != nil {
		return d, false
	}
	d.UDID, d.Secret, d.SCEP, d.Self = dev.UDID, "", "", ""
	d.Cert = ":" + base64.StdEncoding.EncodeToString(dev.Cert.Raw) + ":"
	return d, true
}

// scep sends the device's prepared SCEP request and answers the issued
// certificate.
func (b *burst) scep(ctx context.Context, d Device, key *rsa.PrivateKey) (*x509.Certificate, error) {
	raw, err := base64.StdEncoding.DecodeString(d.SCEP)
	if err != nil {
		return nil, err
	}
	selfDER, err := base64.StdEncoding.DecodeString(d.Self)
	if err != nil {
		return nil, err
	}
	self, err := x509.ParseCertificate(selfDER)
	if err != nil {
		return nil, err
	}
	sc := &devicesim.SCEPClient{URL: b.base + "/scep", Host: d.Host, Client: b.client}
	return sc.EnrollPrepared(ctx, devicesim.Prepared{Raw: raw, Self: self}, key)
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
