package main

import (
	"strings"
	"testing"
)

// TestNonLoopbackAddrIsRefused: serve and exec refuse to bind an address
// that is not loopback, from --addr or from the config, unless
// --allow-non-loopback says so; nothing is started.
func TestNonLoopbackAddrIsRefused(t *testing.T) {
	cfg := writeConfig(t, withOptions(t, `{"addr": "0.0.0.0"}`))
	for _, args := range [][]string{
		{"serve", "--addr", "0.0.0.0"},
		{"serve", "--addr", "::"},
		{"serve", "--addr", "192.0.2.1", "--log-level", "error"},
		{"serve", "--config", cfg},
		{"exec", "--addr", "0.0.0.0", "--", "true"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, nil, args...)
			if r.code != exitUsage {
				t.Errorf("exit code %d, want %d", r.code, exitUsage)
			}
			if !strings.Contains(r.stderr, "--allow-non-loopback") || !strings.Contains(r.stderr, "not a loopback address") {
				t.Errorf("stderr does not explain the refusal:\n%s", redact(r.stderr))
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q: something started", redact(r.stdout))
			}
		})
	}
}

// TestAllowNonLoopbackWarnsOnStderr: with --allow-non-loopback the warning
// is printed on stderr even with --log-level error. The address is one of
// TEST-NET-1, which no interface has: the test binds nothing but loopback,
// and the command, past the refusal, fails to listen.
func TestAllowNonLoopbackWarnsOnStderr(t *testing.T) {
	for _, cmd := range []string{"serve", "exec"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			args := []string{cmd, "--addr", "192.0.2.1", "--allow-non-loopback", "--log-level", "error"}
			if cmd == "exec" {
				args = append(args, "--", "true")
			}
			r := runFakemsi(t, nil, args...)
			if !strings.Contains(r.stderr, "WARNING") || !strings.Contains(r.stderr, "192.0.2.1") {
				t.Errorf("no warning on stderr:\n%s", redact(r.stderr))
			}
			if r.code == 0 || r.code == exitUsage || !strings.Contains(r.stderr, "cannot listen on 192.0.2.1") {
				t.Errorf("exit %d; want the listen failure past the refusal:\n%s", r.code, redact(r.stderr))
			}
		})
	}
}
