package federated_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// toFake sends every request to the fake, whatever host it names: the
// credential believes it talks to login.microsoftonline.us.
type toFake struct {
	srv   *fakeidp.Server
	hosts []string
}

func (t *toFake) Do(req *http.Request) (*http.Response, error) {
	t.hosts = append(t.hosts, req.URL.Host)
	r := req.Clone(req.Context())
	r.URL.Host = t.srv.URL()[len("https://"):]
	r.Host = ""
	return t.srv.Client().Do(r)
}

// TestNewFromEnvironmentInUSGovernment: with Options.Cloud set to US
// Government and no AZURE_AUTHORITY_HOST, the environment's source asks for
// api://AzureADTokenExchangeUSGov, the audience the US Government scenario's
// federated credential trusts, and the token request goes to
// login.microsoftonline.us. Before, the source always asked for the public
// audience and Entra answered AADSTS700212.
func TestNewFromEnvironmentInUSGovernment(t *testing.T) {
	sc, err := fakeidp.DefaultScenarioIn(fakeidp.CloudUSGovernment)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakeidp.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for k, v := range map[string]string{
		"IDENTITY_ENDPOINT": srv.AppServiceEndpoint(), "IDENTITY_HEADER": srv.IdentityHeader(),
		"MSI_ENDPOINT": "", "MSI_SECRET": "", "AZURE_FEDERATED_TOKEN_FILE": "", "AZURE_MANAGED_IDENTITY_CLIENT_ID": "",
		"AZURE_TENANT_ID": fakeidp.DefaultHomeTenantID, "AZURE_CLIENT_ID": fakeidp.DefaultAppClientID,
		"AZURE_AUTHORITY_HOST": "", "AZURE_ADDITIONALLY_ALLOWED_TENANTS": "",
	} {
		t.Setenv(k, v)
	}
	tr := &toFake{srv: srv}
	cred, err := federated.NewFromEnvironment(&federated.Options{ClientOptions: azcore.ClientOptions{Cloud: cloud.AzureGovernment, Transport: tr}})
	if err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err != nil {
		t.Fatal(federated.RedactErr(err))
	}
	if len(tr.hosts) != 1 || tr.hosts[0] != "login.microsoftonline.us" {
		t.Errorf("token requests went to %v, want login.microsoftonline.us", tr.hosts)
	}
}
