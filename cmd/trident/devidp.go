package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tridentmdm/trident/internal/devidp"
)

// devIdentity is the OpenID Provider `trident dev` runs when no
// --oidc-issuer is given, with two clients for the demo: an MSP admin and a
// viewer of the demo tenant. Their secrets persist in the data folder, so
// scripts keep working across runs.
type devIdentity struct {
	issuer  string
	clients []devidp.Client
	users   []devidp.User
	srv     *http.Server
}

// demoViewerGrant makes the demo viewer a viewer of the demo tenant.
const demoViewerGrant = "/trident/msp/" + demoMSP + "/tenant/" + demoTenant + "/viewer"

// The dashboard's client and the demo person who signs in to it.
const (
	devDashboardClient = "trident-dashboard"
	devDashboardUser   = "admin@demo.localhost"
)

func startDevIdentity(ctx context.Context, dataDir, listen, audience, dashboardRedirect string, log *slog.Logger) (*devIdentity, error) {
	path := filepath.Join(dataDir, "dev-idp.json")
	var cfg devidp.Config
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("%s: %w (delete it to start over)", path, err)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		cfg.Clients = []devidp.Client{
			{ID: "demo-admin", Secret: secret(), Audience: []string{audience},
				Claims: map[string]any{"groups": []string{"/trident/msp/" + demoMSP + "/admin"}}},
			{ID: "demo-viewer", Secret: secret(), Audience: []string{audience},
				Claims: map[string]any{"groups": []string{demoViewerGrant}}},
		}
	} else {
		return nil, err
	}
	// Data folders made before tenant grants named their MSP carry the
	// demo viewer's grant in the older form, which serve no longer honors.
	for i := range cfg.Clients {
		if groups, ok := cfg.Clients[i].Claims["groups"].([]any); ok {
			for j, g := range groups {
				if g == "/trident/tenant/"+demoTenant+"/viewer" {
					groups[j] = demoViewerGrant
				}
			}
		}
	}
	// The dashboard's client and demo person, added to data folders made
	// before the dashboard existed; the redirect follows --listen.
	found := false
	for i := range cfg.Clients {
		if cfg.Clients[i].ID == devDashboardClient {
			cfg.Clients[i].RedirectURIs, found = []string{dashboardRedirect}, true
		}
	}
	if !found {
		cfg.Clients = append(cfg.Clients, devidp.Client{ID: devDashboardClient, Secret: secret(), Audience: []string{audience},
			RedirectURIs: []string{dashboardRedirect}})
	}
	if len(cfg.Users) == 0 {
		cfg.Users = []devidp.User{{Subject: "demo-admin-person", Email: devDashboardUser, Name: "Demo admin", Password: secret()[:16],
			Claims: map[string]any{"groups": []string{"/trident/msp/" + demoMSP + "/admin"}}}}
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("dev identity provider: listen on %s: %w (set --idp-listen)", listen, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	issuer := "http://localhost:" + port
	h, err := devidp.New(issuer, cfg, log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	d := &devIdentity{issuer: issuer, clients: cfg.Clients, users: cfg.Users,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := d.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("dev identity provider stopped", "err", err)
		}
	}()
	return d, nil
}

func (d *devIdentity) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d.srv.Shutdown(ctx)
}

func secret() string {
	b := make([]byte, 18)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dashboardSecret is the dashboard client's secret.
func (d *devIdentity) dashboardSecret() string {
	for _, c := range d.clients {
		if c.ID == devDashboardClient {
			return c.Secret
		}
	}
	return ""
}
