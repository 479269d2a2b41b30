package apple_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/services/inventory"
)

// enrolledDevice is a simulated device through SCEP, Authenticate and
// TokenUpdate in tenant a, with its inventory id.
func enrolledDevice(b *testing.B, e *mdmEnv) (*devicesim.AppleDevice, inventory.Device) {
	certPEM, keyPEM := pushCert(b, topic)
	if err := e.store.StorePushCert(e.ctx(e.a), certPEM, keyPEM); err != nil {
		b.Fatal(err)
	}
	d := e.enroll(b, e.a)
	ctx := context.Background()
	if err := d.Authenticate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		b.Fatal(err)
	}
	return d, e.device(b, e.a, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
}

// A device's check-in with nothing queued (Status Idle): the signature
// verified against the tenant's CA, nanomdm's bookkeeping, Trident's
// next-command lookup and its last-seen update.
func BenchmarkIdle(b *testing.B) {
	e := setupMDM(b)
	d, _ := enrolledDevice(b, e)
	ctx := context.Background()
	for b.Loop() {
		if c, err := d.Idle(ctx); err != nil || c != nil {
			b.Fatal(c, err)
		}
	}
}

// A command's round trip on an awake device: Idle fetches it, the
// Acknowledged answer records it (two requests).
func BenchmarkCommand(b *testing.B) {
	e := setupMDM(b)
	d, dev := enrolledDevice(b, e)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		e.queue(b, e.a, dev.ID, "restart")
		b.StartTimer()
		c, err := d.Idle(ctx)
		if err != nil || c == nil {
			b.Fatal(c, err)
		}
		if next, err := d.Answer(ctx, c, "Acknowledged"); err != nil || next != nil {
			b.Fatal(next, err)
		}
	}
}

// SCEP issuance alone, devices' requests built ahead (their RSA is their
// own processor's): the server decrypts each envelope, checks and
// consumes the challenge, signs and records the certificate, and signs
// the answer. Run with a fixed count (-benchtime 500x): each iteration
// needs a request made before the timer starts. issuances/s is the
// server's rate with 4 x GOMAXPROCS devices at once.
func BenchmarkSCEPIssue(b *testing.B) {
	e := setupMDM(b)
	ctx := e.ctx(e.a)
	sc := &devicesim.SCEPClient{URL: e.base + "/scep", Host: e.a.Slug + ".trident.test"}
	ca, err := sc.CACert(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	reqs := make(chan []byte, b.N)
	for i := range b.N {
		var secret string
		if err := e.db.Tx(ctx, func(tx pgx.Tx) (err error) {
			secret, _, err = e.pki.NewChallengeTx(ctx, tx, "apple-enrollment", time.Hour)
			return
		}); err != nil {
			b.Fatal(err)
		}
		p, err := devicesim.Prepare(ca, key, secret, fmt.Sprintf("device-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		reqs <- p.Raw
	}
	close(reqs)
	start := time.Now()
	b.ResetTimer()
	b.SetParallelism(4) // 4 x GOMAXPROCS devices at once: the server's slots, not the clients, limit it
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/scep?operation=PKIOperation", bytes.NewReader(<-reqs))
			req.Host = sc.Host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-pki-message" {
				b.Errorf("PKIOperation: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "issuances/s")
	var n int
	if err := e.db.Tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM issued_certificates`).Scan(&n)
	}); err != nil || n < b.N {
		b.Fatalf("%d certificates recorded for %d requests (%v)", n, b.N, err)
	}
}
