package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"google.golang.org/api/option"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/internal/clientip"
	"github.com/tridentmdm/trident/internal/logctx"
	"github.com/tridentmdm/trident/internal/seal"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/services/identity"
	"github.com/tridentmdm/trident/tenancy"
)

// envName is the environment variable for a flag: --base-domain is
// TRIDENT_BASE_DOMAIN.
func envName(flagName string) string {
	return "TRIDENT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, then fills every flag not given on the command line
// from its TRIDENT_* environment variable. Flags win over the environment.
func parse(fs *flag.FlagSet, args []string) error {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: trident %s [flags]\n\nFlags (each also read from its TRIDENT_* variable):\n", fs.Name())
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(fs.Output(), "  --%s, %s\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := os.Getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// common holds the settings most commands share.
type common struct {
	databaseURL       string
	readerDatabaseURL string
	dataDir           string
	logLevel          string
	logFormat         string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL as the app role (no BYPASSRLS, owns no table); empty: the dev cluster in --data-dir")
	fs.StringVar(&c.readerDatabaseURL, "reader-database-url", "", "PostgreSQL URL of a read replica (empty: the writer)")
	fs.StringVar(&c.dataDir, "data-dir", ".trident", "folder of the dev cluster, used when no database URL is given")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
}

func (c *common) validate() error {
	var errs []error
	for name, u := range map[string]string{"database-url": c.databaseURL, "reader-database-url": c.readerDatabaseURL} {
		if u == "" {
			continue
		}
		if err := tenancy.CheckURL(u); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %v", name, redact(err)))
		}
	}
	if c.readerDatabaseURL != "" && c.databaseURL == "" {
		errs = append(errs, errors.New("--reader-database-url needs --database-url too"))
	}
	if _, err := c.logger(io.Discard); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// redact keeps a password in a malformed URL out of the message.
func redact(err error) error {
	return errors.New(strings.SplitN(err.Error(), "://", 2)[0] + ": cannot parse the URL")
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	// Every line logged with a request's context names its tenant,
	// request id and caller.
	case "text":
		return slog.New(logctx.New(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(logctx.New(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
}

// serverConfig holds what serve, worker and dev take.
type serverConfig struct {
	common
	listen          string
	baseDomain      string
	eventRetention  time.Duration
	shutdownTimeout time.Duration
	workers         int
	oidc            oidcConfig
	egressPrivate   bool // what tenants aim Trident at (webhooks, federation) may be private, loopback or plain http
	dnsServer       string
	trustedProxies  string           // networks whose X-Forwarded-For names devices' addresses
	proxies         clientip.Proxies // trustedProxies, parsed by validate
	identityRenewal time.Duration    // how long before an Apple identity expires it is renewed
	encryptionKey   string
	previousKeys    string

	appleIdentity       string
	appleIdentityHeader string

	deviceScheme string
	devicePort   int

	tlsCert, tlsKey string

	appleVendorCert, appleVendorKey string

	depURL          string        // Apple's DEP API (a simulator's, in tests and labs)
	depSyncInterval time.Duration // how often every ABM token syncs
	rollupInterval  time.Duration // how often the MSP console's rollups are checked
	jobTimeout      time.Duration // how long a job may run (those that say otherwise aside)
	jobRescueAfter  time.Duration // how long a job may be running before it is taken for dead
	appleDeviceCA   string        // PEM file: roots ADE machine info must chain to

	android androidConfig

	windowsIdentity       string        // tls, header, or "" (tls when Trident terminates TLS, else off)
	windowsIdentityHeader string        // with header
	windowsPoll           time.Duration // DMClient's polling interval

	apnsURL     string     // a local APNs speaking Apple's protocol (load tests, staging)
	pprofListen string     // Go's profiles, on a separate listener
	apiLimits   api.Limits // API requests per second per caller and per tenant (per process)
	apnsCA      string     // PEM file: the CA that signed apnsURL's certificate
}

// keyring reads the encryption keys.
func (c *serverConfig) keyring() (*seal.Keyring, error) {
	if c.encryptionKey == "" {
		return nil, errors.New("--encryption-key (TRIDENT_ENCRYPTION_KEY) is required: it seals tenants' CA keys and other secrets at rest; make one with 'openssl rand -base64 32' and keep it safe")
	}
	cur, err := seal.ParseKey(c.encryptionKey)
	if err != nil {
		return nil, fmt.Errorf("--encryption-key: %v", err)
	}
	var old []seal.Key
	for _, s := range strings.Split(c.previousKeys, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		k, err := seal.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("--encryption-keys-previous: %v", err)
		}
		old = append(old, k)
	}
	return seal.NewKeyring(cur, old...), nil
}

// oidcConfig is how the API checks bearer tokens.
type oidcConfig struct {
	issuer, audience string
	roleClaims       string
	rolePrefix       string
	slugGrants       bool
	mfaACR           string
	// The dashboard's client (authorization code with PKCE); without an
	// id the dashboard is off.
	dashboardClient, dashboardSecret string
	dashboardRoles                   time.Duration // how old a dashboard session's roles may get
}

func (c *oidcConfig) register(fs *flag.FlagSet) {
	def := identity.DefaultClaims()
	fs.StringVar(&c.issuer, "oidc-issuer", "", "OIDC issuer URL of the identity provider (Keycloak: https://keycloak.example.com/realms/trident)")
	fs.StringVar(&c.audience, "oidc-audience", "trident-api", "audience API tokens must carry: the API's client id at the provider")
	fs.StringVar(&c.roleClaims, "oidc-role-claims", strings.Join(def.RoleClaims, ","), "comma-separated claim paths that carry roles ({client_id} is the audience)")
	fs.StringVar(&c.rolePrefix, "oidc-role-prefix", def.Prefix, "prefix of role values: {prefix}:msp:{msp}:tenant:{tenant}:{role}, {prefix}:msp:{msp}:admin")
	fs.BoolVar(&c.slugGrants, "oidc-slug-grants", false, "also honor the older tenant grants that name no MSP ({prefix}:tenant:{slug}:{role}), while moving them over: such a grant goes to whichever MSP creates the slug")
	fs.StringVar(&c.mfaACR, "oidc-mfa-acr", "", "comma-separated acr claim values that mean the person signed in with a second factor (Keycloak: the level its acr-to-LoA map gives OTP, such as 2); an amr claim naming one (otp, hwk, mfa...) counts anyway")
	fs.StringVar(&c.dashboardClient, "dashboard-client-id", "", "the dashboard's client id at the identity provider (a confidential client with the authorization-code flow; redirect URI {platform URL}/dashboard/callback); empty: the dashboard is off")
	fs.StringVar(&c.dashboardSecret, "dashboard-client-secret", "", "the dashboard client's secret")
	fs.DurationVar(&c.dashboardRoles, "dashboard-role-refresh", 5*time.Minute, "how old a dashboard session's roles may get before they are read again with the sign-in's refresh token (a role removed at the provider ends within it; a refused refresh ends the session)")
}

func (c *oidcConfig) claims() identity.ClaimsConfig {
	cfg := identity.DefaultClaims()
	cfg.RoleClaims = nil
	for _, p := range strings.Split(c.roleClaims, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.RoleClaims = append(cfg.RoleClaims, p)
		}
	}
	cfg.Prefix = c.rolePrefix
	cfg.SlugGrants = c.slugGrants
	for _, v := range strings.Split(c.mfaACR, ",") {
		if v = strings.TrimSpace(v); v != "" {
			cfg.MFAACR = append(cfg.MFAACR, v)
		}
	}
	return cfg
}

func (c *oidcConfig) validate() error {
	var errs []error
	if c.issuer == "" {
		errs = append(errs, errors.New("--oidc-issuer (TRIDENT_OIDC_ISSUER) is required: the API authenticates callers with OIDC bearer tokens"))
	} else if u, err := url.Parse(c.issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--oidc-issuer %q: want an http(s) URL", c.issuer))
	}
	if c.audience == "" {
		errs = append(errs, errors.New("--oidc-audience must not be empty"))
	}
	if c.dashboardRoles != 0 && (c.dashboardRoles < time.Second || c.dashboardRoles > time.Hour) { // 0: the default
		errs = append(errs, fmt.Errorf("--dashboard-role-refresh %s: want 1s to 1h", c.dashboardRoles))
	}
	if len(c.claims().RoleClaims) == 0 {
		errs = append(errs, errors.New("--oidc-role-claims names no claim"))
	}
	return errors.Join(errs...)
}

func (c *serverConfig) register(fs *flag.FlagSet, listen string) {
	c.common.register(fs)
	fs.StringVar(&c.listen, "listen", listen, "address to serve HTTP on")
	fs.StringVar(&c.baseDomain, "base-domain", "", "domain under which each tenant has {slug}.{base-domain}, for example mdm.example.com")
	fs.DurationVar(&c.eventRetention, "event-retention", 30*24*time.Hour, "how long events are kept")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a shutdown waits for requests and jobs to finish")
	fs.StringVar(&c.pprofListen, "pprof-listen", "", "serve Go's profiles (net/http/pprof) on this separate address, such as 127.0.0.1:6060; empty: off. Keep it off the internet")
	fs.IntVar(&c.workers, "worker-concurrency", 20, "jobs worked at once by this process")
	fs.DurationVar(&c.jobTimeout, "job-timeout", time.Minute, "how long a job may run before it is cancelled and retried (an ABM sync may take up to 30m, a webhook delivery 1m, whatever this says)")
	fs.DurationVar(&c.jobRescueAfter, "job-rescue-after", time.Hour, "how long a job may be running before it is taken for the job of a dead worker (killed, lost) and run again: longer than --job-timeout and than an ABM sync (30m)")
	c.oidc.register(fs)
	fs.StringVar(&c.encryptionKey, "encryption-key", "", "base64 of 32 random bytes that seal secrets at rest (openssl rand -base64 32); dev keeps one in --data-dir")
	fs.StringVar(&c.previousKeys, "encryption-keys-previous", "", "comma-separated earlier encryption keys, still accepted for opening while secrets are re-sealed")
	fs.StringVar(&c.appleIdentity, "apple-device-identity", "signature", "where Apple devices' identity certificates come from: signature (Mdm-Signature header; works behind any load balancer), tls (Trident terminates TLS) or header (a trusted proxy's RFC 9440 header)")
	fs.StringVar(&c.appleIdentityHeader, "apple-identity-header", "Client-Cert", "with --apple-device-identity header: the header the proxy sets")
	fs.StringVar(&c.appleVendorCert, "apple-vendor-cert", "", "PEM file: your MDM vendor certificate (Apple developer program, \"MDM CSR\") with its chain; signs tenants' push certificate requests")
	fs.StringVar(&c.appleVendorKey, "apple-vendor-key", "", "PEM file: the MDM vendor certificate's private key")
	fs.StringVar(&c.apnsURL, "apns-url", "", "send MDM pushes to this APNs instead of Apple's (https://host:port; for load tests and staging with `trident loadtest apns`)")
	fs.StringVar(&c.apnsCA, "apns-ca", "", "with --apns-url: PEM file of the CA its certificate is signed by")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM file: serve HTTPS with this certificate (a wildcard for *.{base-domain} and the base domain); empty: plain HTTP behind a TLS-terminating load balancer")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM file: the TLS certificate's key")
	fs.StringVar(&c.deviceScheme, "device-scheme", "https", "how devices reach tenant hostnames: https (production) or http (dev)")
	fs.IntVar(&c.devicePort, "device-port", 0, "the port devices reach tenant hostnames on, when not the scheme's default")
	fs.StringVar(&c.depURL, "apple-dep-url", "https://mdmenrollment.apple.com/", "Apple's Device Assignment (ABM) API; change only to point at a DEP simulator")
	fs.DurationVar(&c.depSyncInterval, "abm-sync-interval", 30*time.Minute, "how often every ABM token's devices are synced")
	fs.DurationVar(&c.rollupInterval, "console-refresh", 15*time.Second, "how often the MSP console looks for tenants whose figures changed (new events, or 10 minutes old) and recounts them")
	fs.StringVar(&c.appleDeviceCA, "apple-device-ca", "", "PEM file: CA certificates (Apple's iPhone Device CA root) that ADE devices' machine-info signatures must chain to; empty: the signature is checked, the chain is not")
	c.android.register(fs)
	fs.StringVar(&c.windowsIdentity, "windows-device-identity", "", "where Windows devices' enrollment certificates come from in management sessions: tls (Trident terminates TLS, or an NLB passes TCP through), header (a trusted proxy that terminates mutual TLS sets --windows-identity-header) or off; empty: tls with --tls-cert, otherwise off (Windows endpoints not served)")
	fs.StringVar(&c.windowsIdentityHeader, "windows-identity-header", "Client-Cert", "with --windows-device-identity header: the header the proxy sets (RFC 9440, or URL-escaped PEM)")
	fs.DurationVar(&c.windowsPoll, "windows-poll-interval", 15*time.Minute, "how often enrolled Windows devices start a management session on their own; commands wait at most this long (no WNS push)")
	fs.Float64Var(&c.apiLimits.CallerRate, "api-caller-rate", 20, "API requests a second one caller (a token's subject) may make, per process")
	fs.IntVar(&c.apiLimits.CallerBurst, "api-caller-burst", 100, "requests a caller may make at once above its rate")
	fs.Float64Var(&c.apiLimits.TenantRate, "api-tenant-rate", 50, "API requests a second all callers together may make in one tenant, per process")
	fs.IntVar(&c.apiLimits.TenantBurst, "api-tenant-burst", 200, "requests a tenant may take at once above its rate")
	fs.IntVar(&c.apiLimits.Streams, "streams-per-caller", 10, "live streams (API event streams, dashboard pages) one caller may hold open at once, per process")
	fs.BoolVar(&c.egressPrivate, "egress-allow-private", false, "let what tenants aim Trident at (webhooks, the Windows federated sign-in's provider) reach private and loopback addresses over http:// too (receivers inside your own network; dev)")
	fs.BoolVar(&c.egressPrivate, "webhooks-allow-private", false, "the older name of --egress-allow-private")
	fs.DurationVar(&c.identityRenewal, "apple-identity-renewal", apple.DefaultRenewalWindow, "how long before an Apple device's identity certificate expires Trident queues a fresh enrollment profile that renews it in place (checked daily)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated networks or addresses of your load balancers and proxies (10.0.0.0/8): a device request from one of them is from the address it names in X-Forwarded-For; empty: from the connection's peer")
	fs.StringVar(&c.dnsServer, "dns-server", "", "host:port of the DNS server that custom hostnames' ownership records are looked up at; empty: the system's resolvers (/etc/resolv.conf)")
}

func (c *serverConfig) validate() error {
	errs := []error{c.common.validate()}
	errs = append(errs, c.serverErrors()...)
	errs = append(errs, c.apiErrors()...)
	errs = append(errs, c.appleErrors()...)
	errs = append(errs, c.windowsErrors()...)
	errs = append(errs, c.android.validate())
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

// serverErrors checks where and how the server runs: its names, listener,
// keys, TLS, timeouts, device URLs and workers.
func (c *serverConfig) serverErrors() []error {
	var errs []error
	if c.baseDomain == "" {
		errs = append(errs, errors.New("--base-domain (TRIDENT_BASE_DOMAIN) is required, for example mdm.example.com"))
	} else if _, err := tenancy.NormalizeHost(c.baseDomain); err != nil {
		errs = append(errs, fmt.Errorf("--base-domain: %v", err))
	}
	if _, port, err := net.SplitHostPort(c.listen); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("--listen %q: want host:port or :port", c.listen))
	}
	if c.eventRetention < time.Hour {
		errs = append(errs, fmt.Errorf("--event-retention %s: at least 1h", c.eventRetention))
	}
	if c.shutdownTimeout <= 0 {
		errs = append(errs, errors.New("--shutdown-timeout must be positive"))
	}
	if c.jobTimeout <= 0 || c.jobRescueAfter <= c.jobTimeout {
		errs = append(errs, fmt.Errorf("--job-timeout %s, --job-rescue-after %s: both positive, the rescue after the timeout", c.jobTimeout, c.jobRescueAfter))
	}
	if c.encryptionKey != "" {
		if _, err := c.keyring(); err != nil {
			errs = append(errs, err)
		}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	} else if c.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey); err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert/--tls-key: %v", err))
		}
	}
	if c.pprofListen != "" {
		if _, _, err := net.SplitHostPort(c.pprofListen); err != nil {
			errs = append(errs, fmt.Errorf("--pprof-listen %q: want host:port", c.pprofListen))
		}
	}
	var err error
	if c.proxies, err = clientip.Parse(c.trustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %v", err))
	}
	if c.dnsServer != "" {
		if _, port, err := net.SplitHostPort(c.dnsServer); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("--dns-server %q: want host:port, for example 1.1.1.1:53", c.dnsServer))
		}
	}
	if c.deviceScheme != "https" && c.deviceScheme != "http" {
		errs = append(errs, fmt.Errorf("--device-scheme %q: want https or http", c.deviceScheme))
	}
	if c.devicePort < 0 || c.devicePort > 65535 {
		errs = append(errs, fmt.Errorf("--device-port %d: not a port", c.devicePort))
	}
	if c.workers < 1 || c.workers > 10000 {
		errs = append(errs, fmt.Errorf("--worker-concurrency %d: want 1 to 10000", c.workers))
	}
	return errs
}

// apiErrors checks the API's limits.
func (c *serverConfig) apiErrors() []error {
	var errs []error
	if l := c.apiLimits; l.CallerRate < 0 || l.TenantRate < 0 || l.CallerBurst < 0 || l.TenantBurst < 0 {
		errs = append(errs, errors.New("--api-caller-rate, --api-tenant-rate, --api-caller-burst, --api-tenant-burst: not negative (0: the default)"))
	}
	if c.apiLimits.Streams < 0 {
		errs = append(errs, errors.New("--streams-per-caller: not negative (0: the default)"))
	}
	return errs
}

// appleErrors checks the Apple settings: device identity, vendor certificate,
// APNs, ABM and identity renewal.
func (c *serverConfig) appleErrors() []error {
	var errs []error
	if c.appleIdentity == "tls" && c.tlsCert == "" {
		errs = append(errs, errors.New("--apple-device-identity tls needs --tls-cert and --tls-key: Trident must terminate TLS to see client certificates"))
	}
	if (c.appleVendorCert == "") != (c.appleVendorKey == "") {
		errs = append(errs, errors.New("--apple-vendor-cert and --apple-vendor-key go together"))
	} else if c.appleVendorCert != "" {
		if _, err := apple.LoadVendor(c.appleVendorCert, c.appleVendorKey); err != nil {
			errs = append(errs, fmt.Errorf("--apple-vendor-cert/--apple-vendor-key: %v", err))
		}
	}
	if c.identityRenewal != 0 && (c.identityRenewal < 24*time.Hour || c.identityRenewal > 300*24*time.Hour) { // 0: the default
		errs = append(errs, fmt.Errorf("--apple-identity-renewal %s: want 24h to 7200h (a day to 300 days)", c.identityRenewal))
	}
	if c.apnsCA != "" && c.apnsURL == "" {
		errs = append(errs, errors.New("--apns-ca goes with --apns-url"))
	}
	if c.apnsURL != "" {
		if u, err := url.Parse(c.apnsURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--apns-url %q: want https://host:port (APNs is HTTP/2 over TLS)", c.apnsURL))
		}
		if c.apnsCA != "" {
			if _, err := loadPool(c.apnsCA); err != nil {
				errs = append(errs, fmt.Errorf("--apns-ca: %v", err))
			}
		}
	}
	switch c.appleIdentity {
	case "signature", "tls", "header":
	default:
		errs = append(errs, fmt.Errorf("--apple-device-identity %q: want signature, tls or header", c.appleIdentity))
	}
	if u, err := url.Parse(c.depURL); c.depURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		errs = append(errs, fmt.Errorf("--apple-dep-url %q: want an http(s) URL", c.depURL))
	}
	if c.rollupInterval != 0 && (c.rollupInterval < time.Second || c.rollupInterval > time.Hour) {
		errs = append(errs, fmt.Errorf("--console-refresh %s: between 1s and 1h", c.rollupInterval))
	}
	if c.depSyncInterval != 0 && c.depSyncInterval < time.Minute {
		errs = append(errs, fmt.Errorf("--abm-sync-interval %s: at least 1m (Apple throttles more)", c.depSyncInterval))
	}
	if c.appleDeviceCA != "" {
		if _, err := loadPool(c.appleDeviceCA); err != nil {
			errs = append(errs, fmt.Errorf("--apple-device-ca: %v", err))
		}
	}
	return errs
}

// windowsErrors checks the Windows settings.
func (c *serverConfig) windowsErrors() []error {
	var errs []error
	switch c.windowsIdentity {
	case "", "off", "header":
	case "tls":
		if c.tlsCert == "" {
			errs = append(errs, errors.New("--windows-device-identity tls needs --tls-cert and --tls-key: Trident must terminate TLS to see client certificates (or use header behind a proxy that does)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--windows-device-identity %q: want tls, header or off", c.windowsIdentity))
	}
	if c.windowsPoll < time.Minute || c.windowsPoll > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--windows-poll-interval %s: between 1m and 24h", c.windowsPoll))
	}
	return errs
}

// loadPool reads a PEM file of CA certificates.
func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificates in " + file)
	}
	return p, nil
}

// androidConfig is how Trident reaches the Android Management API and
// checks Pub/Sub's pushes. Android is off without a project.
type androidConfig struct {
	project, credentials, apiURL string
	topic                        string
	pushAudience, pushAccount    string
	pushIssuer                   string
}

func (c *androidConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.project, "android-project", "", "Google Cloud project of Trident's Android enterprises; empty: Android management is off")
	fs.StringVar(&c.credentials, "android-credentials", "", "service account key file (JSON) for the Android Management API; empty: Application Default Credentials")
	fs.StringVar(&c.apiURL, "android-api-url", "", "the Android Management API's endpoint; change only to point at a simulator")
	fs.StringVar(&c.topic, "android-pubsub-topic", "", "Pub/Sub topic enterprises publish to (projects/{project}/topics/{topic}); its push subscription posts to https://{tenant host}/android/pubsub")
	fs.StringVar(&c.pushAudience, "android-push-audience", "", "the audience set on the push subscription's authentication")
	fs.StringVar(&c.pushAccount, "android-push-service-account", "", "the service account the push subscription signs its tokens as")
	fs.StringVar(&c.pushIssuer, "android-push-issuer", "https://accounts.google.com", "issuer of the push tokens")
}

func (c *androidConfig) validate() error {
	if c.project == "" {
		return nil
	}
	var errs []error
	if !strings.HasPrefix(c.topic, "projects/") || !strings.Contains(c.topic, "/topics/") {
		errs = append(errs, fmt.Errorf("--android-pubsub-topic %q: want projects/{project}/topics/{topic}", c.topic))
	}
	if c.pushAudience == "" || c.pushAccount == "" {
		errs = append(errs, errors.New("--android-push-audience and --android-push-service-account are required with --android-project: they authenticate Pub/Sub's pushes"))
	}
	if c.credentials != "" {
		if _, err := os.Stat(c.credentials); err != nil {
			errs = append(errs, fmt.Errorf("--android-credentials: %v", err))
		}
	}
	return errors.Join(errs...)
}

// clientOptions are the API client's options.
func (c *androidConfig) clientOptions() []option.ClientOption {
	var opts []option.ClientOption
	if c.apiURL != "" {
		opts = append(opts, option.WithEndpoint(c.apiURL))
	}
	switch {
	case c.credentials != "":
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, c.credentials))
	case c.apiURL != "":
		opts = append(opts, option.WithoutAuthentication()) // a simulator
	}
	return opts
}

// windowsIdentitySource resolves --windows-device-identity: "" when the
// Windows endpoints are off.
func (c *serverConfig) windowsIdentitySource() string {
	switch c.windowsIdentity {
	case "":
		if c.tlsCert != "" {
			return "tls"
		}
		return ""
	case "off":
		return ""
	}
	return c.windowsIdentity
}

// platformURL is where people reach the platform (API, dashboard).
func (c *serverConfig) platformURL() string {
	return apple.HostURL(c.baseDomain, c.deviceScheme, c.devicePort)
}
