package assertion_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/tenantbridge/tenantbridge/assertion"
)

// fakeJWT is a token with only an exp claim: enough for ExpiresOn.
func fakeJWT() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"exp":4070908800}`)) + ".sig"
}

func ExampleGitHubActions() {
	// A stand-in for GitHub's token request endpoint.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer request-token-from-github" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Println("asked for audience", r.URL.Query().Get("audience"), "with api-version", r.URL.Query().Get("api-version"))
		fmt.Fprintf(w, `{"count":1,"value":%q}`, fakeJWT())
	}))
	defer srv.Close()

	// In a job with `permissions: id-token: write`, GitHubActions(nil) reads
	// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	src, err := assertion.GitHubActions(&assertion.GitHubActionsOptions{
		RequestURL:   srv.URL + "/idtoken?api-version=2.0",
		RequestToken: "request-token-from-github",
		Cloud:        cloud.AzurePublic,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires", a.ExpiresOn.UTC().Format("2006-01-02"))
	// Output:
	// asked for audience api://AzureADTokenExchange with api-version 2.0
	// expires 2099-01-01
}

func ExampleAzureArc() {
	// A stand-in for the Connected Machine agent: a 401 challenge naming a
	// key file in its directory, then the token for that key.
	dir, _ := os.MkdirTemp("", "azcmagent-tokens")
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "challenge.key")
	_ = os.WriteFile(keyFile, []byte("random-key"), 0o600)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Basic random-key" {
			w.Header().Set("WWW-Authenticate", "Basic realm="+keyFile)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"expires_on":"4070908800","resource":%q,"token_type":"Bearer"}`, fakeJWT(), r.URL.Query().Get("resource"))
	}))
	defer srv.Close()

	// On an Arc-enabled server, AzureArc(nil) reads IDENTITY_ENDPOINT and
	// trusts key files in /var/opt/azcmagent/tokens only.
	src, err := assertion.AzureArc(&assertion.AzureArcOptions{
		Endpoint:     srv.URL + "/metadata/identity/oauth2/token",
		KeyDirectory: dir,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := src.Assertion(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires", a.ExpiresOn.UTC().Format("2006-01-02"))

	// Arc has only the machine's own identity.
	_, err = assertion.AzureArc(&assertion.AzureArcOptions{ID: assertion.ClientID("00000000-0000-0000-0000-000000000001")})
	fmt.Println(strings.Contains(err.Error(), "not supported"))
	// Output:
	// expires 2099-01-01
	// true
}

func ExampleTokenExchangeAudience() {
	for _, host := range []string{"https://login.microsoftonline.com/", "https://login.microsoftonline.us/", "https://login.partner.microsoftonline.cn/"} {
		fmt.Println(assertion.TokenExchangeAudience(host))
	}
	fmt.Println(assertion.TokenExchangeAudienceFor(cloud.AzureGovernment))
	// Output:
	// api://AzureADTokenExchange
	// api://AzureADTokenExchangeUSGov
	// api://AzureADTokenExchangeChina
	// api://AzureADTokenExchangeUSGov
}
