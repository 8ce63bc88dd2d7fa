//go:build windows

package main

import "os"

// forwardedSignals: on Windows only Ctrl-C (os.Interrupt) is delivered, and
// it reaches every process attached to the console, the child included; there
// is no signal to send a process (os.Process.Signal supports only Kill), so
// fakemsi only waits for the child's exit. Built, not tested here.
var forwardedSignals = []os.Signal{os.Interrupt}

// forward does nothing: the console already gave the child its Ctrl-C.
func forward(*os.Process, os.Signal) {}

// childStatus is the child's exit code; Windows has no death by signal.
func childStatus(ps *os.ProcessState) int {
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	return exitFailure
}
