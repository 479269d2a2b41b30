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
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096,
		MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}}
	base := strings.TrimRight(o.URL, "/")
	var mu sync.Mutex
	steps := map[string][]time.Duration{}
	var whole []time.Duration
	res := Result{Devices: len(devices)}
	enrolled := make([]Device, 0, len(devices))
	fail := func(d Device, step string, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if len(res.Samples) < 10 {
			res.Samples = append(res.Samples, fmt.Sprintf("%s %s: %v", d.Host, step, err))
		}
	}
	var lastStart, lastDone time.Time
	finish := func(d Device, began time.Time) {
		mu.Lock()
		defer mu.Unlock()
		whole = append(whole, time.Since(began))
		enrolled = append(enrolled, d)
		if now := time.Now(); now.After(lastDone) {
			lastDone = now
		}
	}
	var sem chan struct{}
	if o.InFlight > 0 {
		sem = make(chan struct{}, o.InFlight)
	}
	var wg sync.WaitGroup
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
			timed := func(step string, f func() error) error {
				t := time.Now()
				err := f()
				if err != nil {
					fail(d, step, err)
					return err
				}
				mu.Lock()
				steps[step] = append(steps[step], time.Since(t))
				mu.Unlock()
				return nil
			}
			key := keys[d.Key%len(keys)]
			if d.Platform == "windows" {
				wd := devicesim.NewWindowsDevice(base, d.Host)
				wd.Client, wd.Key = client, key
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
					if timed(s.name, s.f) != nil {
						return
					}
				}
				u, err := url.Parse(wd.ManagementURL)
				if err != nil {
					fail(d, "management URL", err)
					return
				}
				d.UDID, d.Secret, d.Management, d.Path = wd.DeviceID, "", wd.ManagementURL, u.RequestURI()
				d.Cert = ":" + base64.StdEncoding.EncodeToString(wd.Cert.Raw) + ":"
				finish(d, began)
				return
			}
			sc := &devicesim.SCEPClient{URL: base + "/scep", Host: d.Host, Client: client}
			var dev *devicesim.AppleDevice
			if d.SCEP == "" && d.Cert != "" {
				// Issued ahead (SelfIssued): no SCEP.
				der, err := base64.StdEncoding.DecodeString(strings.Trim(d.Cert, ":"))
				var cert *x509.Certificate
				if err == nil {
					cert, err = x509.ParseCertificate(der)
				}
				if err != nil {
					fail(d, "certificate", err)
					return
				}
				dev = devicesim.NewAppleDevice(base+"/mdm", d.Host, d.Topic, key, cert)
				dev.Client, dev.CertHeader = client, o.Header
			} else if timed("scep", func() error {
				raw, err := base64.StdEncoding.DecodeString(d.SCEP)
				if err != nil {
					return err
				}
				selfDER, err := base64.StdEncoding.DecodeString(d.Self)
				if err != nil {
					return err
				}
				self, err := x509.ParseCertificate(selfDER)
				if err != nil {
					return err
				}
				cert, err := sc.EnrollPrepared(ctx, devicesim.Prepared{Raw: raw, Self: self}, key)
				if err == nil {
					dev = devicesim.NewAppleDevice(base+"/mdm", d.Host, d.Topic, key, cert)
					dev.Client, dev.CertHeader = client, o.Header
				}
				return err
			}) != nil {
				return
			}
			if timed("authenticate", func() error { return dev.Authenticate(ctx) }) != nil {
				return
			}
			if timed("token_update", func() error { return dev.TokenUpdate(ctx) }) != nil {
				return
			}
			d.UDID, d.Secret, d.SCEP, d.Self = dev.UDID, "", "", ""
			d.Cert = ":" + base64.StdEncoding.EncodeToString(dev.Cert.Raw) + ":"
			finish(d, began)
		})
	}
	wg.Wait()
	res.GeneratorCPU = (cpuTime() - cpu0).Seconds() / time.Since(start).Seconds()
	res.Enrolled = len(enrolled)
	res.Started = lastStart.Sub(start)
	if !lastDone.IsZero() {
		res.Elapsed = lastDone.Sub(start)
		res.Rate = float64(len(steps["scep"])+len(steps["enroll"])) / res.Elapsed.Seconds()
	}
	res.Steps = map[string]Latencies{}
	for k, v := range steps {
		res.Steps[k] = summarize(v)
	}
	res.Device = summarize(whole)
	return enrolled, res
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
