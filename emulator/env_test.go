package emulator

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

var testBlock = Env{
	{"IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"},
	{"ODD", `it's "quoted" $HOME ; rm -rf /`},
	{"EMPTY", ""},
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
	// KEY=VALUE lines in the block's order, as Environ gives them.
	want := strings.Join(testBlock.Environ(), "\n") + "\n"
	if diff := cmp.Diff(want, string(data)); diff != "" {
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

// TestEnvMergeClearsOtherModes: a variable of a mode the block is not in, or
// of a platform no mode presents, is dropped from base, so that an inherited
// App Service endpoint cannot win platform detection under imds mode; a CA
// variable pointing at the system bundle is replaced.
func TestEnvMergeClearsOtherModes(t *testing.T) {
	imds := Env{{"AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:2"}, {"REQUESTS_CA_BUNDLE", "/tmp/ca.pem"}}
	base := []string{
		"PATH=/bin",
		"IDENTITY_ENDPOINT=http://stale", "IDENTITY_HEADER=h", "MSI_ENDPOINT=http://stale", "MSI_SECRET=s",
		"WEBSITE_SITE_NAME=site", "APPSETTING_WEBSITE_SITE_NAME=site",
		"AZURE_FEDERATED_TOKEN_FILE=/var/run/token", "IDENTITY_SERVER_THUMBPRINT=ab", "IDENTITY_API_VERSION=2019-07-01-preview",
		"REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
		"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://stale",
		"AZURE_SUBSCRIPTION_ID=kept",
	}
	want := []string{"PATH=/bin", "AZURE_SUBSCRIPTION_ID=kept",
		"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://127.0.0.1:2", "REQUESTS_CA_BUNDLE=/tmp/ca.pem"}
	if diff := cmp.Diff(want, imds.Merge(base)); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	for _, d := range VarDocs() {
		if d.Mode != "" && !slices.Contains(PlatformVars(), d.Name) {
			t.Errorf("PlatformVars lacks %s, a variable of %s mode", d.Name, d.Mode)
		}
	}
}

func TestSiteName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []fakeidp.ManagedIdentity
		want string
	}{
		{"system identity of a site", []fakeidp.ManagedIdentity{
			{Kind: fakeidp.KindUser, ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"},
			{Kind: fakeidp.KindSystem, ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/Func-Devices"},
		}, "Func-Devices"},
		{"a VM's system identity", []fakeidp.ManagedIdentity{{Kind: fakeidp.KindSystem, ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"}}, "fakemsi"},
		{"a slot is not a site name", []fakeidp.ManagedIdentity{{Kind: fakeidp.KindSystem, ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/slots/staging"}}, "fakemsi"},
		{"no identity", nil, "fakemsi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := siteName(tc.ids); got != tc.want {
				t.Errorf("siteName = %q, want %q", got, tc.want)
			}
		})
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

// TestPrintingHidesTheIdentityHeader prints an Emulator and its environment
// block every way fmt can: never the identity header, always where the
// emulator listens.
func TestPrintingHidesTheIdentityHeader(t *testing.T) {
	e := start(t, nil)
	header := e.IdentityHeader()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for name, tc := range map[string]struct {
			v    any
			want string
		}{
			"Emulator":        {e, e.AuthorityHost()},
			"Env":             {e.Env(), e.AppServiceEndpoint()},
			"Env in a struct": {struct{ Env Env }{e.Env()}, e.AppServiceEndpoint()},
		} {
			got := fmt.Sprintf(verb, tc.v)
			if strings.Contains(got, header) {
				t.Errorf("%s of the %s holds the identity header", verb, name)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("%s of the %s = %s, want it to name %s", verb, name, leak.Redact(got, header), tc.want)
			}
		}
	}
	if got := e.String(); !strings.Contains(got, e.GraphURL()) || !strings.Contains(got, e.MSIURL()) || !strings.Contains(got, string(ModeAppService)) {
		t.Errorf("String = %s, want the mode and every listener's URL", got)
	}
	if got := e.Env().String(); !strings.Contains(got, "IDENTITY_HEADER=[redacted]") || !strings.Contains(got, "MSI_SECRET=[redacted]") {
		t.Errorf("Env.String = %s, want the secret variables present and redacted", leak.Redact(got, header))
	}
}
