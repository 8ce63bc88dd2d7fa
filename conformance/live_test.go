//go:build live

// The live suites run the same checks against real Azure. They are compiled
// only with the build tag "live", so an ordinary go test neither runs nor
// counts them as passed; with the tag, missing settings fail the test rather
// than skip it, so a misconfigured live job cannot go green.
//
// Run on an Azure host whose managed identity is trusted by the app's
// federated credential (a Function App, a VM, an AKS pod with workload
// identity), for example in a Functions custom handler's CI slot:
//
//	TENANTBRIDGE_LIVE=1 \
//	AZURE_TENANT_ID=<home tenant> AZURE_CLIENT_ID=<multi-tenant app> \
//	TENANTBRIDGE_LIVE_TENANTS=<consented tenant>[,<another>] \
//	[TENANTBRIDGE_LIVE_FAILING_TENANT=<a tenant that did not consent>] \
//	go test -tags live -race -run Live ./conformance
//
// The source's signature is checked against the keys Entra publishes for
// the token's issuer (discovered from its iss), and with AZURE_TENANT_ID and
// AZURE_CLIENT_ID set the assertion is exchanged at the home tenant's token
// endpoint. With TENANTBRIDGE_LIVE_FAILING_TENANT the credential is allowed
// that tenant and must surface Entra's refusal (AADSTS700016, or the code in
// TENANTBRIDGE_LIVE_FAILING_CODE) as a *federated.AuthError.

package conformance

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/federated"
)

// liveEnv fails the test unless live mode is asked for and configured.
func liveEnv(t *testing.T, names ...string) {
	t.Helper()
	if os.Getenv("TENANTBRIDGE_LIVE") != "1" {
		t.Fatal("built with -tags live but TENANTBRIDGE_LIVE is not 1: set it to run against real Azure, or build without the tag")
	}
	for _, n := range names {
		if os.Getenv(n) == "" {
			t.Fatalf("live mode needs %s", n)
		}
	}
}

func liveTenants() []string {
	var out []string
	for _, t := range strings.FieldsFunc(os.Getenv("TENANTBRIDGE_LIVE_TENANTS"), func(r rune) bool { return r == ',' || r == ';' }) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func TestLiveSource(t *testing.T) {
	liveEnv(t)
	TestSource(t, func(t *testing.T) assertion.Source {
		src, err := assertion.FromEnvironment()
		if err != nil {
			t.Fatal(err)
		}
		return src
	}, liveSourceOptions())
}

// liveAuthority is AZURE_AUTHORITY_HOST, else Entra's public cloud.
func liveAuthority() string {
	if h := os.Getenv("AZURE_AUTHORITY_HOST"); h != "" {
		return strings.TrimSuffix(h, "/")
	}
	return "https://login.microsoftonline.com"
}

func liveSourceOptions() *SourceOptions {
	o := &SourceOptions{Audience: assertion.ResourceAzurePublic}
	if tenant, app := os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"); tenant != "" && app != "" {
		o.TokenEndpoint = liveAuthority() + "/" + tenant + "/oauth2/v2.0/token"
		o.ExchangeClientID = app
	}
	return o
}

func TestLiveCredential(t *testing.T) {
	liveEnv(t, "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "TENANTBRIDGE_LIVE_TENANTS")
	tenants := liveTenants()
	failing := os.Getenv("TENANTBRIDGE_LIVE_FAILING_TENANT")
	failingCode := 700016
	if c := os.Getenv("TENANTBRIDGE_LIVE_FAILING_CODE"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			t.Fatalf("TENANTBRIDGE_LIVE_FAILING_CODE=%q is not an AADSTS number", c)
		}
		failingCode = n
	}
	allowed := tenants
	if failing != "" {
		allowed = append(allowed[:len(allowed):len(allowed)], failing)
	}
	var requests atomic.Int64
	transport := countingTransport{n: &requests, next: &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	TestCredential(t, func(t *testing.T) azcore.TokenCredential {
		cred, err := federated.NewFromEnvironment(&federated.Options{
			ClientOptions:              azcore.ClientOptions{Transport: transport},
			AdditionallyAllowedTenants: allowed,
		})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}, &CredentialOptions{
		Tenants: append([]string{os.Getenv("AZURE_TENANT_ID")}, tenants...),
		// A tenant the credential was not configured for: refused before
		// any request.
		DisallowedTenant:  "00000000-0000-0000-0000-000000000001",
		RequireJWT:        true,
		ExpectCaching:     true,
		Requests:          func() int { return int(requests.Load()) },
		FailingTenant:     failing,
		FailingTenantCode: failingCode,
	})
}

// countingTransport counts the token requests that reach Entra.
type countingTransport struct {
	n    *atomic.Int64
	next *http.Client
}

func (c countingTransport) Do(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.Do(req)
}
