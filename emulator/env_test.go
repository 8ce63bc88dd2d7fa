package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testBlock = Env{
	{"IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"},
	{"ODD", `it's "quoted" $HOME ; rm -rf /`},
	{"EMPTY", ""},
}

// parseEnvFile reads KEY=VALUE lines as a dotenv loader would.
func parseEnvFile(data []byte) (map[string]string, error) {
	m := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" {
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

func TestEnvWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fake.env")
	if err := os.WriteFile(path, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testBlock.WriteFile(path); err != nil {
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
	if diff := cmp.Diff(testBlock.Map(), got); diff != "" {
		t.Errorf("env file (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600: the file holds the identity header", fi.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the env file (no temporary left)", len(entries))
	}
}

func TestEnvWriteFileFails(t *testing.T) {
	if err := testBlock.WriteFile(filepath.Join(t.TempDir(), "missing", "fake.env")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestEnvMergeReplacesStaleValues(t *testing.T) {
	base := []string{"PATH=/bin", "IDENTITY_ENDPOINT=http://stale", "HOME=/home/x", "ODD=old", "EMPTY=x"}
	want := []string{"PATH=/bin", "HOME=/home/x",
		"IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", `ODD=it's "quoted" $HOME ; rm -rf /`, "EMPTY="}
	if diff := cmp.Diff(want, testBlock.Merge(base)); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[2:], testBlock.Environ()); diff != "" {
		t.Errorf("Environ (-want +got):\n%s", diff)
	}
}

func TestEnvApplyAndLookup(t *testing.T) {
	var got []string
	testBlock.Apply(func(k, v string) { got = append(got, k+"="+v) })
	if diff := cmp.Diff(testBlock.Environ(), got); diff != "" {
		t.Errorf("Apply calls (-want +got):\n%s", diff)
	}
	if v, ok := testBlock.Lookup("EMPTY"); !ok || v != "" {
		t.Errorf(`Lookup("EMPTY") = %q, %t; want "", true`, v, ok)
	}
	if v, ok := testBlock.Lookup("NOPE"); ok || v != "" {
		t.Errorf(`Lookup("NOPE") = %q, %t; want "", false`, v, ok)
	}
	if got := testBlock.Get("IDENTITY_ENDPOINT"); got != "http://127.0.0.1:1/msi/token" {
		t.Errorf("Get = %q", got)
	}
}

func TestVarDocsIsACopy(t *testing.T) {
	d := VarDocs()
	d[0].Name = "CHANGED"
	if VarDocs()[0].Name == "CHANGED" {
		t.Error("VarDocs returns the package's own slice")
	}
}
