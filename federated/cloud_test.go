package federated_test

import (
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/federated"
)

func TestCloudFromEnvironment(t *testing.T) {
	publicRM := cloud.AzurePublic.Services[cloud.ResourceManager]
	for _, tc := range []struct {
		name           string
		authority, arm string // "-" leaves the variable unset
		wantAuthority  string
		wantRM         cloud.ServiceConfiguration
		wantErr        string
	}{
		{"nothing set", "-", "-", cloud.AzurePublic.ActiveDirectoryAuthorityHost, publicRM, ""},
		{"emulator", "https://127.0.0.1:1", "https://127.0.0.1:2/", "https://127.0.0.1:1/",
			cloud.ServiceConfiguration{Endpoint: "https://127.0.0.1:2", Audience: publicRM.Audience}, ""},
		{"http ARM", "-", "http://127.0.0.1:2", "", cloud.ServiceConfiguration{}, federated.EnvARMURL},
		{"empty ARM", "-", "", "", cloud.ServiceConfiguration{}, federated.EnvARMURL},
		{"garbage authority", "login.example", "-", "", cloud.ServiceConfiguration{}, "AZURE_AUTHORITY_HOST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setOrUnset(t, "AZURE_AUTHORITY_HOST", tc.authority)
			setOrUnset(t, federated.EnvARMURL, tc.arm)
			cfg, err := federated.CloudFromEnvironment()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ActiveDirectoryAuthorityHost != tc.wantAuthority {
				t.Errorf("authority %q, want %q", cfg.ActiveDirectoryAuthorityHost, tc.wantAuthority)
			}
			if diff := cmp.Diff(tc.wantRM, cfg.Services[cloud.ResourceManager]); diff != "" {
				t.Errorf("ResourceManager (-want +got):\n%s", diff)
			}
			if got := cloud.AzurePublic.Services[cloud.ResourceManager]; got != publicRM {
				t.Errorf("cloud.AzurePublic changed: %+v", got)
			}
		})
	}
}

func setOrUnset(t *testing.T, name, value string) {
	t.Helper()
	t.Setenv(name, value)
	if value == "-" {
		if err := os.Unsetenv(name); err != nil { // t.Setenv above restores it
			t.Fatal(err)
		}
	}
}
