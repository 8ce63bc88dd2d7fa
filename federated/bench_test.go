package federated

import (
	"context"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// warmCredential returns a Credential with a cached Graph token.
func warmCredential(b *testing.B) *Credential {
	b.Helper()
	ts := newTokenServer(b)
	c, err := NewCredential(homeTenant, testClient, newCountingSource(), &Options{
		ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: ts.URL}, Transport: ts.Client()},
	})
	if err != nil {
		b.Fatal(redactErr(err))
	}
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		b.Fatal(redactErr(err))
	}
	return c
}

// BenchmarkGetTokenWarm measures a cached GetToken: the cost every Azure SDK
// request pays through BearerTokenPolicy.
func BenchmarkGetTokenWarm(b *testing.B) {
	c := warmCredential(b)
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetToken(ctx, opts); err != nil {
			b.Fatal(redactErr(err))
		}
	}
}

// BenchmarkGetTokenWarmParallel shows that cached calls do not contend: there
// is no lock on the warm path, only atomic loads.
func BenchmarkGetTokenWarmParallel(b *testing.B) {
	c := warmCredential(b)
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetToken(ctx, opts); err != nil {
				b.Error(redactErr(err))
				return
			}
		}
	})
}

// BenchmarkGetTokenWarm100Tenants measures the warm path once the cache holds
// more keys than its linear table and uses a map.
func BenchmarkGetTokenWarm100Tenants(b *testing.B) {
	c := warmCredential(b)
	c.allowAny = true
	ctx := context.Background()
	opts := make([]policy.TokenRequestOptions, 100)
	for i := range opts {
		opts[i] = policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: fmt.Sprintf("tenant-%03d", i)}
		if _, err := c.GetToken(ctx, opts[i]); err != nil {
			b.Fatal(redactErr(err))
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.GetToken(ctx, opts[i%len(opts)]); err != nil {
			b.Fatal(redactErr(err))
		}
		i++
	}
}
