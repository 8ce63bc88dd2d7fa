package bench

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// The tests here pin down the round-trip counts the benchmarks report, so
// that `go test` (which does not run benchmarks) still fails when a count
// changes. azidentity's managed-identity request is cached process-wide by
// MSAL, so its count is 0 or 1 depending on which test ran first.

func TestFirstTokenRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name   string
		want   requestCounts
		msiMax int // azidentity: MSAL's process-wide cache may already hold the assertion
	}{
		{"tenantbridge", requestCounts{msi: 1, entra: 1, tokens: 1}, 1},
		{"azidentity", requestCounts{entra: 2, tokens: 1, discovery: 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			cred := newCredential(t, tc.name, fakeidp.DefaultConsentedTenantID)
			if _, err := cred.GetToken(t.Context(), graphRequest); err != nil {
				t.Fatal(err)
			}
			got := countRequests(srv)
			if got.msi > tc.msiMax {
				t.Errorf("%d managed-identity requests, want at most %d", got.msi, tc.msiMax)
			}
			if tc.name == "azidentity" {
				got.msi = 0
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(requestCounts{})); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHundredTenantsRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name string
		want requestCounts
	}{
		{"tenantbridge", requestCounts{msi: 1, entra: tenantCount, tokens: tenantCount}},
		{"azidentity", requestCounts{entra: 2 * tenantCount, tokens: tenantCount, discovery: tenantCount}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetRequests()
			cred := newCredential(t, tc.name, fakeidp.DefaultHomeTenantID, "*")
			for _, tenant := range manyTenants {
				tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant})
				if err != nil {
					t.Fatalf("tenant %s: %v", tenant, err)
				}
				if tok.Token == "" {
					t.Fatalf("tenant %s: empty token", tenant)
				}
			}
			got := countRequests(srv)
			if tc.name == "azidentity" {
				got.msi = 0
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(requestCounts{})); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColdStampedeMakesOneRequestOfEachKind(t *testing.T) {
	srv.ResetRequests()
	cred := newTenantbridge(t, srv, fakeidp.DefaultConsentedTenantID)
	if err := stampede(t.Context(), cred, 1000); err != nil {
		t.Fatal(err)
	}
	want := requestCounts{msi: 1, entra: 1, tokens: 1}
	if diff := cmp.Diff(want, countRequests(srv), cmp.AllowUnexported(requestCounts{})); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func newCredential(t *testing.T, name, tenant string, allowed ...string) azcore.TokenCredential {
	for _, c := range constructors {
		if c.name == name {
			return c.new(t, tenant, allowed...)
		}
	}
	t.Fatalf("no constructor %q", name)
	return nil
}
