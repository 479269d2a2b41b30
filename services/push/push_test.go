package push_test

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fakeapns"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/push"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// pushCert is an MDM push certificate for topic, and its key.
func pushCert(t *testing.T, topic string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	certPEM, keyPEM, err := fakeapns.PushCertificate(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	cert, _ = x509.ParseCertificate(b.Bytes)
	return certPEM, keyPEM, cert
}

func TestApplePushes(t *testing.T) {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	tn := testenv.Tenant(t, dir)
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	key, _, _ := seal.NewRandomKey()
	store := mdmstore.New(db, seal.NewKeyring(key))
	const topic = "com.apple.mgmt.External.3c5d1b3c-aaaa-bbbb-cccc-0123456789ab"
	certPEM, keyPEM, cert := pushCert(t, topic)
	if err := store.StorePushCert(ctx, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"dev-ok": "aa01", "dev-gone": "aa02"}
	err = db.Tx(ctx, func(tx pgx.Tx) error {
		for id, tok := range tokens {
			if _, err := tx.Exec(ctx, `INSERT INTO apple_devices (id, authenticate, authenticate_at) VALUES ($1, '<?xml', now())`, id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO apple_enrollments (id, device_id, type, topic, push_magic, token_hex, last_seen_at)
VALUES ($1, $1, 'Device', $2, 'magic-'||$1, $3, now())`, id, topic, tok); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	srv := fakeapns.New()
	defer srv.Close()
	srv.Fail("aa02", "Unregistered")
	apns := push.NewAPNs(store, push.WithHost(srv.URL, srv.TLSConfig))

	failed, err := apns.Push(ctx, []string{"dev-ok", "dev-gone", "never-enrolled"})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || !errors.Is(failed["dev-gone"], push.ErrPermanent) {
		t.Fatalf("failures %v; want only dev-gone, permanently", failed)
	}
	got, ok := srv.Next(5 * time.Second)
	if !ok {
		t.Fatal("APNs received nothing")
	}
	if got.Token != hex.EncodeToString([]byte{0xaa, 0x01}) || got.Topic != topic || got.PushType != "mdm" ||
		string(got.Body) != `{"mdm":"magic-dev-ok"}` || !got.ClientCert.Equal(cert) {
		t.Fatalf("push %+v", got)
	}

	// A transient failure is not permanent (the job retries it).
	srv.Fail("aa01", "InternalServerError")
	failed, _ = apns.Push(ctx, []string{"dev-ok"})
	if failed["dev-ok"] == nil || errors.Is(failed["dev-ok"], push.ErrPermanent) {
		t.Fatalf("transient failure: %v", failed)
	}
	srv.Fail("aa01", "")

	// A renewed push certificate is used from the next push on.
	certPEM2, keyPEM2, cert2 := pushCert(t, topic)
	if err := store.StorePushCert(ctx, certPEM2, keyPEM2); err != nil {
		t.Fatal(err)
	}
	if failed, _ := apns.Push(ctx, []string{"dev-ok"}); len(failed) != 0 {
		t.Fatal(failed)
	}
	if got, _ := srv.Next(5 * time.Second); !got.ClientCert.Equal(cert2) {
		t.Fatal("the renewed certificate was not used")
	}

	if _, err := apns.Push(context.Background(), []string{"dev-ok"}); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Fatalf("push without a tenant: %v", err)
	}
}
