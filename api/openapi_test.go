package api_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/tridentmdm/trident/api"
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
