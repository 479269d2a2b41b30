package main

import (
	"testing"

	"github.com/tridentmdm/trident/internal/testenv"
)

// The end-to-end tests, which run this binary as serve and worker
// processes, are in package e2e; these are the commands' own tests.
func TestMain(m *testing.M) { testenv.Main(m) }
