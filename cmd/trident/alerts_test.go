package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/internal/testenv"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/attention"
	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/services/events"
	"github.com/tridentmdm/trident/tenancy"
)

func TestTenantAlerts(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	d, err := tenancy.NewDirectory(db, "trident.test")
	if err != nil {
		t.Fatal(err)
	}
	calm, troubled := testenv.Tenant(t, d), testenv.Tenant(t, d)
	k, _, _ := seal.NewRandomKey()
	keys := seal.NewKeyring(k)
	abm := dep.New(db, keys, events.NewPublisher(nil), nil, dep.Options{})
	now := time.Now()
	put := func(tn tenancy.Tenant, notAfter time.Time, tokenStatus string) {
		tctx := tenancy.WithTenant(ctx, tn.ID)
		if err := db.Tx(tctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(tctx, `INSERT INTO apple_push_certs (topic, cert_pem, key_sealed, not_after)
VALUES ('com.apple.mgmt.External.x', '-----BEGIN CERTIFICATE-----x', 'k', $1)`, notAfter); err != nil {
				return err
			}
			_, err := tx.Exec(tctx, `INSERT INTO dep_tokens (id, label, certificate, key_sealed, status, status_detail)
VALUES ($1, 'Main ABM', 'c', 'k', $2, 'Sign the new terms in Apple Business Manager.')`, uuid.New(), tokenStatus)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(calm, now.Add(200*24*time.Hour), "active")
	put(troubled, now.Add(10*24*time.Hour), "terms_not_signed")
	alerts := tenantAlerts(attention.New(attention.Sources{Push: mdmstore.New(db, keys), ABM: abm}, func() time.Time { return now }))
	if got, err := alerts(ctx, calm); err != nil || len(got) != 0 {
		t.Errorf("a tenant with nothing to do: %v %v", got, err)
	}
	got, err := alerts(ctx, troubled)
	// The most urgent first: a token that stopped syncing, then a
	// certificate that expires in ten days; each links to its fix.
	if err != nil || len(got) != 2 || !strings.Contains(got[0].Text, `ABM token "Main ABM" is terms_not_signed`) ||
		!strings.Contains(got[1].Text, "push certificate expires") || got[1].Link != "/dashboard/t/"+troubled.Slug+"/enroll" {
		t.Errorf("a tenant with an expiring certificate and unsigned terms: %+v %v", got, err)
	}
	later := tenantAlerts(attention.New(attention.Sources{Push: mdmstore.New(db, keys), ABM: abm}, func() time.Time { return now.Add(300 * 24 * time.Hour) }))
	if got, _ := later(ctx, calm); len(got) != 1 || !strings.Contains(got[0].Text, "expired") {
		t.Errorf("after the certificate expired: %+v", got)
	}
}
