package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/emulator"
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

// TestExportsSurviveTheShell evaluates the export lines in sh and checks that
// every value comes back byte for byte, quotes and dollars included.
func TestExportsSurviveTheShell(t *testing.T) {
	block := emulator.Env{
		{Name: "IDENTITY_ENDPOINT", Value: "http://127.0.0.1:1/msi/token"},
		{Name: "ODD", Value: `it's "quoted" $HOME ; rm -rf /`},
		{Name: "EMPTY", Value: ""},
	}
	var sb strings.Builder
	if err := writeExports(&sb, block); err != nil {
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
