//go:build loadtest

// The load test's tooling (simulated devices, a local APNs, the load
// generator) is linked only into a binary built with -tags loadtest, as
// loadtest/run builds it: the production binary carries none of it.

package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/loadgen"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

const loadtestUsage = `Usage (loadtest/run drives these; see loadtest/README.md):
  trident loadtest apns --listen ADDR --ca-out FILE
      a local APNs for the server under load (--apns-url, --apns-ca)
  trident loadtest prepare [--data-dir DIR | --database-url URL] --out DIR --tenants N --apple N [--windows N] [--host-port :PORT]
      tenants, push certificates and one-time challenges, and a key pool
  trident loadtest enroll --url URL --fleet DIR [--within 10s] [--identity-header Client-Cert] [--in-flight N]
      a burst of simulated Apple devices enrolling: SCEP, Authenticate, TokenUpdate
  trident loadtest certs --out DIR --devices N [--ca-out FILE]
      Apple devices with certificates from a new CA, for a server without SCEP (nanomdm's, side by side)
  trident loadtest sse --url URL --tenant SLUG --user U --password P --token T [--streams 1000] [--events 20]
      dashboard live streams held open while events are made; times each event's arrival on every stream`

func init() { runLoadtest = loadtest }

// loadtestActions are the actions of `trident loadtest`, each parsing
// its own flags.
var loadtestActions = map[string]func(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error{
	"apns": loadtestAPNsCommand, "prepare": loadtestPrepareCommand, "enroll": loadtestEnroll, "certs": loadtestCerts, "sse": loadtestSSE,
}

func loadtest(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("%s", loadtestUsage)
	}
	action, ok := loadtestActions[args[0]]
	if !ok {
		return usagef("unknown loadtest action %q\n%s", args[0], loadtestUsage)
	}
	return action(ctx, flag.NewFlagSet("loadtest "+args[0], flag.ContinueOnError), args[1:], stdout)
}

// loadtestAPNsCommand runs a local APNs that counts the pushes it accepts.
func loadtestAPNsCommand(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	listen := fs.String("listen", "127.0.0.1:0", "where to listen")
	caOut := fs.String("ca-out", "", "write the server's certificate (PEM) here, for --apns-ca")
	if err := parse(fs, args); err != nil {
		return err
	}
	return loadtestAPNs(ctx, *listen, *caOut, stdout)
}

// loadtestPrepareCommand writes a fleet: tenants, push certificates, challenges and keys.
func loadtestPrepareCommand(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var c common
	c.register(fs)
	var o loadgen.PrepareOptions
	out := fs.String("out", "", "the fleet directory to write")
	base := fs.String("base-domain", "", "the server's base domain (empty with the dev cluster: localhost)")
	key := fs.String("encryption-key", "", "the server's encryption key (empty with the dev cluster: its key)")
	fs.StringVar(&o.MSP, "msp", "loadtest", "the MSP of the load test's tenants")
	fs.IntVar(&o.Tenants, "tenants", 10, "tenants lt-0001…")
	fs.IntVar(&o.Apple, "apple", 100, "Apple devices, spread over the tenants")
	fs.IntVar(&o.Windows, "windows", 0, "Windows devices, spread over the tenants")
	fs.IntVar(&o.Keys, "keys", 32, "RSA keys in the pool the devices share")
	fs.StringVar(&o.HostPort, "host-port", "", "the port devices reach tenants' hostnames on, as :8080 (empty: the scheme's)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("prepare needs --out\n%s", loadtestUsage)
	}
	return loadtestPrepare(ctx, c, *base, *key, *out, o, stdout)
}

// loadtestEnroll enrolls a prepared fleet in a burst.
func loadtestEnroll(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var o loadgen.EnrollOptions
	fleet := fs.String("fleet", "", "the fleet directory prepare wrote")
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "where Trident listens")
	fs.DurationVar(&o.Within, "within", 10*time.Second, "spread the devices' starts over this long")
	fs.StringVar(&o.Header, "identity-header", "", "send identities in this header (a server with --apple-device-identity header); empty signs messages")
	fs.IntVar(&o.InFlight, "in-flight", 0, "at most this many devices enrolling at once (0: no bound)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *fleet == "" {
		return usagef("enroll needs --fleet\n%s", loadtestUsage)
	}
	devices, err := loadgen.ReadDevices(*fleet, loadgen.FleetFile)
	if err != nil {
		return err
	}
	keys, err := loadgen.ReadKeys(*fleet)
	if err != nil {
		return err
	}
	enrolled, res := loadgen.Enroll(ctx, devices, keys, o)
	if err := loadgen.WriteJSON(*fleet, loadgen.EnrolledFile, enrolled); err != nil {
		return err
	}
	if err := loadgen.WriteJSON(*fleet, loadgen.ResultFile, res); err != nil {
		return err
	}
	fmt.Fprint(stdout, res)
	if res.Errors > 0 || res.Enrolled != res.Devices {
		return fmt.Errorf("%d of %d devices did not enroll", res.Devices-res.Enrolled, res.Devices)
	}
	return nil
}

// loadtestCerts makes Apple devices with certificates from a new CA, for a server without SCEP.
func loadtestCerts(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	out := fs.String("out", "", "the fleet directory to write")
	n := fs.Int("devices", 100, "Apple devices")
	caOut := fs.String("ca-out", "", "write the CA certificate (PEM) here")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *caOut == "" {
		return usagef("certs needs --out and --ca-out\n%s", loadtestUsage)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	keys, err := loadgen.MakeKeys(32)
	if err != nil {
		return err
	}
	caPEM, devices, err := loadgen.SelfIssued(*n, "", "com.apple.mgmt.External.00000000-0000-4000-8000-000000000000", keys)
	if err != nil {
		return err
	}
	if err := errors.Join(os.WriteFile(*caOut, caPEM, 0o644), loadgen.WriteJSON(*out, loadgen.FleetFile, devices),
		loadgen.WriteKeys(*out, keys)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d Apple devices with certificates from a new CA: %s\n", len(devices), *out)
	return nil
}

// loadtestSSE holds dashboard live streams open while events are made.
func loadtestSSE(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var o loadgen.SSEOptions
	fs.StringVar(&o.URL, "url", "http://localhost:8080", "the platform's URL, as people reach the dashboard")
	fs.StringVar(&o.Tenant, "tenant", "", "the tenant whose devices page to open")
	fs.StringVar(&o.User, "user", "", "a dashboard sign-in at the dev identity provider")
	fs.StringVar(&o.Password, "password", "", "its password")
	fs.StringVar(&o.Token, "token", "", "an API bearer token that may queue commands in the tenant")
	fs.IntVar(&o.Streams, "streams", 1000, "live streams to hold open")
	fs.IntVar(&o.Events, "events", 20, "events to make, one after another")
	fs.DurationVar(&o.Interval, "interval", 250*time.Millisecond, "between events")
	fs.DurationVar(&o.Wait, "wait", 5*time.Second, "how long after the last event stragglers may arrive")
	out := fs.String("out", "", "also write the result as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Tenant == "" || o.User == "" || o.Token == "" {
		return usagef("sse needs --tenant, --user, --password and --token\n%s", loadtestUsage)
	}
	res, err := loadgen.LoadSSE(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res)
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return err
		}
	}
	if res.Connected != res.Streams || res.Missing > 0 || len(res.Samples) > 0 {
		return fmt.Errorf("%d of %d streams connected, %d deliveries missing", res.Connected, res.Streams, res.Missing)
	}
	return nil
}

func loadtestAPNs(ctx context.Context, listen, caOut string, stdout io.Writer) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	s := fakeapns.Serve(l)
	defer s.Close()
	if caOut != "" {
		if err := os.WriteFile(caOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "local APNs at %s\n", s.URL)
	<-ctx.Done()
	fmt.Fprintf(stdout, "local APNs: %d pushes accepted\n", s.Count())
	return nil
}

func loadtestPrepare(ctx context.Context, c common, base, key, out string, o loadgen.PrepareOptions, stdout io.Writer) error {
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	if c.databaseURL == "" {
		if base == "" {
			base = "localhost"
		}
		if key == "" {
			var err error
			if key, err = devEncryptionKey(c.dataDir); err != nil {
				return err
			}
		}
	}
	if base == "" || key == "" {
		return usagef("with --database-url, --base-domain and --encryption-key are required")
	}
	k, err := seal.ParseKey(key)
	if err != nil {
		return usagef("--encryption-key: %v", err)
	}
	keys := seal.NewKeyring(k)
	log, _ := c.logger(os.Stderr)
	dbs, err := c.connect(ctx, "", false, log)
	if err != nil {
		return err
	}
	defer dbs.release()
	db, err := tenancy.Open(ctx, dbs.app, dbs.reader)
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := tenancy.NewDirectory(db, base)
	if err != nil {
		return usageError{err}
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	start := time.Now()
	pk := pki.New(db, events.NewPublisher(nil), keys)
	pub := events.NewPublisher(nil)
	win := enrollment.NewWindows(db, pk, inventory.New(db, pub), pub, keys)
	devices, pool, err := loadgen.Prepare(ctx, db, dir, pk, mdmstore.New(db, keys), win, o)
	if err != nil {
		return err
	}
	if err := errors.Join(loadgen.WriteJSON(out, loadgen.FleetFile, devices), loadgen.WriteKeys(out, pool)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "prepared %d tenants, %d Apple and %d Windows devices in %s: %s\n", o.Tenants, o.Apple, o.Windows,
		time.Since(start).Round(time.Millisecond), out)
	return nil
}
