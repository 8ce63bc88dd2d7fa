package federated

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// stubEntra answers every token request in process, without a network: a
// token, or AADSTS90002 for tenants named "missing-…". It isolates the
// credential's cost per new key from Entra's.
type stubEntra struct{}

func (stubEntra) Do(req *http.Request) (*http.Response, error) {
	body := `{"token_type":"Bearer","expires_in":3600,"access_token":"stub-token"}`
	status := http.StatusOK
	if strings.Contains(req.URL.Path, "/missing-") {
		status = http.StatusBadRequest
		body = `{"error":"invalid_request","error_description":"AADSTS90002: Tenant not found.","error_codes":[90002]}`
	}
	return &http.Response{
		StatusCode: status, Request: req, ContentLength: int64(len(body)),
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(body)),
	}, nil
}

// BenchmarkNewTenants measures what a new tenant costs as the cache grows
// (issue 11, finding 5: 16,000 tenants took 22.8 s and 11.7 GiB because
// every new key copied the table; 30,000 took 134 s). Each iteration fills a
// fresh Credential with n distinct tenants, then as many that fail
// (AADSTS90002), and reports the cost per key; the per-key figures must stay
// flat from 16k to 100k. Run it with -benchtime 1x.
func BenchmarkNewTenants(b *testing.B) {
	for _, n := range []int{16_000, 30_000, 100_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			tenants := make([]policy.TokenRequestOptions, n)
			missing := make([]policy.TokenRequestOptions, n)
			for i := range tenants {
				tenants[i] = policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: fmt.Sprintf("tenant-%06d", i)}
				missing[i] = policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: fmt.Sprintf("missing-%06d", i)}
			}
			ctx := context.Background()
			b.ReportAllocs()
			var failedTime time.Duration
			for b.Loop() {
				c, err := NewCredential(homeTenant, testClient, newCountingSource(), &Options{
					ClientOptions:              policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: "https://login.example"}, Transport: stubEntra{}, Retry: policy.RetryOptions{MaxRetries: -1}},
					AdditionallyAllowedTenants: []string{"*"},
				})
				if err != nil {
					b.Fatal(redactErr(err))
				}
				for i := range tenants {
					if _, err := c.GetToken(ctx, tenants[i]); err != nil {
						b.Fatal(redactErr(err))
					}
				}
				start := time.Now()
				for i := range missing {
					if _, err := c.GetToken(ctx, missing[i]); err == nil {
						b.Fatal("a missing tenant got a token")
					}
				}
				failedTime += time.Since(start)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*n), "ns/key")
			b.ReportMetric(float64(failedTime.Nanoseconds())/float64(b.N*n), "ns/failed-key")
		})
	}
}
