package federated_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// exampleTokenServer stands in for Entra: it prints the tenant of each token
// request and answers with a token valid for an hour. The examples print what
// they got, never the token itself: a token does not belong in output.
func exampleTokenServer() *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		fmt.Println("token request for", tenant)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"token-for-%s"}`, tenant)
	}))
}

// validFor is how long tok stays valid, to the minute.
func validFor(tok azcore.AccessToken) time.Duration {
	return time.Until(tok.ExpiresOn).Round(time.Minute)
}

func ExampleNewCredential() {
	entra := exampleTokenServer()
	defer entra.Close()

	// In Azure the assertion comes from the managed identity
	// (assertion.AppService, assertion.IMDS); Static serves tests.
	src := assertion.Static("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln")
	cred, err := federated.NewCredential("home-tenant", "app-client-id", src, &federated.Options{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL},
			Transport: entra.Client(),
		},
		AdditionallyAllowedTenants: []string{"customer-tenant"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{
			Scopes:   []string{"https://graph.microsoft.com/.default"},
			TenantID: "customer-tenant",
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("got a token valid for", validFor(tok))
	}
	// Output:
	// token request for customer-tenant
	// got a token valid for 1h0m0s
	// got a token valid for 1h0m0s
	// got a token valid for 1h0m0s
}

func ExampleOptions_logging() {
	entra := exampleTokenServer()
	defer entra.Close()

	// One function receives the Credential's own entries (Options.Logger)
	// and azcore's entries for the token request (azlog.SetListener); here
	// it hands them to slog.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable example output
			}
			return a
		},
	}))
	toSlog := func(ev azlog.Event, msg string) {
		// The example keeps the first words, which do not vary from run to
		// run; a service logs msg whole.
		msg, _, _ = strings.Cut(msg, "\n")
		msg, _, _ = strings.Cut(msg, " for ")
		logger.Info(msg, "event", string(ev))
	}
	azlog.SetListener(toSlog)
	azlog.SetEvents(azlog.EventRequest) // of azcore's events, only the outgoing requests
	defer func() {
		azlog.SetListener(nil)
		azlog.SetEvents() // all events again
	}()

	cred, err := federated.NewCredential("home-tenant", "app-client-id", assertion.Static("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"), &federated.Options{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL}, Transport: entra.Client()},
		Logger:        toSlog,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// level=INFO msg="federated: cache miss" event=Authentication
	// level=INFO msg="==> OUTGOING REQUEST (Try=1)" event=Request
	// token request for home-tenant
	// level=INFO msg="federated: got token" event=Authentication
}

func ExampleCredential_ForTenant() {
	entra := exampleTokenServer()
	defer entra.Close()

	cred, err := federated.NewCredential("home-tenant", "app-client-id", assertion.Static("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"), &federated.Options{
		ClientOptions:              azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: entra.URL}, Transport: entra.Client()},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Hand each client a view bound to its tenant; all views share one
	// cache and one assertion.
	for _, tenant := range []string{"fabrikam.onmicrosoft.com", "northwind.onmicrosoft.com"} {
		var c azcore.TokenCredential = cred.ForTenant(tenant)
		tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("got a token valid for", validFor(tok))
	}
	// Output:
	// token request for fabrikam.onmicrosoft.com
	// got a token valid for 1h0m0s
	// token request for northwind.onmicrosoft.com
	// got a token valid for 1h0m0s
}

func ExampleAuthError() {
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	src, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: srv.AppServiceEndpoint(), IdentityHeader: srv.IdentityHeader()})
	if err != nil {
		fmt.Println(err)
		return
	}
	cred, err := federated.NewCredential(fakeidp.DefaultHomeTenantID, fakeidp.DefaultAppClientID, src, &federated.Options{
		ClientOptions:              azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL()}, Transport: srv.Client()},
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A tenant whose administrator has not consented to the app yet.
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{
		Scopes:   []string{"https://graph.microsoft.com/.default"},
		TenantID: fakeidp.DefaultUnconsentedTenantID,
	})
	var ae *federated.AuthError
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode, ae.Code, ae.ErrorCodes)
		consentURL := srv.URL() + "/" + fakeidp.DefaultUnconsentedTenantID + "/adminconsent?client_id=" + fakeidp.DefaultAppClientID
		fmt.Println("hint has the admin consent URL:", strings.Contains(ae.Hint, consentURL))
	}
	// Output:
	// 400 unauthorized_client [700016]
	// hint has the admin consent URL: true
}

func ExampleNewFromEnvironment() {
	// fakeidp plays App Service: in a Function App the platform sets
	// IDENTITY_ENDPOINT and IDENTITY_HEADER, and the app settings hold
	// AZURE_TENANT_ID and AZURE_CLIENT_ID.
	srv, err := fakeidp.New(fakeidp.DefaultScenario(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	env := map[string]string{
		"IDENTITY_ENDPOINT":    srv.AppServiceEndpoint(),
		"IDENTITY_HEADER":      srv.IdentityHeader(),
		"AZURE_TENANT_ID":      fakeidp.DefaultHomeTenantID,
		"AZURE_CLIENT_ID":      fakeidp.DefaultAppClientID,
		"AZURE_AUTHORITY_HOST": srv.URL(),
	}
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}

	cred, err := federated.NewFromEnvironment(&federated.Options{
		ClientOptions:              azcore.ClientOptions{Transport: srv.Client()}, // trusts the fake's CA
		AdditionallyAllowedTenants: []string{fakeidp.DefaultConsentedTenantID},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{
		Scopes:   []string{"https://graph.microsoft.com/.default"},
		TenantID: fakeidp.DefaultConsentedTenantID,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("got a token:", tok.Token != "")
	// Output:
	// got a token: true
}
