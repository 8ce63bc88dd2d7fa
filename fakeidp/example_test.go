package fakeidp_test

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// A managed-identity token traded for Graph tokens in each tenant of the
// default scenario: the tenant that did not consent answers AADSTS700016.
func ExampleNew() {
	srv, err := fakeidp.New(nil, nil) // nil: DefaultScenario()
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	assertion, _, err := srv.IssueManagedIdentityToken(srv.Scenario().ManagedIdentities[0], fakeidp.TokenExchangeAudience)
	if err != nil {
		panic(err)
	}
	for _, tenant := range srv.Scenario().Tenants {
		resp, err := srv.Client().PostForm(srv.URL()+"/"+tenant.ID+"/oauth2/v2.0/token", url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {fakeidp.DefaultAppClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
			"scope":                 {"https://graph.microsoft.com/.default"},
		})
		if err != nil {
			panic(err)
		}
		var body struct {
			ErrorCodes []int `json:"error_codes"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		fmt.Println(tenant.DisplayName, resp.StatusCode, body.ErrorCodes)
	}
	// Output:
	// Contoso (home) 200 []
	// Fabrikam (consented) 200 []
	// Northwind (not consented) 400 [700016]
}

func ExampleDefaultScenario() {
	sc := fakeidp.DefaultScenario()
	for _, m := range sc.ManagedIdentities {
		fmt.Println(m.Kind, m.ObjectID)
	}
	fmt.Println(sc.Apps[0].FederatedCredentials[0].Issuer)
	// Output:
	// system bbbbbbbb-0000-0000-0000-000000000001
	// user cccccccc-0000-0000-0000-000000000001
	// {authority}/11111111-1111-1111-1111-111111111111/v2.0
}

func ExampleParseFault() {
	f, err := fakeidp.ParseFault("token:429:retry-after=2:count=3")
	fmt.Println(f.Endpoint, f.Status, f.RetryAfter, f.Count, err)
	_, err = fakeidp.ParseFault("tokn:429")
	fmt.Println(err)
	// Output:
	// token 429 2s 3 <nil>
	// fakeidp: fault "tokn:429": unknown endpoint "tokn" (want token, openid, keys, discovery, appservice, imds, arc, msi, github, graph, arm, or * for every endpoint)
}

func ExampleParseScenario() {
	_, err := fakeidp.ParseScenario([]byte(`{"tenants":[{"id":"t1"}],"apps":[{"clientId":"a","homeTenant":"t1",
		"federatedCredentials":[{"name":"f","issuer":"","subject":"s","audiences":["api://AzureADTokenExchange"]}]}]}`))
	fmt.Println(err)
	// Output:
	// fakeidp: scenario: apps[0].federatedCredentials[0].issuer: empty
}

// Scripted faults: the next two token requests get 429 with Retry-After,
// and Requests() shows what the client went through.
func ExampleServer_AddFault() {
	srv, err := fakeidp.New(nil, &fakeidp.Options{NoListener: true})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	f, _ := fakeidp.ParseFault("token:429:retry-after=2:count=2")
	srv.AddFault(f)

	assertion, err := srv.IssueExternalToken(fakeidp.DefaultWorkloadIssuer, fakeidp.DefaultWorkloadSubject, fakeidp.TokenExchangeAudience, 0)
	if err != nil {
		panic(err)
	}
	for i := 0; i < 3; i++ {
		resp, err := srv.Client().PostForm(srv.URL()+"/"+fakeidp.DefaultConsentedTenantID+"/oauth2/v2.0/token", url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {fakeidp.DefaultAppClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
			"scope":                 {"https://graph.microsoft.com/.default"},
		})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%d retry-after=%q\n", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, r := range srv.Requests() {
		// The log keeps the form without the assertion; print the field only
		// when it is empty or the redaction marker, never a token.
		kept := r.Form.Get("client_assertion")
		if kept != "" && kept != "[redacted]" {
			kept = "NOT REDACTED"
		}
		fmt.Printf("%d %q %v assertion=%q\n", r.Status, r.Code, r.ErrorCodes, kept)
	}
	// Output:
	// 429 retry-after="2"
	// 429 retry-after="2"
	// 200 retry-after=""
	// 429 "temporarily_unavailable" [90033] assertion=""
	// 429 "temporarily_unavailable" [90033] assertion=""
	// 200 "" [] assertion="[redacted]"
}

// What the admin-consent page does on Accept: the tenant that had not
// consented grants the app's required roles, and the next token request
// there succeeds with them.
func ExampleServer_GrantConsent() {
	srv, err := fakeidp.New(nil, &fakeidp.Options{NoListener: true, SigningKeyBits: 1024})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	assertion, _, err := srv.IssueManagedIdentityToken(srv.Scenario().ManagedIdentities[0], fakeidp.TokenExchangeAudience)
	if err != nil {
		panic(err)
	}
	tokenStatus := func() int {
		resp, err := srv.Client().PostForm(srv.URL()+"/"+fakeidp.DefaultUnconsentedTenantID+"/oauth2/v2.0/token", url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {fakeidp.DefaultAppClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
			"scope":                 {"https://graph.microsoft.com/.default"},
		})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("before:", tokenStatus())
	app := srv.Scenario().Apps[0]
	if err := srv.GrantConsent(fakeidp.DefaultUnconsentedTenantID, app.ClientID, app.RequiredRoles); err != nil {
		panic(err)
	}
	fmt.Println("after:", tokenStatus())
	for _, c := range srv.Consents() {
		fmt.Println(c.Tenant, c.Roles)
	}
	// Output:
	// before: 400
	// after: 200
	// 11111111-1111-1111-1111-111111111111 [Device.Read.All]
	// 22222222-2222-2222-2222-222222222222 [Device.Read.All]
	// 33333333-3333-3333-3333-333333333333 [Device.Read.All]
}

// The APIs every tenant has; a token for anything else (or a scenario's app
// or resource) is invalid_resource / AADSTS500011.
func ExampleMicrosoftResources() {
	for _, r := range fakeidp.MicrosoftResources() {
		fmt.Println(r.Name, r.IdentifierURIs[0], r.AccessTokenVersion)
	}
	// Output:
	// Microsoft Graph https://graph.microsoft.com 1
	// Windows Azure Service Management API https://management.core.windows.net/ 1
	// Azure Key Vault https://vault.azure.net 1
	// Azure Storage https://storage.azure.com 1
	// AzureADTokenExchange api://AzureADTokenExchange 2
}
