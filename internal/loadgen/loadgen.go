// Package loadgen prepares and drives load against a running Trident:
// tenants with push certificates and one-time enrollment challenges
// (Prepare, in the database), a burst of simulated Apple devices enrolling
// for real over HTTP (Enroll: SCEP, Authenticate, TokenUpdate), and the
// fleet file the k6 scripts in loadtest/ read for steady-state check-ins.
//
// Device identities are real: each device gets its own certificate from
// its tenant's CA through SCEP. Keys come from a pool made ahead (a
// 2048-bit RSA key takes tens of milliseconds to make, and making them
// during the burst would measure the load generator, not Trident).
package loadgen

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Device is one simulated device of the fleet.
type Device struct {
	Platform string `json:"platform"`
	Tenant   string `json:"tenant"`           // the tenant's slug
	Host     string `json:"host"`             // the tenant's hostname devices use
	Secret   string `json:"secret,omitempty"` // the one-time enrollment challenge
	Key      int    `json:"key"`              // index into the key pool
	// SCEP is the device's first PKIOperation request, built ahead, and
	// Self the self-signed certificate that signs it (both base64 DER).
	SCEP string `json:"scep,omitempty"`
	Self string `json:"self,omitempty"`
	// Known once enrolled:
	UDID  string `json:"udid,omitempty"` // Apple's UDID, Windows's DeviceID
	Topic string `json:"topic,omitempty"`
	// Windows: the management URL its sessions address (SyncHdr Target)
	// and the path they are posted to.
	Management string `json:"management,omitempty"`
	Path       string `json:"path,omitempty"`
	Cert       string `json:"cert,omitempty"` // RFC 9440 Client-Cert value: ":base64(DER):"
}

// Files in a fleet directory.
const (
	FleetFile    = "fleet.json"    // devices to enroll (Prepare)
	KeysFile     = "keys.pem"      // the key pool (Prepare)
	EnrolledFile = "enrolled.json" // devices enrolled (Enroll), for k6
	ResultFile   = "enroll-result.json"
)

// WriteJSON writes v to dir/name.
func WriteJSON(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b, 0o600)
}

// ReadDevices reads a fleet file.
func ReadDevices(dir, name string) ([]Device, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	var ds []Device
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ds, nil
}

// WriteKeys writes the key pool as PEM.
func WriteKeys(dir string, keys []*rsa.PrivateKey) error {
	var out []byte
	for _, k := range keys {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})...)
	}
	return os.WriteFile(filepath.Join(dir, KeysFile), out, 0o600)
}

// ReadKeys reads the key pool.
func ReadKeys(dir string) ([]*rsa.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, KeysFile))
	if err != nil {
		return nil, err
	}
	var keys []*rsa.PrivateKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("the key pool is empty")
	}
	return keys, nil
}

// Latencies summarizes durations.
type Latencies struct {
	N                       int
	P50, P95, P99, Max, Avg time.Duration
}

func summarize(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Latencies{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: s[len(s)-1], Avg: sum / time.Duration(len(s))}
}

func (l Latencies) String() string {
	r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50=%s p95=%s p99=%s max=%s", l.N, r(l.P50), r(l.P95), r(l.P99), r(l.Max))
}
