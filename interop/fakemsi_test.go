package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// TestFakemsiExec runs unmodified client programs under `fakemsi exec`, the
// way a test suite in any language uses the emulator: the programs see only
// the environment block fakemsi sets. Each program is this test binary
// re-executed in a child mode (see child_test.go).
func TestFakemsiExec(t *testing.T) {
	fakemsi := filepath.Join(t.TempDir(), "fakemsi")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", fakemsi, "github.com/tenantbridge/tenantbridge/cmd/fakemsi")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/fakemsi: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name, mode, child string
	}{
		{"azidentity ManagedIdentity+ClientAssertion, appservice", "appservice", childDefaultTransport},
		{"azidentity WorkloadIdentityCredential, workload", "workload", childWorkload},
		{"federated.NewFromEnvironment, appservice", "appservice", childFederated},
		{"federated.NewFromEnvironment, workload", "workload", childFederated},
		{"federated.NewFromEnvironment, imds", "imds", childFederated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), fakemsi, "exec", "--mode", tc.mode, "--", os.Args[0])
			cmd.Env = append(withoutPlatformEnv(os.Environ()), childEnv+"="+tc.child)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("fakemsi exec: %v\nstderr:\n%s", err, redact(stderr.String()))
			}
			if want := "child: ok tid=" + fakeidp.DefaultConsentedTenantID; !strings.Contains(stdout.String(), want) {
				t.Errorf("output %q lacks %q", redact(stdout.String()), want)
			}
		})
	}
}

// withoutPlatformEnv drops the variables this binary set for its own server
// (and any the machine has), so that the child sees only fakemsi's block.
func withoutPlatformEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if isPlatformVar(k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// isPlatformVar reports whether k steers Azure clients' platform detection.
func isPlatformVar(k string) bool {
	return strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "MSI_") || strings.HasPrefix(k, "IDENTITY_") ||
		k == "IMDS_ENDPOINT" || k == "FAKEMSI_TENANTS" || k == "FAKEMSI_GRAPH_URL" || k == "SSL_CERT_FILE" || k == "SSL_CERT_DIR"
}
