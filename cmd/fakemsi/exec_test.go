package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/localca"
)

func childEnv(role, mode, exit string) []string {
	return []string{childRoleEnv + "=" + role, childModeEnv + "=" + mode, childExitEnv + "=" + exit}
}

// TestExecModes runs a Go child under exec in each mode: it finds its
// variables, gets an assertion the platform's way, a token in the consented
// tenant, the devices from Graph and AADSTS700016 in the other tenant, and
// exits 7, which exec must pass on.
func TestExecModes(t *testing.T) {
	self := testBinary(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, childEnv(roleCheck, mode, "7"), "exec", "--mode", mode, "--", self)
			if r.code != 7 {
				t.Fatalf("exit code %d, want 7 (the child's)\nstdout:\n%s\nstderr:\n%s", r.code, redact(r.stdout), redact(r.stderr))
			}
			if !strings.Contains(r.stdout, "child: environment works") {
				t.Errorf("stdout lacks the child's output:\n%s", redact(r.stdout))
			}
			if strings.Contains(r.stdout+r.stderr, "eyJ") {
				t.Error("output contains a JWT")
			}
		})
	}
}

// TestExecReplacesInheritedVariables runs exec on a machine that looks like
// an App Service (or Service Fabric) host whose CA variables point at the
// system bundle: in every mode the child sees only the variables of its mode
// and the emulator's CA bundle, so that platform detection and TLS work.
func TestExecReplacesInheritedVariables(t *testing.T) {
	inherited := []string{
		"IDENTITY_ENDPOINT=http://127.0.0.1:9/stale", "IDENTITY_HEADER=stale", "MSI_ENDPOINT=http://127.0.0.1:9/stale", "MSI_SECRET=stale",
		"WEBSITE_SITE_NAME=stale", "APPSETTING_WEBSITE_SITE_NAME=stale", "IDENTITY_SERVER_THUMBPRINT=ab",
		"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:9", "AZURE_FEDERATED_TOKEN_FILE=/nonexistent/token",
		"REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt", "CURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
		"NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt", "TENANTBRIDGE_GRAPH_URL=https://graph.microsoft.com/v1.0",
	}
	self := testBinary(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env := append(inherited[:len(inherited):len(inherited)], childEnv(roleCheck, mode, "0")...)
			r := runFakemsi(t, env, "exec", "--mode", mode, "--", self)
			if r.code != 0 {
				t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, redact(r.stdout), redact(r.stderr))
			}
		})
	}
}

// TestExecModeFromConfig checks that options.mode of a config is used.
func TestExecModeFromConfig(t *testing.T) {
	cfg := writeConfig(t, withOptions(t, `{"mode": "imds"}`))
	r := runFakemsi(t, childEnv(roleCheck, modeIMDS, "0"), "exec", "--config", cfg, "--", testBinary(t))
	if r.code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s", r.code, redact(r.stderr))
	}
}

func TestExecExitCodes(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    int
		wantErr string // substring of stderr
	}{
		{"zero", []string{"--", "sh", "-c", "exit 0"}, nil, 0, ""},
		{"child code", []string{"--", "sh", "-c", `test -n "$IDENTITY_HEADER" && exit 42`}, nil, 42, ""},
		{"killed by signal", []string{"--", testBinary(t)}, childEnv(roleKillSelf, "", ""), 128 + int(syscall.SIGKILL), ""},
		{"not found", []string{"--", "no-such-command-fakemsi"}, nil, 127, "no-such-command-fakemsi"},
		{"no command", nil, nil, exitUsage, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, tt.env, append([]string{"exec"}, tt.args...)...)
			if r.code != tt.want {
				t.Fatalf("exit code %d, want %d\nstderr:\n%s", r.code, tt.want, redact(r.stderr))
			}
			if tt.wantErr != "" {
				if !strings.Contains(r.stderr, tt.wantErr) {
					t.Errorf("stderr %q lacks %q", redact(r.stderr), tt.wantErr)
				}
				if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
					t.Errorf("stderr has %d lines, want one:\n%s", n+1, redact(r.stderr))
				}
			}
		})
	}
}

// TestExecForwardsSignals sends SIGTERM to fakemsi; the child must receive it
// and its exit code (3) must come back.
func TestExecForwardsSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			r := startFakemsi(t, childEnv(roleWaitSignal, "", ""), "exec", "--", testBinary(t))
			r.waitLine("child ready")
			r.signal(sig)
			got := r.waitLine("child got")
			if code := r.wait(); code != 3 {
				t.Fatalf("exit code %d, want 3; stdout %s\nstderr:\n%s", code, redact(got), redact(r.stderr.String()))
			}
		})
	}
}

// TestExecWarnsOnRefusedHandshake: a client that does not trust the
// emulator (here curl given another CA bundle) makes the emulator log a
// warning that names the variable curl reads.
func TestExecWarnsOnRefusedHandshake(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	logFile := filepath.Join(t.TempDir(), "fakemsi.log")
	script := `curl -s --max-time 10 --cacert "$OTHER_CA" "$AZURE_AUTHORITY_HOST/common/discovery/instance" && exit 3
for i in $(seq 100); do grep -q 'TLS handshake refused' "$LOG" && exit 0; sleep 0.1; done
exit 4`
	other := filepath.Join(t.TempDir(), "other.pem")
	ca, err := localca.New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, localca.PEM(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runFakemsi(t, []string{"LOG=" + logFile, "OTHER_CA=" + other}, "exec", "--log-file", logFile, "--", "sh", "-c", script)
	log, _ := os.ReadFile(logFile)
	if r.code != 0 {
		t.Fatalf("exit %d (3: curl trusted it, 4: no warning)\nlog:\n%s\nstderr:\n%s", r.code, redact(string(log)), redact(r.stderr))
	}
	if !strings.Contains(string(log), "client_guess=curl") || !strings.Contains(string(log), "CURL_CA_BUNDLE") || !strings.Contains(string(log), "level=WARN") {
		t.Errorf("warning does not name curl and CURL_CA_BUNDLE:\n%s", redact(string(log)))
	}
}
