package enrollment

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tridentmdm/trident/internal/egress"
	"github.com/tridentmdm/trident/internal/fault"
	"github.com/tridentmdm/trident/tenancy"
)

// Federation is the OIDC provider whose users may enroll Windows devices
// into the tenant (MS-MDE2's Federated authentication policy): the
// tenant's login page signs them in with the authorization-code flow and
// hands Windows a one-time enrollment token.
type Federation struct {
	Issuer         string    `json:"issuer"`
	ClientID       string    `json:"client_id"`
	ClientSecret   string    `json:"-"`
	AllowedDomains []string  `json:"allowed_domains"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ErrNoFederation means the tenant has not set up Federated enrollment.
var ErrNoFederation = fault.New(fault.NotFound, "the tenant has no Windows federated sign-in")

// ErrNotAllowed refuses a person whose email is outside the allowed domains.
var ErrNotAllowed = errors.New("this account may not enroll devices in the tenant")

// FederatedTokenLifetime is how long the token from a federated sign-in
// lasts: Windows presents it within the minute.
const FederatedTokenLifetime = 15 * time.Minute

// federationContext binds a sealed secret to the transaction's tenant:
// the tenant is the database's, not whatever the caller's context says.
func federationContext(ctx context.Context, tx pgx.Tx) (string, error) {
	var t string
	if err := tx.QueryRow(ctx, `SELECT current_tenant()::text`).Scan(&t); err != nil || t == "" {
		return "", fmt.Errorf("enrollment: no tenant in the transaction: %v", err)
	}
	return "windows-federation:" + t, nil
}

func (f *Federation) validate(guard egress.Policy) error {
	u, err := url.Parse(f.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fault.InvalidField("issuer", "must be the provider's issuer URL, as its discovery document names it")
	}
	// Trident fetches the issuer's discovery document, keys and tokens: the
	// issuer is a URL a tenant aims Trident at (the egress guard's rules).
	if err := guard.CheckURL(f.Issuer); err != nil {
		return fault.InvalidField("issuer", "must be an https URL of a public address ("+strings.TrimPrefix(err.Error(), "egress: ")+")")
	}
	if f.ClientID == "" || len(f.ClientID) > 500 {
		return fault.InvalidField("client_id", "must be 1 to 500 characters")
	}
	if f.ClientSecret == "" || len(f.ClientSecret) > 2000 {
		return fault.InvalidField("client_secret", "must be 1 to 2000 characters")
	}
	if len(f.AllowedDomains) > 50 {
		return fault.InvalidField("allowed_domains", "at most 50")
	}
	for i, d := range f.AllowedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") {
			return fault.InvalidField(fmt.Sprintf("allowed_domains[%d]", i), fmt.Sprintf("%q is not a domain", d))
		}
		f.AllowedDomains[i] = d
	}
	return nil
}

// SetFederation stores the tenant's federated sign-in, its client secret
// sealed.
func (w *Windows) SetFederation(ctx context.Context, f Federation) (Federation, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Federation, error) { return w.setFederationTx(ctx, tx, f) })
}

func (w *Windows) setFederationTx(ctx context.Context, tx pgx.Tx, f Federation) (Federation, error) {
	if f.AllowedDomains == nil {
		f.AllowedDomains = []string{}
	}
	if err := f.validate(w.egress); err != nil {
		return Federation{}, err
	}
	sc, err := federationContext(ctx, tx)
	if err != nil {
		return Federation{}, err
	}
	sealed, err := w.keys.Seal([]byte(f.ClientSecret), sc)
	if err != nil {
		return Federation{}, err
	}
	err = tx.QueryRow(ctx, `
INSERT INTO windows_federation (issuer, client_id, client_secret, allowed_domains) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
    client_secret = excluded.client_secret, allowed_domains = excluded.allowed_domains, updated_at = now()
RETURNING updated_at`, f.Issuer, f.ClientID, sealed, f.AllowedDomains).Scan(&f.UpdatedAt)
	if err != nil {
		return Federation{}, fmt.Errorf("enrollment: store federation: %w", err)
	}
	return f, nil
}

// Federation returns the tenant's federated sign-in, its secret opened.
func (w *Windows) Federation(ctx context.Context) (Federation, error) {
	return tenancy.Read(ctx, w.db, func(tx pgx.Tx) (Federation, error) { return w.FederationTx(ctx, tx) })
}

// FederationTx is Federation in tx, for another service's use case that holds
// the transaction.
func (w *Windows) FederationTx(ctx context.Context, tx pgx.Tx) (Federation, error) {
	var f Federation
	var sealed []byte
	err := tx.QueryRow(ctx, `SELECT issuer, client_id, client_secret, allowed_domains, updated_at FROM windows_federation`).
		Scan(&f.Issuer, &f.ClientID, &sealed, &f.AllowedDomains, &f.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Federation{}, ErrNoFederation
	}
	if err != nil {
		return Federation{}, fmt.Errorf("enrollment: federation: %w", err)
	}
	sc, err := federationContext(ctx, tx)
	if err != nil {
		return Federation{}, err
	}
	secret, err := w.keys.Open(sealed, sc)
	if err != nil {
		return Federation{}, fmt.Errorf("enrollment: open the federation's client secret: %w", err)
	}
	f.ClientSecret = string(secret)
	return f, nil
}

// DeleteFederation turns federated sign-in off.
func (w *Windows) DeleteFederation(ctx context.Context) error {
	return w.db.Tx(ctx, func(tx pgx.Tx) error { return w.deleteFederationTx(ctx, tx) })
}

func (w *Windows) deleteFederationTx(ctx context.Context, tx pgx.Tx) error {
	tag, err := tx.Exec(ctx, `DELETE FROM windows_federation`)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNoFederation
	}
	return err
}

// Person is who signed in on the tenant's login page.
type Person struct {
	Subject       string
	Email         string
	EmailVerified bool
}

// FederatedToken gives a person who signed in with the tenant's provider
// a one-time enrollment token, if their email's domain is allowed, and
// records the sign-in as a windows.federated_sign_in event.
func (w *Windows) FederatedToken(ctx context.Context, f Federation, p Person) (Token, error) {
	return tenancy.Write(ctx, w.db, func(tx pgx.Tx) (Token, error) { return w.federatedTokenTx(ctx, tx, f, p) })
}

func (w *Windows) federatedTokenTx(ctx context.Context, tx pgx.Tx, f Federation, p Person) (Token, error) {
	if len(f.AllowedDomains) > 0 {
		_, domain, _ := strings.Cut(strings.ToLower(p.Email), "@")
		if !p.EmailVerified || !slices.Contains(f.AllowedDomains, domain) {
			return Token{}, fmt.Errorf("%w: %q is not a verified address in %s", ErrNotAllowed, p.Email, strings.Join(f.AllowedDomains, ", "))
		}
	}
	tok, err := w.newTokenTx(ctx, tx, FederatedTokenLifetime, p.Email)
	if err != nil {
		return Token{}, err
	}
	_, err = w.events.Publish(ctx, tx, EventFederatedSignIn, p.Subject, FederatedSignIn{Email: p.Email, Issuer: f.Issuer, TokenID: tok.ID})
	return tok, err
}
