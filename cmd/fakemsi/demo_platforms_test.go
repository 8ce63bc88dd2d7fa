package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// TestDemoGitHubBranchMismatch: in github mode the demo shows the job of
// another branch refused with AADSTS700213, naming the subject the app's
// credential expects and the one the job presented.
func TestDemoGitHubBranchMismatch(t *testing.T) {
	r := runFakemsi(t, nil, "demo", "--mode", modeGitHub)
	if r.code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, redact(r.stdout), redact(r.stderr))
	}
	for _, want := range []string{
		"GitHubActions(",
		"sub repo:contoso/inventory:ref:refs/heads/main",
		"Step 4.",
		"AADSTS700213",
		"Entra expected the subject " + fakeidp.DefaultGitHubSubject + ` (federated credential "github-main"); the job presented repo:contoso/inventory:ref:refs/heads/feature/inventory-v2.`,
		"refused with AADSTS700213, as expected",
		"OK: every tenant behaved as the scenario says.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "eyJ") {
		t.Error("demo output contains a JWT")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", redact(r.stdout))
	}
}

// TestDemoClouds runs the demo with the built-in scenario in each cloud: the
// assertion carries that cloud's token-exchange audience and the flow works
// end to end.
func TestDemoClouds(t *testing.T) {
	for _, c := range fakeidp.Clouds() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, nil, "demo", "--cloud", c.Name)
			if r.code != 0 {
				t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, redact(r.stdout), redact(r.stderr))
			}
			for _, want := range []string{"aud api://" + strings.TrimPrefix(c.TokenExchangeAudience, "api://"), "4 devices", "OK: every tenant behaved as the scenario says."} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
			if c.Name != fakeidp.CloudPublic && !strings.Contains(r.stdout, c.AuthorityHost) {
				t.Errorf("demo output does not name the cloud's authority %s", c.AuthorityHost)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s", redact(r.stdout))
			}
		})
	}
	if r := runFakemsi(t, nil, "demo", "--cloud", "mars"); r.code != exitUsage || !strings.Contains(r.stderr, "usgov") {
		t.Errorf("--cloud mars: exit %d, stderr %q; want a usage error naming the clouds", r.code, redact(r.stderr))
	}
}

// TestDemoCloudFromConfig: a config's scenario sets its own cloud; --cloud
// with --config is a usage error rather than a silent choice.
func TestDemoCloudFromConfig(t *testing.T) {
	sc, err := fakeidp.DefaultScenarioIn(fakeidp.CloudChina)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, data)
	r := runFakemsi(t, nil, "demo", "--config", cfg, "--mode", modeIMDS)
	if r.code != 0 || !strings.Contains(r.stdout, "aud api://AzureADTokenExchangeChina") {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, redact(r.stdout), redact(r.stderr))
	}
	if r := runFakemsi(t, nil, "demo", "--config", cfg, "--cloud", "usgov"); r.code != exitUsage {
		t.Errorf("--cloud with --config: exit %d, want a usage error", r.code)
	}
}
