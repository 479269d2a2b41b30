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
		"--database-url", "postgres://u:secret@[bad", "--apns-url", "http://127.0.0.1:8443", "--apns-ca", "/nonexistent.pem"}); err != nil {
		t.Fatal(err)
	}
	err = cfg.validate()
	for _, want := range []string{"--base-domain", "--listen", "--event-retention", "--log-format", "--database-url", "--apns-url", "--apns-ca"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate() = %v; want it to mention %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("validate() leaks the database password: %v", err)
	}
}
