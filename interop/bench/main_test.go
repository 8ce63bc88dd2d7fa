package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// srv serves every benchmark that involves azidentity: MSAL Go's process-wide
// managed-identity cache would present one server's assertion to another.
var srv *fakeidp.Server

// manyTenants are the 100 consented remote tenants of Benchmark100Tenants.
var manyTenants []string

const (
	graphScope    = "https://graph.microsoft.com/.default"
	exchangeScope = fakeidp.TokenExchangeAudience + "/.default"
	tenantCount   = 100
)

var graphRequest = policy.TokenRequestOptions{Scopes: []string{graphScope}}

func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "MSI_") || strings.HasPrefix(k, "IDENTITY_") || k == "IMDS_ENDPOINT" {
			os.Unsetenv(k)
		}
	}
	sc := fakeidp.DefaultScenario()
	manyTenants = addConsentedTenants(sc, tenantCount)
	// FAKEIDP_KEY_BITS=1024 makes the emulator's signature (about 0.7 ms with
	// Entra's 2048-bit keys, paid by every issued token) four times cheaper,
	// so cold benchmarks measure more of the clients and less of the fake.
	opts := &fakeidp.Options{}
	if v := os.Getenv("FAKEIDP_KEY_BITS"); v != "" {
		if _, err := fmt.Sscan(v, &opts.SigningKeyBits); err != nil {
			fmt.Fprintln(os.Stderr, "bench: FAKEIDP_KEY_BITS:", err)
			os.Exit(2)
		}
	}
	var err error
	srv, err = fakeidp.New(sc, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: starting fakeidp:", err)
		os.Exit(1)
	}
	// azidentity reads the App Service variables; tenantbridge gets the same
	// endpoint through AppServiceOptions so that other servers can coexist.
	os.Setenv("IDENTITY_ENDPOINT", srv.AppServiceEndpoint())
	os.Setenv("IDENTITY_HEADER", srv.IdentityHeader())
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// addConsentedTenants adds n tenants that granted the default app
// Device.Read.All and returns their IDs.
func addConsentedTenants(sc *fakeidp.Scenario, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-5555-5555-5555-555555555555", 0x50000000+i)
		sc.Tenants = append(sc.Tenants, fakeidp.Tenant{ID: ids[i], DisplayName: fmt.Sprintf("bench tenant %03d", i)})
		sc.Consents = append(sc.Consents, fakeidp.Consent{Tenant: ids[i], ClientID: fakeidp.DefaultAppClientID, Roles: []string{"Device.Read.All"}})
	}
	return ids
}

func entraOptions(s *fakeidp.Server) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"},
		Transport: s.Client(),
	}
}

// newAzidentity is the anchor: ManagedIdentityCredential (App Service)
// feeding ClientAssertionCredential, as DESIGN.md describes the status quo.
func newAzidentity(tb testing.TB, tenant string, allowed ...string) azcore.TokenCredential {
	tb.Helper()
	mi, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := azidentity.NewClientAssertionCredential(tenant, fakeidp.DefaultAppClientID,
		func(ctx context.Context) (string, error) {
			tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{exchangeScope}})
			return tok.Token, err
		},
		&azidentity.ClientAssertionCredentialOptions{
			ClientOptions:              entraOptions(srv),
			DisableInstanceDiscovery:   true,
			AdditionallyAllowedTenants: allowed,
		})
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// newTenantbridge is the same flow with federated.NewCredential and
// assertion.AppService, against s.
func newTenantbridge(tb testing.TB, s *fakeidp.Server, tenant string, allowed ...string) *federated.Credential {
	tb.Helper()
	src, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: s.AppServiceEndpoint(), IdentityHeader: s.IdentityHeader()})
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := federated.NewCredential(tenant, fakeidp.DefaultAppClientID, src, &federated.Options{
		ClientOptions:              entraOptions(s),
		AdditionallyAllowedTenants: allowed,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// requestCounts counts what s saw since its last ResetRequests.
type requestCounts struct{ msi, entra, tokens, discovery int }

func countRequests(s *fakeidp.Server) requestCounts {
	var c requestCounts
	for _, r := range s.Requests() {
		switch {
		case r.Listener == "msi":
			c.msi++
		case strings.HasSuffix(r.Path, "/oauth2/v2.0/token"):
			c.entra++
			c.tokens++
		default:
			c.entra++
			c.discovery++
		}
	}
	return c
}

// reportRequests reports c per benchmark iteration.
func reportRequests(b *testing.B, c requestCounts) {
	n := float64(b.N)
	b.ReportMetric(float64(c.msi)/n, "msi-req/op")
	b.ReportMetric(float64(c.entra)/n, "entra-req/op")
	b.ReportMetric(float64(c.msi+c.entra)/n, "req/op")
}
