package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseEnvFile reads KEY=VALUE lines (what --env-file writes), as a dotenv
// loader would: blank lines and # comments are skipped.
func parseEnvFile(data []byte) (map[string]string, error) {
	m := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", i+1)
		}
		m[k] = v
	}
	return m, nil
}

var testBlock = envBlock{
	{"IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"},
	{"ODD", `it's "quoted" $HOME ; rm -rf /`},
	{"EMPTY", ""},
}

// TestExportsSurviveTheShell evaluates the export lines in sh and checks that
// every value comes back byte for byte, quotes and dollars included.
func TestExportsSurviveTheShell(t *testing.T) {
	var sb strings.Builder
	if err := testBlock.writeExports(&sb); err != nil {
		t.Fatal(err)
	}
	script := sb.String() + `printf '%s\n' "$IDENTITY_ENDPOINT" "$ODD" "[$EMPTY]"`
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "http://127.0.0.1:1/msi/token\nit's \"quoted\" $HOME ; rm -rf /\n[]\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("values after sh (-want +got):\n%s", diff)
	}
}

func TestEnvFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fake.env")
	if err := os.WriteFile(path, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testBlock.writeEnvFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseEnvFile(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, v := range testBlock {
		want[v.Name] = v.Value
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env file (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the env file (no temporary left)", len(entries))
	}
}

func TestEnvironReplacesStaleValues(t *testing.T) {
	base := []string{"PATH=/bin", "IDENTITY_ENDPOINT=http://stale", "HOME=/home/x", "ODD=old"}
	got := testBlock.environ(base)
	want := []string{"PATH=/bin", "HOME=/home/x",
		"IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", `ODD=it's "quoted" $HOME ; rm -rf /`, "EMPTY="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("environ (-want +got):\n%s", diff)
	}
}

// TestEnvDocsCoverTheBlock checks that `fakemsi env` and the docs describe
// exactly the variables the emulator sets.
func TestEnvDocsCoverTheBlock(t *testing.T) {
	documented := map[string]string{}
	for _, d := range envDocs {
		documented[d.Name] = d.Mode
	}
	for _, mode := range modes {
		e, err := startEmulator(settings{cfg: mustDefaultConfig(t), mode: mode, addr: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range e.env {
			m, ok := documented[v.Name]
			if !ok {
				t.Errorf("%s mode sets undocumented %s", mode, v.Name)
			}
			if m != "" && m != mode {
				t.Errorf("%s mode sets %s, documented for %s mode", mode, v.Name, m)
			}
		}
		for _, d := range envDocs {
			if (d.Mode == "" || d.Mode == mode) && e.env.Get(d.Name) == "" {
				t.Errorf("%s mode does not set documented %s", mode, d.Name)
			}
		}
		e.Close()
		if _, err := os.Stat(e.dir); !os.IsNotExist(err) {
			t.Errorf("%s mode: temporary directory left after Close: %v", mode, err)
		}
	}
}

func mustDefaultConfig(t *testing.T) *config {
	t.Helper()
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
