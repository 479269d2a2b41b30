package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParseReadsEnvironmentUnderFlags(t *testing.T) {
	t.Setenv("TRIDENT_BASE_DOMAIN", "env.example")
	t.Setenv("TRIDENT_LISTEN", ":9000")
	var cfg serverConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.register(fs, ":8080")
	if err := parse(fs, []string{"--listen", ":7000"}); err != nil {
		t.Fatal(err)
	}
	if cfg.baseDomain != "env.example" || cfg.listen != ":7000" {
		t.Fatalf("base %q listen %q; want the environment's base and the flag's listen", cfg.baseDomain, cfg.listen)
	}
}

func TestValidateReportsEveryMistake(t *testing.T) {
	t.Setenv("TRIDENT_EVENT_RETENTION", "forever")
	var cfg serverConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.register(fs, ":8080")
	err := parse(fs, nil)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "TRIDENT_EVENT_RETENTION") {
		t.Fatalf("bad environment value: %v", err)
	}

	cfg = serverConfig{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.register(fs, ":8080")
	t.Setenv("TRIDENT_EVENT_RETENTION", "")
	if err := parse(fs, []string{"--event-retention", "1m", "--listen", "nowhere", "--log-format", "xml",
		"--database-url", "postgres://u:secret@[bad", "--apns-url", "http://127.0.0.1:8443", "--apns-ca", "/nonexistent.pem",
		"--trusted-proxies", "10.0.0.0/33", "--job-timeout", "2m", "--job-rescue-after", "1m"}); err != nil {
		t.Fatal(err)
	}
	err = cfg.validate()
	for _, want := range []string{"--base-domain", "--listen", "--event-retention", "--log-format", "--database-url", "--apns-url", "--apns-ca",
		"--trusted-proxies", "--job-rescue-after"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate() = %v; want it to mention %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("validate() leaks the database password: %v", err)
	}
}

// --trusted-proxies is parsed once, by validate, into what the device
// endpoints ask.
func TestTrustedProxiesParsed(t *testing.T) {
	var cfg serverConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.register(fs, ":8080")
	if err := parse(fs, []string{"--base-domain", "mdm.example", "--trusted-proxies", "10.0.0.0/8, 192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil && strings.Contains(err.Error(), "--trusted-proxies") {
		t.Fatal(err)
	}
	if len(cfg.proxies) != 2 || cfg.proxies[0].String() != "10.0.0.0/8" || cfg.proxies[1].String() != "192.0.2.7/32" {
		t.Errorf("proxies %v", cfg.proxies)
	}
}
