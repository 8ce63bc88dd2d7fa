package bench

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// warmCredentials returns both credentials with a cached Graph token for the
// consented tenant.
func warmCredentials(b *testing.B) map[string]azcore.TokenCredential {
	creds := map[string]azcore.TokenCredential{
		"azidentity":   newAzidentity(b, fakeidp.DefaultConsentedTenantID),
		"tenantbridge": newTenantbridge(b, srv, fakeidp.DefaultConsentedTenantID),
	}
	for name, c := range creds {
		if _, err := c.GetToken(b.Context(), graphRequest); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
	}
	return creds
}

// BenchmarkWarmGetToken is the call every Azure SDK request makes: a cached
// token for one tenant and scope.
func BenchmarkWarmGetToken(b *testing.B) {
	creds := warmCredentials(b)
	for _, name := range []string{"azidentity", "tenantbridge"} {
		cred := creds[name]
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cred.GetToken(ctx, graphRequest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWarmGetTokenParallel is BenchmarkWarmGetToken from GOMAXPROCS
// goroutines at once, as a server handling requests concurrently calls it.
func BenchmarkWarmGetTokenParallel(b *testing.B) {
	creds := warmCredentials(b)
	for _, name := range []string{"azidentity", "tenantbridge"} {
		cred := creds[name]
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cred.GetToken(ctx, graphRequest); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
