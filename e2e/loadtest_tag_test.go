//go:build loadtest

package e2e

func init() { buildFlags = append(buildFlags, "-tags", "loadtest") }
