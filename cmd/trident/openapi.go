package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tridentmdm/trident/api"
)

// runOpenAPI writes the API's OpenAPI document, the one checked in at
// openapi/openapi.yaml (a test fails when they differ).
func runOpenAPI(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	out := fs.String("out", "openapi/openapi.yaml", "where to write the document; - for standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	doc, err := api.Document()
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
