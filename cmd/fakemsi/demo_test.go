package main

import (
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// TestDemo runs the README's first command and checks that it tells the
// story: the three steps, the devices of the consented tenant, the
// AADSTS700016 explanation with the admin-consent URL, and never a token.
func TestDemo(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, nil, "demo", "--mode", mode)
			if r.code != 0 {
				t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", r.code, redact(r.stdout), redact(r.stderr))
			}
			for _, want := range []string{
				"Step 1.", "Step 2.", "Step 3.",
				"sub ", "aud ", "tid ", "exp ", "roles Device.Read.All",
				"FAB-DESK-001", "FAB-DESK-002", "fab-iphone-07", "FAB-KIOSK-01", "4 devices",
				"AADSTS700016",
				"/" + fakeidp.DefaultUnconsentedTenantID + "/adminconsent?client_id=" + fakeidp.DefaultAppClientID,
				"round trip",
				"OK: every tenant behaved as the scenario says.",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("demo output lacks %q", want)
				}
			}
			if strings.Contains(r.stdout, "NW-LT-100") {
				t.Error("demo lists devices of the tenant that did not consent")
			}
			if strings.Contains(r.stdout+r.stderr, "eyJ") {
				t.Error("demo output contains a JWT")
			}
			if t.Failed() {
				t.Logf("stdout:\n%s", redact(r.stdout))
			}
		})
	}
}

// TestDemoFailsWhenTheFlowBreaks checks the exit status: a managed identity
// that refuses every request breaks step 1, and the demo must say so.
func TestDemoFailsWhenTheFlowBreaks(t *testing.T) {
	cfg := writeConfig(t, withFaults(t, `["appservice:403"]`))
	r := runFakemsi(t, nil, "demo", "--config", cfg)
	if r.code != exitFailure {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s", r.code, redact(r.stdout))
	}
	if !strings.Contains(r.stdout, "FAILED") {
		t.Errorf("demo output does not say FAILED:\n%s", redact(r.stdout))
	}
	if strings.Contains(r.stdout+r.stderr, "eyJ") {
		t.Error("demo output contains a JWT")
	}
}

// TestDemoFollowsTheScenario runs the demo on a scenario where the remote
// tenant consented without any device permission: Graph's 403 is then the
// expected outcome, and the demo must exit 0 saying so.
func TestDemoFollowsTheScenario(t *testing.T) {
	sc := fakeidp.DefaultScenario()
	for i := range sc.Consents {
		if sc.Consents[i].Tenant == fakeidp.DefaultConsentedTenantID {
			sc.Consents[i].Roles = nil
		}
	}
	data, err := marshalConfig(sc, nil, configOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := runFakemsi(t, nil, "demo", "--config", writeConfig(t, data))
	if r.code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s", r.code, redact(r.stdout))
	}
	for _, want := range []string{"Graph answered 403", "as expected", "AADSTS700016"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, redact(r.stdout))
		}
	}
	if strings.Contains(r.stdout, "FAB-DESK-001") {
		t.Error("devices listed without a device permission")
	}
}

func TestCountAgreesInNumber(t *testing.T) {
	for n, want := range map[int]string{0: "0 devices", 1: "1 device", 4: "4 devices"} {
		if got := count(n, "device", "devices"); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
