package federated

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

func TestFirstTokenIsOneRequestWithExactForm(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)

	tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if tok.Token != "access-token-1" {
		t.Errorf("got a different token than the server issued (access-token-1)")
	}
	now := c.clock.Now()
	if want := now.Add(3600 * 1e9); !tok.ExpiresOn.Equal(want) {
		t.Errorf("ExpiresOn = %v, want %v", tok.ExpiresOn, want)
	}
	if want := now.Add(55 * 60 * 1e9); !tok.RefreshOn.Equal(want) {
		t.Errorf("RefreshOn = %v, want %v (5 minutes before expiry)", tok.RefreshOn, want)
	}
	want := []tokenRequest{{
		Method: "POST",
		Path:   "/" + homeTenant + "/oauth2/v2.0/token",
		CT:     "application/x-www-form-urlencoded",
		Form: url.Values{
			"client_id":             {testClient},
			"scope":                 {graphScope},
			"grant_type":            {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {c.src.token},
		},
	}}
	if diff := cmp.Diff(redactAssertion(want, c.src.token), redactAssertion(ts.requests(), c.src.token)); diff != "" {
		t.Errorf("token requests (-want +got):\n%s", redact(diff, c.src.token))
	}
}

func TestCachedTokenMakesNoRequest(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ctx := context.Background()
	first, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	for range 5 {
		c.clock.Advance(10 * 60 * 1e9 / 5) // 10 minutes in all: well before refresh
		got, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
		if err != nil {
			t.Fatal(redactErr(err))
		}
		if diff := cmp.Diff(redactTokens(first, got)); diff != "" {
			t.Errorf("cached token differs (-want +got):\n%s", diff)
		}
	}
	if n := ts.count.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestTenantSelection(t *testing.T) {
	tests := []struct {
		name      string
		allowed   []string
		env       string
		requested string
		wantPath  string // "" means an error before any request
		wantIs    error
	}{
		{name: "default tenant", requested: "", wantPath: "/" + homeTenant + "/oauth2/v2.0/token"},
		{name: "home tenant named", requested: homeTenant, wantPath: "/" + homeTenant + "/oauth2/v2.0/token"},
		{name: "allowed tenant", allowed: []string{tenantB}, requested: tenantB, wantPath: "/" + tenantB + "/oauth2/v2.0/token"},
		{name: "allowed domain", allowed: []string{tenantB, tenantC}, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "allowed case-insensitively", allowed: []string{strings.ToUpper(tenantC)}, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "not allowed", allowed: []string{tenantB}, requested: tenantC, wantIs: ErrTenantNotAllowed},
		{name: "nothing additional allowed", requested: tenantB, wantIs: ErrTenantNotAllowed},
		{name: "star allows any", allowed: []string{"*"}, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "env list", env: tenantB + ";" + tenantC, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "env star", env: "*", requested: tenantB, wantPath: "/" + tenantB + "/oauth2/v2.0/token"},
		{name: "option wins over env", allowed: []string{tenantB}, env: tenantC, requested: tenantC, wantIs: ErrTenantNotAllowed},
		{name: "path injection", allowed: []string{"*"}, requested: "x/../common"},
		{name: "query injection", allowed: []string{"*"}, requested: "x?a=b"},
		{name: "space", allowed: []string{"*"}, requested: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envAllowedTenants, tt.env)
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: tt.allowed})
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tt.requested})
			reqs := ts.requests()
			if tt.wantPath == "" {
				if err == nil {
					t.Fatal("GetToken succeeded, want an error")
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v is not %v", redactErr(err), tt.wantIs)
				}
				if errors.Is(err, ErrTenantNotAllowed) && !strings.Contains(err.Error(), "AdditionallyAllowedTenants") {
					t.Errorf("error %q does not say how to allow the tenant", redactErr(err))
				}
				if len(reqs) != 0 {
					t.Errorf("%d requests made, want none", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatal(redactErr(err))
			}
			if len(reqs) != 1 || reqs[0].Path != tt.wantPath {
				t.Errorf("requests = %+v, want one to %s", len(reqs), tt.wantPath)
			}
		})
	}
}

func TestForTenantSharesCacheAndAssertion(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{tenantB}})
	ctx := context.Background()
	viaOpts, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenantB})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	view := c.ForTenant(tenantB)
	viaView, err := view.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if diff := cmp.Diff(redactTokens(viaOpts, viaView)); diff != "" {
		t.Errorf("view did not reuse the cached token (-want +got):\n%s", diff)
	}
	if _, err := view.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{armScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	reqs := ts.requests()
	if len(reqs) != 2 || reqs[1].Path != "/"+tenantB+"/oauth2/v2.0/token" {
		t.Errorf("got %d requests, want 2, the second to tenant B", len(reqs))
	}
	if n := c.src.calls.Load(); n != 1 {
		t.Errorf("assertion fetched %d times, want 1", n)
	}

	notAllowed := c.ForTenant(tenantC)
	if _, err := notAllowed.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}}); !errors.Is(err, ErrTenantNotAllowed) {
		t.Errorf("view for a tenant not allowed: err = %v, want ErrTenantNotAllowed", redactErr(err))
	}
	if n := ts.count.Load(); n != 2 {
		t.Errorf("requests = %d after the refused view, want 2", n)
	}
}

func TestOneAssertionServesAllTenantsAndScopes(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{"*"}})
	ctx := context.Background()
	for _, tenant := range []string{homeTenant, tenantB, tenantC} {
		for _, scope := range []string{graphScope, armScope} {
			for range 3 {
				if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: tenant}); err != nil {
					t.Fatal(redactErr(err))
				}
			}
		}
	}
	if n := ts.count.Load(); n != 6 {
		t.Errorf("token requests = %d, want 6 (3 tenants x 2 scopes)", n)
	}
	if n := c.src.calls.Load(); n != 1 {
		t.Errorf("assertion fetched %d times, want 1", n)
	}
}

func TestAuthorityHost(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		env        string
		want       string
		wantErr    bool
	}{
		{name: "default public cloud", want: "https://login.microsoftonline.com"},
		{name: "public", configured: cloud.AzurePublic.ActiveDirectoryAuthorityHost, want: "https://login.microsoftonline.com"},
		{name: "US Government", configured: cloud.AzureGovernment.ActiveDirectoryAuthorityHost, want: "https://login.microsoftonline.us"},
		{name: "China", configured: cloud.AzureChina.ActiveDirectoryAuthorityHost, want: "https://login.chinacloudapi.cn"},
		{name: "custom with port", configured: "https://127.0.0.1:8443/", want: "https://127.0.0.1:8443"},
		{name: "custom with path", configured: "https://login.example.com/idp/", want: "https://login.example.com/idp"},
		{name: "env", env: "https://login.microsoftonline.us/", want: "https://login.microsoftonline.us"},
		{name: "option wins over env", configured: "https://login.chinacloudapi.cn/", env: "https://login.microsoftonline.us/", want: "https://login.chinacloudapi.cn"},
		{name: "http refused", configured: "http://127.0.0.1:8080/", wantErr: true},
		{name: "http env refused", env: "http://login.example.com", wantErr: true},
		{name: "query refused", configured: "https://login.example.com/?x=1", wantErr: true},
		{name: "no host", configured: "https:///path", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envAuthorityHost, tt.env)
			_, err := NewCredential(homeTenant, testClient, newCountingSource(), &Options{ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: tt.configured}}})
			got, err2 := authorityHost(tt.configured)
			if tt.wantErr {
				if err == nil || err2 == nil {
					t.Errorf("NewCredential error = %v, authorityHost error = %v; want errors", redactErr(err), redactErr(err2))
				}
				return
			}
			if err != nil || err2 != nil {
				t.Fatalf("errors: %v, %v", redactErr(err), redactErr(err2))
			}
			if got != tt.want {
				t.Errorf("authority = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSovereignCloudTokenURL(t *testing.T) {
	// Each cloud's token URL is {authority}/{tenant}/oauth2/v2.0/token; the
	// fake serves them all on a path-prefixed custom host to observe it.
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	c.authority = ts.URL + "/usgov"
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.us/.default"}}); err != nil {
		t.Fatal(redactErr(err))
	}
	if got, want := ts.requests()[0].Path, "/usgov/"+homeTenant+"/oauth2/v2.0/token"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

func TestNewCredentialValidates(t *testing.T) {
	src := newCountingSource()
	tests := []struct {
		name     string
		tenant   string
		client   string
		opts     *Options
		nilSrc   bool
		wantFail bool
	}{
		{name: "ok", tenant: homeTenant, client: testClient, opts: &Options{}},
		{name: "nil options", tenant: homeTenant, client: testClient},
		{name: "empty tenant", tenant: "", client: testClient, wantFail: true},
		{name: "bad tenant", tenant: "a/b", client: testClient, wantFail: true},
		{name: "empty client", tenant: homeTenant, client: "", wantFail: true},
		{name: "nil source", tenant: homeTenant, client: testClient, nilSrc: true, wantFail: true},
		{name: "bad allowed tenant", tenant: homeTenant, client: testClient, opts: &Options{AdditionallyAllowedTenants: []string{"x/y"}}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.nilSrc {
				_, err = NewCredential(tt.tenant, tt.client, nil, tt.opts)
			} else {
				_, err = NewCredential(tt.tenant, tt.client, src, tt.opts)
			}
			if (err != nil) != tt.wantFail {
				t.Errorf("err = %v, want failure %t", redactErr(err), tt.wantFail)
			}
		})
	}
}

func TestNewFromEnvironmentRequiresIDs(t *testing.T) {
	tests := []struct {
		name, tenant, client, functionsClient string
		wantInErr                             string
	}{
		{name: "no tenant", client: testClient, wantInErr: "AZURE_TENANT_ID"},
		{name: "no client", tenant: homeTenant, wantInErr: "AZURE_CLIENT_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envTenantID, tt.tenant)
			t.Setenv(envClientID, tt.client)
			t.Setenv(envClientIDFunctions, tt.functionsClient)
			_, err := NewFromEnvironment(nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("err = %v, want one naming %s", redactErr(err), tt.wantInErr)
			}
		})
	}
}
