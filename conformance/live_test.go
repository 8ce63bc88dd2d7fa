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
//	go test -tags live -race -run Live ./conformance

package conformance

import (
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/internal/tenantlist"
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
	return tenantlist.Parse(os.Getenv("TENANTBRIDGE_LIVE_TENANTS"))
}

func TestLiveSource(t *testing.T) {
	liveEnv(t)
	TestSource(t, func(t *testing.T) assertion.Source {
		src, err := assertion.FromEnvironment()
		if err != nil {
			t.Fatal(err)
		}
		return src
	}, &SourceOptions{Audience: assertion.ResourceAzurePublic})
}

func TestLiveCredential(t *testing.T) {
	liveEnv(t, "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "TENANTBRIDGE_LIVE_TENANTS")
	tenants := liveTenants()
	var requests atomic.Int64
	transport := countingTransport{n: &requests, next: &http.Client{
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	TestCredential(t, func(t *testing.T) azcore.TokenCredential {
		cred, err := federated.NewFromEnvironment(&federated.Options{
			ClientOptions:              azcore.ClientOptions{Transport: transport},
			AdditionallyAllowedTenants: tenants,
		})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}, &CredentialOptions{
		Tenants: append([]string{os.Getenv("AZURE_TENANT_ID")}, tenants...),
		// A tenant the credential was not configured for: refused before
		// any request.
		DisallowedTenant: "00000000-0000-0000-0000-000000000001",
		RequireJWT:       true,
		ExpectCaching:    true,
		Requests:         func() int { return int(requests.Load()) },
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
