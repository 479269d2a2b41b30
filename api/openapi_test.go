package api_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/services/events"
)

var update = flag.Bool("update", false, "rewrite openapi/openapi.yaml from the code")

// The checked-in document is the contract integrators read; it must be
// what the code serves.
func TestCheckedInOpenAPIIsCurrent(t *testing.T) {
	doc, err := api.Document()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../openapi/openapi.yaml"
	if *update {
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: generate it with 'go run ./cmd/trident openapi'", err)
	}
	if !bytes.Equal(have, doc) {
		t.Fatal("openapi/openapi.yaml differs from what the code generates: run 'go run ./cmd/trident openapi' and commit the result")
	}
}

// Every event kind a service declares (and so every kind Publish lets
// through) is documented as a webhook in the checked-in document, and
// the document names no other.
func TestEveryEventKindIsADocumentedWebhook(t *testing.T) {
	have, err := os.ReadFile("../openapi/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, hooks, ok := bytes.Cut(have, []byte("\nwebhooks:\n"))
	if !ok {
		t.Fatal("openapi/openapi.yaml has no webhooks")
	}
	kinds := events.Kinds()
	if len(kinds) < 40 {
		t.Fatalf("only %d declared kinds: the services' declarations are not linked", len(kinds))
	}
	for _, k := range kinds {
		if !bytes.Contains(hooks, []byte("\n  "+k.Name+":\n    post:\n")) && !bytes.HasPrefix(hooks, []byte("  "+k.Name+":\n    post:\n")) {
			t.Errorf("event kind %s is not a webhook in openapi/openapi.yaml", k.Name)
		}
	}
	if n := bytes.Count(hooks, []byte("\n    post:\n")); n != len(kinds) {
		t.Errorf("the document has %d webhooks, the services declare %d kinds", n, len(kinds))
	}
}
