package assertion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

func TestFromEnvironmentChoice(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"App Service", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:41741/msi/token", "IDENTITY_HEADER": testHeader, "AZURE_FEDERATED_TOKEN_FILE": tokenFile},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41741/msi/token, system-assigned) (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)"},
		{"Functions MSI pair", map[string]string{"MSI_ENDPOINT": "http://127.0.0.1:41742/msi/token", "MSI_SECRET": testHeader},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41742/msi/token, system-assigned) (MSI_ENDPOINT and MSI_SECRET are set)"},
		{"endpoint without header is not App Service", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:40342/metadata/identity/oauth2/token", "AZURE_FEDERATED_TOKEN_FILE": tokenFile},
			"assertion.FromEnvironment: assertion.WorkloadFile(" + tokenFile + ") (AZURE_FEDERATED_TOKEN_FILE is set)"},
		{"workload identity", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_CLIENT_ID": "app-client-id"},
			"assertion.FromEnvironment: assertion.WorkloadFile(" + tokenFile + ") (AZURE_FEDERATED_TOKEN_FILE is set)"},
		{"IMDS", nil,
			"assertion.FromEnvironment: assertion.IMDS(http://169.254.169.254/metadata/identity/oauth2/token, system-assigned) (no App Service, Arc, workload identity or GitHub Actions variables are set)"},
		{"App Service, user-assigned", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:41741/msi/token", "IDENTITY_HEADER": testHeader, "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41741/msi/token, client_id=mi-client-id) (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)"},
		{"Functions MSI pair, user-assigned", map[string]string{"MSI_ENDPOINT": "http://127.0.0.1:41742/msi/token", "MSI_SECRET": testHeader, "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41742/msi/token, client_id=mi-client-id) (MSI_ENDPOINT and MSI_SECRET are set)"},
		{"workload identity has no identity to select", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.WorkloadFile(" + tokenFile + ") (AZURE_FEDERATED_TOKEN_FILE is set)"},
		{"IMDS, user-assigned", map[string]string{"AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.IMDS(http://169.254.169.254/metadata/identity/oauth2/token, client_id=mi-client-id) (no App Service, Arc, workload identity or GitHub Actions variables are set)"},
		{"IMDS ignores AZURE_CLIENT_ID", map[string]string{"AZURE_CLIENT_ID": "app-client-id", "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://10.0.0.9:2579"},
			"assertion.FromEnvironment: assertion.IMDS(http://10.0.0.9:2579/metadata/identity/oauth2/token, system-assigned) (no App Service, Arc, workload identity or GitHub Actions variables are set)"},
		{"Arc", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:40342/metadata/identity/oauth2/token", "IMDS_ENDPOINT": "http://127.0.0.1:40342", "AZURE_FEDERATED_TOKEN_FILE": tokenFile, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/t?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": testHeader},
			"assertion.FromEnvironment: assertion.AzureArc(http://127.0.0.1:40342/metadata/identity/oauth2/token, keys in " + ArcKeyDirectory() + ") (IDENTITY_ENDPOINT and IMDS_ENDPOINT are set)"},
		{"App Service before Arc", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:41741/msi/token", "IDENTITY_HEADER": testHeader, "IMDS_ENDPOINT": "http://127.0.0.1:40342"},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41741/msi/token, system-assigned) (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)"},
		{"workload before GitHub Actions", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/t?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": testHeader},
			"assertion.FromEnvironment: assertion.WorkloadFile(" + tokenFile + ") (AZURE_FEDERATED_TOKEN_FILE is set)"},
		{"GitHub Actions", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/t?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": testHeader},
			"assertion.FromEnvironment: assertion.GitHubActions(http://127.0.0.1:1/t, audience=api://AzureADTokenExchange) (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set)"},
		{"GitHub Actions in US Government", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/t?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": testHeader, "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/"},
			"assertion.FromEnvironment: assertion.GitHubActions(http://127.0.0.1:1/t, audience=api://AzureADTokenExchangeUSGov) (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set)"},
		{"GitHub Actions without its token is not GitHub", map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/t?api-version=2.0"},
			"assertion.FromEnvironment: assertion.IMDS(http://169.254.169.254/metadata/identity/oauth2/token, system-assigned) (no App Service, Arc, workload identity or GitHub Actions variables are set)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearIdentityEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			src, err := FromEnvironment()
			if err != nil {
				t.Fatal(err)
			}
			got := src.(fmt.Stringer).String()
			if got != tc.want {
				t.Errorf("String() =\n%q, want\n%q", strings.ReplaceAll(got, testHeader, "<header>"), tc.want)
			}
			checkNoSecret(t, "String()", got)
		})
	}
}

func TestFromEnvironmentAppServiceEndToEnd(t *testing.T) {
	clearIdentityEnv(t)
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenJSON(w, "1795773600") })
	t.Setenv("IDENTITY_ENDPOINT", fake.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", testHeader)
	t.Setenv("AZURE_CLIENT_ID", "the-multi-tenant-app")
	src, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != testToken || !a.ExpiresOn.Equal(time.Unix(1795773600, 0)) {
		t.Error("wrong assertion")
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests", len(reqs))
	}
	if reqs[0].Query.Has("client_id") {
		t.Error("AZURE_CLIENT_ID was sent as a managed-identity selector")
	}
	if reqs[0].Header.Get("X-Identity-Header") != testHeader {
		t.Error("the identity header from the environment was not sent")
	}
}

func TestFromEnvironmentUserAssignedSelector(t *testing.T) {
	clearIdentityEnv(t)
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenJSON(w, "1795773600") })
	t.Setenv("IDENTITY_ENDPOINT", fake.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", testHeader)
	t.Setenv("AZURE_CLIENT_ID", "the-multi-tenant-app")
	t.Setenv(EnvManagedIdentityClientID, "the-user-assigned-identity")
	src, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Assertion(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests", len(reqs))
	}
	if got := reqs[0].Query.Get("client_id"); got != "the-user-assigned-identity" {
		t.Errorf("client_id selector = %q, want the value of %s", got, EnvManagedIdentityClientID)
	}
}

func TestFromEnvironmentBadEndpoint(t *testing.T) {
	clearIdentityEnv(t)
	t.Setenv("IDENTITY_ENDPOINT", "::not a url")
	t.Setenv("IDENTITY_HEADER", testHeader)
	_, err := FromEnvironment()
	if err == nil {
		t.Fatal("a bad endpoint was accepted")
	}
	checkNoSecret(t, "error", err.Error())
}

func TestFromEnvironmentRefusals(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr error
	}{
		{"Service Fabric", map[string]string{"IDENTITY_ENDPOINT": "https://127.0.0.1:2377/metadata/identity/oauth2/token", "IDENTITY_HEADER": testHeader, "IDENTITY_SERVER_THUMBPRINT": "ab12"}, "Service Fabric", nil},
		{"Arc with a user-assigned identity", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:40342/metadata/identity/oauth2/token", "IMDS_ENDPOINT": "http://127.0.0.1:40342", EnvManagedIdentityClientID: "mi-client-id"}, "Azure Arc", ErrUserAssignedNotSupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearIdentityEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := FromEnvironment()
			if err == nil {
				t.Fatal("FromEnvironment accepted an environment it cannot serve")
			}
			checkNoSecret(t, "error", err.Error())
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %q", tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error does not wrap %v", tc.wantErr)
			}
		})
	}
}

// TestSourcesTakeTheCloudsAudience: every HTTP source asks for the audience
// of AZURE_AUTHORITY_HOST's cloud, of the Cloud option over it, and of the
// Resource option over both.
func TestSourcesTakeTheCloudsAudience(t *testing.T) {
	type build func(endpoint string, c cloud.Configuration, resource string) (Source, error)
	keyDir := t.TempDir()
	sources := map[string]struct {
		b     build
		param string
	}{
		"AppService": {func(e string, c cloud.Configuration, r string) (Source, error) {
			return AppService(&AppServiceOptions{Endpoint: e, IdentityHeader: testHeader, Cloud: c, Resource: r})
		}, "resource"},
		"IMDS": {func(e string, c cloud.Configuration, r string) (Source, error) {
			return IMDS(&IMDSOptions{Endpoint: e, Cloud: c, Resource: r})
		}, "resource"},
		"AzureArc": {func(e string, c cloud.Configuration, r string) (Source, error) {
			return AzureArc(&AzureArcOptions{Endpoint: e, KeyDirectory: keyDir, Cloud: c, Resource: r})
		}, "resource"},
		"GitHubActions": {func(e string, c cloud.Configuration, r string) (Source, error) {
			return GitHubActions(&GitHubActionsOptions{RequestURL: e + "/token?api-version=2.0", RequestToken: testHeader, Cloud: c, Resource: r})
		}, "audience"},
	}
	cases := []struct {
		name     string
		envHost  string
		cloud    cloud.Configuration
		resource string
		want     string
	}{
		{"nothing set: public", "", cloud.Configuration{}, "", ResourceAzurePublic},
		{"AZURE_AUTHORITY_HOST US Government", "https://login.microsoftonline.us/", cloud.Configuration{}, "", ResourceAzureUSGovernment},
		{"AZURE_AUTHORITY_HOST China", "https://login.partner.microsoftonline.cn", cloud.Configuration{}, "", ResourceAzureChina},
		{"AZURE_AUTHORITY_HOST loopback emulator: public", "https://127.0.0.1:8443", cloud.Configuration{}, "", ResourceAzurePublic},
		{"Cloud option over the environment", "https://login.microsoftonline.us/", cloud.AzureChina, "", ResourceAzureChina},
		{"azcore's AzureGovernment", "", cloud.AzureGovernment, "", ResourceAzureUSGovernment},
		{"Resource over both", "https://login.microsoftonline.us/", cloud.AzureChina, "api://custom", "api://custom"},
	}
	for name, src := range sources {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				clearIdentityEnv(t)
				t.Setenv("AZURE_AUTHORITY_HOST", tc.envHost)
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusBadRequest) })
				s, err := src.b(fake.URL, tc.cloud, tc.resource)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = s.Assertion(context.Background())
				reqs := fake.requests()
				if len(reqs) == 0 {
					t.Fatal("no request")
				}
				if got := reqs[0].Query.Get(src.param); got != tc.want {
					t.Errorf("%s = %q, want %q", src.param, got, tc.want)
				}
			})
		}
	}
}

func TestFromEnvironmentWithOptionsCloud(t *testing.T) {
	clearIdentityEnv(t)
	t.Setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/")
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenJSON(w, "1795773600") })
	t.Setenv("IDENTITY_ENDPOINT", fake.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", testHeader)
	for _, tc := range []struct {
		opts *EnvironmentOptions
		want string
	}{
		{nil, ResourceAzureUSGovernment},
		{&EnvironmentOptions{Cloud: cloud.AzureChina}, ResourceAzureChina},
		{&EnvironmentOptions{Cloud: cloud.AzureChina, Resource: "api://x"}, "api://x"},
	} {
		src, err := FromEnvironmentWithOptions(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Assertion(context.Background()); err != nil {
			t.Fatal(err)
		}
		reqs := fake.requests()
		if got := reqs[len(reqs)-1].Query.Get("resource"); got != tc.want {
			t.Errorf("%+v: resource %q, want %q", tc.opts, got, tc.want)
		}
	}
}
