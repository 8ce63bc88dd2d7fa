package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/emulator"
)

func itoa(n int) string { return strconv.Itoa(n) }

// The modes as the command line spells them.
const (
	modeAppService = string(emulator.ModeAppService)
	modeIMDS       = string(emulator.ModeIMDS)
	modeWorkload   = string(emulator.ModeWorkload)
	modeGitHub     = string(emulator.ModeGitHub)
	modeArc        = string(emulator.ModeArc)
)

var modes = []string{modeAppService, modeIMDS, modeWorkload, modeGitHub, modeArc}

// testBinary is this test binary, re-executed as exec's child.
func testBinary(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUsageErrors checks that every mistake on the command line is one line
// on stderr and exit 2, and nothing on stdout.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the line
	}{
		{"no command", nil, "Usage"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"bad flag", []string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{"bad mode", []string{"exec", "--mode", "vm", "--", "true"}, `--mode: "vm" is not one of`},
		{"bad fault", []string{"serve", "--fault", "token:999"}, "--fault"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, "--log-level"},
		{"bad log format", []string{"exec", "--log-format", "xml", "--", "true"}, "--log-format"},
		{"bad port", []string{"serve", "--msi-port", "70000"}, "--msi-port"},
		{"serve argument", []string{"serve", "npm"}, `unexpected argument "npm"`},
		{"scenario without subcommand", []string{"scenario"}, "scenario validate FILE"},
		{"demo bad flag", []string{"demo", "-x"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, nil, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit code %d, want %d", r.code, exitUsage)
			}
			if tt.name == "no command" {
				// The only usage error that prints the whole usage.
				if !strings.Contains(r.stderr, tt.want) {
					t.Errorf("stderr lacks usage:\n%s", redact(r.stderr))
				}
				return
			}
			line := strings.TrimSuffix(r.stderr, "\n")
			if strings.Contains(line, "\n") || !strings.Contains(line, tt.want) {
				t.Errorf("stderr is not one line with %q:\n%s", tt.want, redact(r.stderr))
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", redact(r.stdout))
			}
		})
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"serve", "exec", "env", "demo", "scenario"}},
		{[]string{"-h"}, []string{"fakemsi exec"}},
		{[]string{"help", "serve"}, []string{"-env-file", "-mode", "-fault", "-log-format", "-log-level", "-addr", "-config"}},
		{[]string{"serve", "-h"}, []string{"-env-file"}},
		{[]string{"exec", "--help"}, []string{"CMD", "128+N"}},
		{[]string{"help", "demo"}, []string{"-config"}},
		{[]string{"scenario", "-h"}, []string{"validate", "default"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runFakemsi(t, nil, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit code %d\nstderr:\n%s", r.code, redact(r.stderr))
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, redact(r.stdout))
				}
			}
		})
	}
}

// TestUsageSynopsisNamesEveryFlag checks that the overview of 'fakemsi help'
// does not hide a flag: a command either says [flags] or names each of the
// flags its own help lists (docs/fakemsi.md gives the same synopses).
func TestUsageSynopsisNamesEveryFlag(t *testing.T) {
	for _, c := range commands {
		if c.name == "help" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run([]string{c.name, "-h"}, &stdout, &stderr); code != exitOK {
				t.Fatalf("fakemsi %s -h: exit code %d\nstderr:\n%s", c.name, code, redact(stderr.String()))
			}
			_, flags, _ := strings.Cut(stdout.String(), "\nFlags:\n")
			for line := range strings.Lines(flags) {
				name, ok := strings.CutPrefix(line, "  -")
				if !ok {
					continue // a flag's description
				}
				name, _, _ = strings.Cut(strings.TrimSpace(name), " ")
				if !strings.Contains(c.args, "[flags]") && !strings.Contains(c.args, "--"+name) {
					t.Errorf("synopsis %q of %s lacks --%s", c.args, c.name, name)
				}
			}
		})
	}
}

// TestScenarioHelpAligned checks that the two subcommands in 'fakemsi scenario
// -h' start in the same column (a leading table line used to lose its indent).
func TestScenarioHelpAligned(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"scenario", "-h"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit code %d\nstderr:\n%s", code, redact(stderr.String()))
	}
	cols := map[string]int{}
	for line := range strings.Lines(stdout.String()) {
		for _, sub := range []string{"fakemsi scenario validate FILE ", "fakemsi scenario default "} {
			if i := strings.Index(line, sub); i >= 0 {
				cols[sub] = i
			}
		}
	}
	want := map[string]int{"fakemsi scenario validate FILE ": 2, "fakemsi scenario default ": 2}
	if diff := cmp.Diff(want, cols); diff != "" {
		t.Errorf("columns of the subcommands (-want +got):\n%s\n%s", diff, stdout.String())
	}
}

func TestEnvCommand(t *testing.T) {
	r := runFakemsi(t, nil, "env")
	if r.code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s", r.code, redact(r.stderr))
	}
	for _, d := range emulator.VarDocs() {
		if !strings.Contains(r.stdout, d.Name) {
			t.Errorf("env output lacks %s", d.Name)
		}
	}
	for _, id := range []string{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333", "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "Northwind", "AADSTS700016"} {
		if !strings.Contains(r.stdout, id) {
			t.Errorf("env output lacks %s", id)
		}
	}
}

// TestScenarioDefaultRoundTrips checks that the printed default config is
// valid and means the built-in scenario.
func TestScenarioDefaultRoundTrips(t *testing.T) {
	r := runFakemsi(t, nil, "scenario", "default")
	if r.code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s", r.code, redact(r.stderr))
	}
	path := filepath.Join(t.TempDir(), "default.json")
	if err := os.WriteFile(path, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	v := runFakemsi(t, nil, "scenario", "validate", path)
	if v.code != 0 || !strings.Contains(v.stdout, "valid: 3 tenants, 1 app,") {
		t.Fatalf("validate: exit %d\nstdout:\n%s\nstderr:\n%s", v.code, redact(v.stdout), redact(v.stderr))
	}
}

func TestScenarioValidateNamesFields(t *testing.T) {
	bad := `{
  "tenants": [{"id": "t1", "displayName": "one"}],
  "apps": [{"clientId": "app", "homeTenant": "t1", "multiTenant": true,
            "federatedCredentials": [{"name": "fic", "issuer": "", "subject": "s", "audiences": ["api://AzureADTokenExchange"]}]}],
  "consents": [{"tenant": "t9", "clientId": "app"}],
  "faults": ["token:429", "nowhere:500"],
  "options": {"mode": "vm", "tokenLifetime": "soon"}
}`
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runFakemsi(t, nil, "scenario", "validate", path)
	if r.code != exitFailure {
		t.Fatalf("exit code %d, want 1\nstderr:\n%s", r.code, redact(r.stderr))
	}
	for _, want := range []string{
		path + ": apps[0].federatedCredentials[0].issuer: empty",
		path + `: consents[0].tenant: unknown tenant "t9"`,
		path + ": faults[1]:",
		path + ": options.tokenLifetime:",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, redact(r.stderr))
		}
	}

	// A config that serve cannot use is one line and exit 1 there too.
	s := runFakemsi(t, nil, "serve", "--config", path)
	if s.code != exitFailure || strings.Count(strings.TrimSpace(s.stderr), "\n") != 0 || !strings.Contains(s.stderr, "issuer: empty") {
		t.Errorf("serve with a bad config: exit %d, stderr:\n%s", s.code, redact(s.stderr))
	}
	m := runFakemsi(t, nil, "serve", "--config", filepath.Join(t.TempDir(), "missing.json"))
	if m.code != exitFailure || !strings.Contains(m.stderr, "no such file") {
		t.Errorf("serve with a missing config: exit %d, stderr:\n%s", m.code, redact(m.stderr))
	}
}
