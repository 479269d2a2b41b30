// Package architecture has no code: its test holds the import rules of
// the layers (see architecture_test.go).
package architecture
