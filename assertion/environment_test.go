package assertion

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
			"assertion.FromEnvironment: assertion.IMDS(http://169.254.169.254/metadata/identity/oauth2/token, system-assigned) (no App Service or workload identity variables are set)"},
		{"App Service, user-assigned", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:41741/msi/token", "IDENTITY_HEADER": testHeader, "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41741/msi/token, client_id=mi-client-id) (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)"},
		{"Functions MSI pair, user-assigned", map[string]string{"MSI_ENDPOINT": "http://127.0.0.1:41742/msi/token", "MSI_SECRET": testHeader, "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.AppService(http://127.0.0.1:41742/msi/token, client_id=mi-client-id) (MSI_ENDPOINT and MSI_SECRET are set)"},
		{"workload identity has no identity to select", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.WorkloadFile(" + tokenFile + ") (AZURE_FEDERATED_TOKEN_FILE is set)"},
		{"IMDS, user-assigned", map[string]string{"AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi-client-id"},
			"assertion.FromEnvironment: assertion.IMDS(http://169.254.169.254/metadata/identity/oauth2/token, client_id=mi-client-id) (no App Service or workload identity variables are set)"},
		{"IMDS ignores AZURE_CLIENT_ID", map[string]string{"AZURE_CLIENT_ID": "app-client-id", "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://10.0.0.9:2579"},
			"assertion.FromEnvironment: assertion.IMDS(http://10.0.0.9:2579/metadata/identity/oauth2/token, system-assigned) (no App Service or workload identity variables are set)"},
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
