package assertion

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clearIdentityEnv unsets every variable the sources read.
func clearIdentityEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_CLIENT_ID", EnvManagedIdentityClientID,
		"IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", EnvGitHubTokenRequestURL, EnvGitHubTokenRequestToken, EnvAuthorityHost} {
		t.Setenv(k, "")
	}
}

func TestAppServiceSelectors(t *testing.T) {
	cases := []struct {
		name      string
		opts      AppServiceOptions
		wantQuery url.Values
		wantID    string
	}{
		{"system-assigned", AppServiceOptions{},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchange"}}, "system-assigned"},
		{"client ID", AppServiceOptions{ClientID: "11111111-aaaa"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchange"}, "client_id": {"11111111-aaaa"}}, "client_id=11111111-aaaa"},
		{"object ID", AppServiceOptions{ObjectID: "22222222-bbbb"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchange"}, "principal_id": {"22222222-bbbb"}}, "principal_id=22222222-bbbb"},
		{"resource ID", AppServiceOptions{ResourceID: "/subscriptions/s/resourcegroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchange"}, "mi_res_id": {"/subscriptions/s/resourcegroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"}}, "mi_res_id=/subscriptions/s/resourcegroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"},
		{"US Government resource", AppServiceOptions{Resource: ResourceAzureUSGovernment},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchangeUSGov"}}, "system-assigned"},
		{"China resource", AppServiceOptions{Resource: ResourceAzureChina},
			url.Values{"api-version": {"2019-08-01"}, "resource": {"api://AzureADTokenExchangeChina"}}, "system-assigned"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearIdentityEnv(t)
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenJSON(w, "1795773600") })
			opts := tc.opts
			opts.Endpoint = fake.URL + "/msi/token"
			opts.IdentityHeader = testHeader
			opts.Transport = fake.Client()
			src, err := AppService(&opts)
			if err != nil {
				t.Fatal(err)
			}
			a, err := src.Assertion(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if a.Token != testToken {
				t.Error("the assertion is not the token the endpoint sent")
			}
			if want := time.Unix(1795773600, 0).UTC(); !a.ExpiresOn.Equal(want) {
				t.Errorf("ExpiresOn = %v, want %v", a.ExpiresOn, want)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(tc.wantQuery, reqs[0].Query); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if reqs[0].Path != "/msi/token" {
				t.Errorf("path = %q, want /msi/token", reqs[0].Path)
			}
			if reqs[0].Header.Get("X-IDENTITY-HEADER") != testHeader {
				t.Error("X-IDENTITY-HEADER is not the configured header value")
			}
			if reqs[0].Header.Get("Metadata") != "" {
				t.Error("App Service request carries the IMDS Metadata header")
			}
			want := "assertion.AppService(" + fake.URL + "/msi/token, " + tc.wantID + ")"
			if got := src.(interface{ String() string }).String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			checkNoSecret(t, "String()", src.(interface{ String() string }).String())
		})
	}
}

func TestAppServiceEnvironment(t *testing.T) {
	cases := []struct {
		name       string
		env        map[string]string
		wantHeader string
		wantErr    string
	}{
		{"IDENTITY pair", map[string]string{"IDENTITY_ENDPOINT": "$URL", "IDENTITY_HEADER": testHeader}, testHeader, ""},
		{"MSI pair", map[string]string{"MSI_ENDPOINT": "$URL", "MSI_SECRET": testHeader}, testHeader, ""},
		{"IDENTITY pair wins", map[string]string{"IDENTITY_ENDPOINT": "$URL", "IDENTITY_HEADER": testHeader, "MSI_ENDPOINT": "http://127.0.0.1:1/other", "MSI_SECRET": "other"}, testHeader, ""},
		{"nothing set", nil, "", "set IDENTITY_ENDPOINT and IDENTITY_HEADER (or MSI_ENDPOINT and MSI_SECRET)"},
		{"no header", map[string]string{"IDENTITY_ENDPOINT": "$URL"}, "", "no identity header: IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not"},
		// The pairs are never mixed: each platform's secret goes only to its
		// own endpoint.
		{"IDENTITY_ENDPOINT with MSI_SECRET", map[string]string{"IDENTITY_ENDPOINT": "$URL", "MSI_SECRET": testHeader}, "", "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not"},
		{"MSI_ENDPOINT with IDENTITY_HEADER", map[string]string{"MSI_ENDPOINT": "$URL", "IDENTITY_HEADER": testHeader}, "", "MSI_ENDPOINT is set but MSI_SECRET is not"},
		{"incomplete IDENTITY pair, MSI pair used", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:1/unused", "MSI_ENDPOINT": "$URL", "MSI_SECRET": testHeader}, testHeader, ""},
		{"bad endpoint", map[string]string{"IDENTITY_ENDPOINT": "127.0.0.1:8081/msi", "IDENTITY_HEADER": testHeader}, "", "absolute http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clearIdentityEnv(t)
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenJSON(w, "1795773600") })
			for k, v := range tc.env {
				t.Setenv(k, strings.ReplaceAll(v, "$URL", fake.URL+"/msi/token"))
			}
			src, err := AppService(nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				checkNoSecret(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Assertion(context.Background()); err != nil {
				t.Fatal(err)
			}
			reqs := fake.requests()
			if len(reqs) != 1 || reqs[0].Header.Get("X-Identity-Header") != tc.wantHeader {
				t.Error("the request did not carry the header from the environment")
			}
		})
	}
}

func TestAppServiceSelectorConflict(t *testing.T) {
	_, err := AppService(&AppServiceOptions{Endpoint: "http://127.0.0.1:1/msi/token", IdentityHeader: testHeader, ClientID: "a", ResourceID: "b"})
	if err == nil || !strings.Contains(err.Error(), "at most one") {
		t.Fatalf("error = %v, want the at-most-one-selector error", err)
	}
}

func TestAppServiceUnknownUserAssignedIdentity(t *testing.T) {
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c0ffee"}`))
	})
	src, err := AppService(&AppServiceOptions{Endpoint: fake.URL, IdentityHeader: testHeader, ClientID: "abc-123", Transport: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Assertion(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"client_id=abc-123", "not assigned to this resource"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("server saw %d requests, want 1 (400 is final)", n)
	}
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"statusCode":401,"message":"bad header ` + testHeader + `"}`))
		}
	})
	logs := &logRecorder{}
	src, err := AppService(&AppServiceOptions{Endpoint: fake.URL, IdentityHeader: testHeader, Transport: fake.Client(), Logger: logs.log})
	if err != nil {
		t.Fatal(err)
	}
	waits(t, src)
	_, err = src.Assertion(context.Background())
	if err == nil || !strings.Contains(err.Error(), "IDENTITY_HEADER") {
		t.Fatalf("error = %v, want the wrong-header hint", err)
	}
	all := logs.all()
	if !strings.Contains(all, "Assertion: AppService: attempt 1 got status 503; retrying in 500ms") {
		t.Errorf("log lacks the retry entry; got:\n%s", strings.ReplaceAll(all, testHeader, "<header>"))
	}
	checkNoSecret(t, "log", all)
	checkNoSecret(t, "error", err.Error())
}
