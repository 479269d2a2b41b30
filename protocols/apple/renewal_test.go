package apple_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/internal/devicesim"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

// An Apple device whose identity expires within the window gets one
// InstallProfile with a fresh enrollment profile (the tenant's stable
// identifiers, a new SCEP challenge); installing it, the device renews its
// identity in place (SCEP, then Authenticate and TokenUpdate with the new
// one) and stays enrolled; runs before and after queue nothing more.
func TestAppleIdentityRenewal(t *testing.T) {
	e := setupMDM(t)
	ctx := context.Background()
	tn := e.a
	certPEM, keyPEM := pushCert(t, topic)
	if err := e.store.StorePushCert(e.ctx(tn), certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	d := e.enroll(t, tn)
	if err := d.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		t.Fatal(err)
	}
	dev := e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	dir, _ := tenancy.NewDirectory(e.db, "trident.test")
	r := &apple.Renewer{Dir: dir, Profiles: apple.NewProfiles(e.pki, e.store, "trident.test", "http", 0),
		Apple: enrollment.NewApple(e.db, e.pki, e.inv, e.cmds, events.NewPublisher(nil)), Log: testenv.Logger(t)}

	// Within the default window (60 days) a one-year identity is not due.
	if n, err := r.Renew(ctx, tn.ID); err != nil || n != 0 {
		t.Fatalf("a fresh identity: %d renewals, %v", n, err)
	}
	// Within a year and a day it is: one command, however often the job runs.
	r.Window = pki.DeviceLifetime + 24*time.Hour
	if n, err := r.Renew(ctx, tn.ID); err != nil || n != 1 {
		t.Fatalf("an identity due: %d renewals, %v", n, err)
	}
	if n, err := r.Renew(ctx, tn.ID); err != nil || n != 0 {
		t.Fatalf("again while the first waits: %d renewals, %v", n, err)
	}
	c, err := d.Idle(ctx)
	if err != nil || c == nil || c.Command.RequestType != "InstallProfile" {
		t.Fatalf("the renewal did not arrive: %+v %v", c, err)
	}
	var cmd struct {
		Command struct{ Payload []byte }
	}
	if err := plist.Unmarshal(c.Raw, &cmd); err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(cmd.Command.Payload)
	if err != nil || p7.Verify() != nil {
		t.Fatalf("the profile is not signed: %v", err)
	}
	var profile struct {
		PayloadUUID    string
		PayloadContent []struct {
			PayloadType    string
			PayloadContent struct{ URL, Challenge string }
		}
	}
	if err := plist.Unmarshal(p7.Content, &profile); err != nil || len(profile.PayloadContent) != 2 {
		t.Fatalf("profile: %v %+v", err, profile)
	}
	// The device installs it: a new identity by SCEP, then the MDM
	// payload's check-ins with it.
	u, _ := url.Parse(profile.PayloadContent[0].PayloadContent.URL)
	sc := &devicesim.SCEPClient{URL: e.base + u.Path, Host: d.Host}
	key, cert, err := sc.Enroll(ctx, profile.PayloadContent[0].PayloadContent.Challenge, "device")
	if err != nil {
		t.Fatal(err)
	}
	d.Key, d.Cert = key, cert
	if err := d.Authenticate(ctx); err != nil {
		t.Fatalf("Authenticate with the renewed identity: %v", err)
	}
	if err := d.TokenUpdate(ctx); err != nil {
		t.Fatalf("TokenUpdate with the renewed identity: %v", err)
	}
	if _, err := d.Answer(ctx, c, "Acknowledged"); err != nil {
		t.Fatal(err)
	}
	e.device(t, tn, d.UDID, func(x inventory.Device) bool { return x.Status == inventory.Enrolled })
	var ids []pki.Identity
	if err := e.db.Tx(e.ctx(tn), func(tx pgx.Tx) (err error) {
		ids, err = e.pki.Identities(e.ctx(tn), dev.ID)
		return
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0].RevokedAt != nil || ids[1].RevokedAt != nil {
		t.Fatalf("identities after the renewal: %+v", ids)
	}
	// Nothing more is due: the newest identity is the new one.
	r.Window = 300 * 24 * time.Hour
	if n, err := r.Renew(ctx, tn.ID); err != nil || n != 0 {
		t.Fatalf("after the renewal: %d renewals, %v", n, err)
	}
	if _, err := d.Idle(ctx); err != nil {
		t.Fatalf("a check-in with the new identity: %v", err)
	}
}
