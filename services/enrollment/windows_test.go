package enrollment_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/enrollment"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/services/pki"
	"github.com/tridentmdm/trident/tenancy"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	t     *testing.T
	db    *tenancy.DB
	w     *enrollment.Windows
	certs *pki.PKI
	cmds  *commands.Queue
	a, b  context.Context // two tenants
}

func setup(t *testing.T) *fixture {
	db := testenv.DB(t)
	dir, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := seal.NewRandomKey()
	keys := seal.NewKeyring(k)
	certs := pki.New(db, events.NewPublisher(nil), keys)
	pub := events.NewPublisher(nil)
	inv := inventory.New(db, pub)
	return &fixture{t: t, db: db, w: enrollment.NewWindows(db, certs, inv, pub, keys), certs: certs, cmds: commands.New(db, inv, pub),
		a: tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID),
		b: tenancy.WithTenant(context.Background(), testenv.Tenant(t, dir).ID)}
}

func (f *fixture) tx(ctx context.Context, fn func(pgx.Tx) error) error { return f.db.Tx(ctx, fn) }

func csr(t *testing.T) *x509.CertificateRequest {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) token(ctx context.Context) string {
	var tok enrollment.Token
	if err := f.tx(ctx, func(tx pgx.Tx) error {
		var err error
		tok, err = f.w.NewToken(ctx, time.Hour)
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return tok.Secret
}

func (f *fixture) enroll(ctx context.Context, token, deviceID string) (*x509.Certificate, error) {
	var cert *x509.Certificate
	err := f.tx(ctx, func(tx pgx.Tx) error {
		var err error
		cert, _, err = f.w.Enroll(ctx, token, csr(f.t), enrollment.Device{DeviceID: deviceID, Name: "PC", OSVersion: "10.0.22631"})
		return err
	})
	return cert, err
}

func (f *fixture) authenticate(ctx context.Context, cert *x509.Certificate, deviceID string) (enrollment.Enrollment, error) {
	var e enrollment.Enrollment
	err := f.tx(ctx, func(tx pgx.Tx) error {
		var err error
		e, err = f.w.Authenticate(ctx, cert, deviceID)
		return err
	})
	return e, err
}

func TestEnrollAndAuthenticate(t *testing.T) {
	f := setup(t)
	tok := f.token(f.a)
	// Checking a token does not use it up; enrolling does.
	for range 2 {
		if err := f.tx(f.a, func(tx pgx.Tx) error { return f.w.CheckToken(f.a, tok) }); err != nil {
			t.Fatalf("check: %v", err)
		}
	}
	cert, err := f.enroll(f.a, tok, "DEV-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.enroll(f.a, tok, "DEV-2"); !errors.Is(err, enrollment.ErrToken) {
		t.Errorf("a used token: %v", err)
	}
	e, err := f.authenticate(f.a, cert, "DEV-1")
	if err != nil || e.Device.Identifier != "DEV-1" || e.Device.Status != inventory.Enrolled || e.Device.Platform != inventory.Windows {
		t.Fatalf("authenticate: %+v %v", e, err)
	}
	// The certificate is bound to its device id, and to its tenant.
	if _, err := f.authenticate(f.a, cert, "DEV-OTHER"); !errors.Is(err, enrollment.ErrNotEnrolled) {
		t.Errorf("another device id: %v", err)
	}
	if _, err := f.authenticate(f.b, cert, "DEV-1"); !errors.Is(err, enrollment.ErrNotEnrolled) {
		t.Errorf("another tenant: %v", err)
	}
	// A token of the other tenant, or for Apple, enrolls nothing here.
	if _, err := f.enroll(f.a, f.token(f.b), "DEV-3"); !errors.Is(err, enrollment.ErrToken) {
		t.Errorf("the other tenant's token: %v", err)
	}
	var apple string
	f.tx(f.a, func(tx pgx.Tx) error {
		apple, _, err = f.certs.NewChallengeTx(f.a, tx, "apple-enrollment", time.Hour)
		return err
	})
	if _, err := f.enroll(f.a, apple, "DEV-3"); !errors.Is(err, enrollment.ErrToken) {
		t.Errorf("an Apple challenge: %v", err)
	}
	// Bad device input changes nothing.
	var verr *fault.Error
	if _, err := f.enroll(f.a, f.token(f.a), ""); !errors.As(err, &verr) || verr.Code != fault.Invalid {
		t.Errorf("no device id: %v", err)
	}
	if _, err := f.enroll(f.a, f.token(f.a), "bad\x00id"); !errors.As(err, &verr) || verr.Code != fault.Invalid {
		t.Errorf("a control character: %v", err)
	}

	// Enrolling again replaces the binding: the old certificate stops
	// working, the new one works.
	again, err := f.enroll(f.a, f.token(f.a), "DEV-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.authenticate(f.a, cert, "DEV-1"); !errors.Is(err, enrollment.ErrNotEnrolled) {
		t.Errorf("the replaced certificate: %v", err)
	}
	if _, err := f.authenticate(f.a, again, "DEV-1"); err != nil {
		t.Errorf("the new certificate: %v", err)
	}

	// Unenrolled, the device shows it and its certificate is refused.
	if err := f.tx(f.a, func(tx pgx.Tx) error { return f.w.Unenroll(f.a, "DEV-1", "user") }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.authenticate(f.a, again, "DEV-1"); !errors.Is(err, enrollment.ErrNotEnrolled) {
		t.Errorf("after unenrollment: %v", err)
	}
	if err := f.tx(f.a, func(tx pgx.Tx) error { return f.w.Unenroll(f.a, "DEV-1", "user") }); !errors.Is(err, enrollment.ErrNotEnrolled) {
		t.Errorf("unenrolling twice: %v", err)
	}
}

func TestChunks(t *testing.T) {
	f := setup(t)
	if _, err := f.enroll(f.a, f.token(f.a), "DEV-1"); err != nil {
		t.Fatal(err)
	}
	err := f.tx(f.a, func(tx pgx.Tx) error {
		for _, part := range []string{"ab", "cd", "ef"} {
			if err := f.w.AppendChunk(f.a, "DEV-1", "c.1", "./x", part); err != nil {
				return err
			}
		}
		got, err := f.w.TakeChunks(f.a, "DEV-1", "c.1", "./x")
		if got != "abcdef" || err != nil {
			t.Errorf("chunks: %q %v", got, err)
		}
		if got, _ := f.w.TakeChunks(f.a, "DEV-1", "c.1", "./x"); got != "" {
			t.Errorf("taken twice: %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Past the limit the device gets an error, not unbounded storage.
	big := strings.Repeat("x", 1<<20)
	err = f.tx(f.a, func(tx pgx.Tx) error {
		for range 5 {
			if err := f.w.AppendChunk(f.a, "DEV-1", "c.2", "./y", big); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, enrollment.ErrChunks) {
		t.Errorf("5 MiB of chunks: %v", err)
	}
	// Chunks belong to an enrolled device of the tenant.
	if err := f.tx(f.b, func(tx pgx.Tx) error { return f.w.AppendChunk(f.b, "DEV-1", "c.1", "./x", "z") }); err == nil {
		t.Error("a chunk for a device the tenant does not have was kept")
	}
}

func TestFederation(t *testing.T) {
	f := setup(t)
	get := func(ctx context.Context) (enrollment.Federation, error) {
		var fed enrollment.Federation
		err := f.tx(ctx, func(tx pgx.Tx) error {
			var err error
			fed, err = f.w.Federation(ctx)
			return err
		})
		return fed, err
	}
	if _, err := get(f.a); !errors.Is(err, enrollment.ErrNoFederation) {
		t.Fatalf("none yet: %v", err)
	}
	var verr *fault.Error
	for _, bad := range []enrollment.Federation{
		{Issuer: "ftp://x", ClientID: "c", ClientSecret: "s"},
		{Issuer: "http://idp.example.com", ClientID: "c", ClientSecret: "s"},
		{Issuer: "https://idp.example.com", ClientSecret: "s"},
		{Issuer: "https://idp.example.com", ClientID: "c"},
		{Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s", AllowedDomains: []string{"user@contoso.com"}},
	} {
		err := f.tx(f.a, func(tx pgx.Tx) error { _, err := f.w.SetFederation(f.a, bad); return err })
		if !errors.As(err, &verr) || verr.Code != fault.Invalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if err := f.tx(f.a, func(tx pgx.Tx) error {
		_, err := f.w.SetFederation(f.a, enrollment.Federation{Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s3cret",
			AllowedDomains: []string{"Contoso.com"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	fed, err := get(f.a)
	if err != nil || fed.ClientSecret != "s3cret" || fed.AllowedDomains[0] != "contoso.com" {
		t.Fatalf("stored: %+v %v", fed, err)
	}
	if _, err := get(f.b); !errors.Is(err, enrollment.ErrNoFederation) {
		t.Errorf("the other tenant sees it: %v", err)
	}
	// The secret is sealed to the tenant: copied to another tenant's row
	// it does not open.
	var sealed []byte
	f.tx(f.a, func(tx pgx.Tx) error {
		return tx.QueryRow(f.a, `SELECT client_secret FROM windows_federation`).Scan(&sealed)
	})
	f.tx(f.b, func(tx pgx.Tx) error {
		_, err := tx.Exec(f.b, `INSERT INTO windows_federation (issuer, client_id, client_secret) VALUES ('https://x.example', 'c', $1)`, sealed)
		return err
	})
	if _, err := get(f.b); err == nil || errors.Is(err, enrollment.ErrNoFederation) {
		t.Errorf("a secret moved to another tenant opened: %v", err)
	}

	token := func(p enrollment.Person) error {
		return f.tx(f.a, func(tx pgx.Tx) error {
			tok, err := f.w.FederatedToken(f.a, fed, p)
			if err == nil {
				err = f.w.CheckToken(f.a, tok.Secret)
			}
			return err
		})
	}
	if err := token(enrollment.Person{Subject: "1", Email: "ana@contoso.com", EmailVerified: true}); err != nil {
		t.Errorf("an allowed person: %v", err)
	}
	// The device enrolled with a person's token is theirs: its user
	// (issue 24's user column, issue 25's search by user).
	var tok enrollment.Token
	if err := f.tx(f.a, func(tx pgx.Tx) (err error) {
		tok, err = f.w.FederatedToken(f.a, fed, enrollment.Person{Subject: "1", Email: "ana@contoso.com", EmailVerified: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.enroll(f.a, tok.Secret, "FED-PC-1"); err != nil {
		t.Fatal(err)
	}
	var user string
	f.tx(f.a, func(tx pgx.Tx) error {
		return tx.QueryRow(f.a, `SELECT facts->>'user' FROM devices WHERE identifier = 'FED-PC-1'`).Scan(&user)
	})
	if user != "ana@contoso.com" {
		t.Errorf("the federated device's user: %q, want ana@contoso.com", user)
	}
	for _, p := range []enrollment.Person{{Subject: "2", Email: "eve@elsewhere.com", EmailVerified: true},
		{Subject: "3", Email: "mallory@contoso.com"}, {Subject: "4", Email: "x@sub.contoso.com", EmailVerified: true}} {
		if err := token(p); !errors.Is(err, enrollment.ErrNotAllowed) {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

// Commands a device was sent and never answered come back at its next
// session, as another attempt; expired ones end.
func TestResend(t *testing.T) {
	f := setup(t)
	if _, err := f.enroll(f.a, f.token(f.a), "DEV-1"); err != nil {
		t.Fatal(err)
	}
	var device, resent, expired uuid.UUID
	err := f.tx(f.a, func(tx pgx.Tx) error {
		var dev inventory.Device
		if err := tx.QueryRow(f.a, `SELECT id FROM devices WHERE identifier = 'DEV-1'`).Scan(&dev.ID); err != nil {
			return err
		}
		a, err := f.cmds.Enqueue(f.a, commands.NewCommand{DeviceID: dev.ID, Kind: "restart"})
		if err != nil {
			return err
		}
		b, err := f.cmds.Enqueue(f.a, commands.NewCommand{DeviceID: dev.ID, Kind: "lock", Lifetime: time.Minute})
		if err != nil {
			return err
		}
		for range 2 {
			if _, err := f.cmds.NextTx(f.a, tx, dev.ID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(f.a, `UPDATE commands SET expires_at = now() - interval '1 second' WHERE id = $1`, b.ID); err != nil {
			return err
		}
		device, resent, expired = dev.ID, a.ID, b.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.cmds.Resend(f.a, device)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ID != resent || again[0].Attempts != 2 || again[0].Status != commands.Sent {
		t.Errorf("resent: %+v", again)
	}
	if c, _ := f.cmds.Get(f.a, expired); c.Status != commands.Expired {
		t.Errorf("the expired one: %s", c.Status)
	}
}

// A device's certificates list newest first, even when its renewals come
// within the second (not_before is whole seconds): each renewal is above
// the certificate it renewed.
func TestRenewalsListNewestFirst(t *testing.T) {
	f := setup(t)
	cert, err := f.enroll(f.a, f.token(f.a), "DEV-RENEW")
	if err != nil {
		t.Fatal(err)
	}
	var e enrollment.Enrollment
	for range 4 {
		if cert, e, err = f.w.Renew(f.a, cert, csr(t)); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := f.certs.Identities(f.a, e.Device.ID)
	if err != nil || len(ids) != 5 {
		t.Fatalf("identities: %d, %v", len(ids), err)
	}
	if ids[0].Serial != hex.EncodeToString(cert.SerialNumber.Bytes()) {
		t.Errorf("the newest certificate is not first: %+v", ids)
	}
	for i := 0; i+1 < len(ids); i++ {
		if ids[i].RenewalOf != ids[i+1].Serial {
			t.Errorf("certificate %d does not renew the one below it: %+v", i, ids)
			break
		}
	}
}
