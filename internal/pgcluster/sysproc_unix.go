//go:build unix

package pgcluster

import "syscall"

// sysProcAttr puts PostgreSQL in its own process group, so a Ctrl-C in the
// terminal reaches Trident (which then stops the cluster in order) and not
// the database directly.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
