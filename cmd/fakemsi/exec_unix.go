//go:build !windows

package main

import (
	"os"
	"syscall"
)

// forwardedSignals are passed on to the child. SIGINT from a terminal reaches
// the child directly too (same process group); forwarding it again is what
// a supervisor without a terminal (CI, a container runtime) needs.
var forwardedSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// forward passes sig on to the child.
func forward(p *os.Process, sig os.Signal) { _ = p.Signal(sig) }

// childStatus maps the child's end to a shell-style exit status.
func childStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	return exitFailure
}
