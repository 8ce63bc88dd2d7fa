package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/fakeidp"
)

// constructors build a fresh credential for tenant (and any allowed tenants).
var constructors = []struct {
	name string
	new  func(tb testing.TB, tenant string, allowed ...string) azcore.TokenCredential
}{
	{"azidentity", newAzidentity},
	{"tenantbridge", func(tb testing.TB, tenant string, allowed ...string) azcore.TokenCredential {
		return newTenantbridge(tb, srv, tenant, allowed...)
	}},
}

// BenchmarkFirstToken is a cold start: fresh credentials, first Graph token.
// req/op counts the round trips (managed identity, discovery, token).
func BenchmarkFirstToken(b *testing.B) {
	for _, c := range constructors {
		b.Run(c.name, func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			srv.ResetRequests()
			for b.Loop() {
				cred := c.new(b, fakeidp.DefaultConsentedTenantID)
				if _, err := cred.GetToken(ctx, graphRequest); err != nil {
					b.Fatal(err)
				}
			}
			reportRequests(b, countRequests(srv))
		})
	}
}

// Benchmark100Tenants gets a Graph token in each of 100 consented tenants with
// fresh credentials, one tenant after another (serial) and all at once
// (concurrent, one goroutine per tenant, as a fan-out over customers would).
func Benchmark100Tenants(b *testing.B) {
	for _, mode := range []string{"serial", "concurrent"} {
		for _, c := range constructors {
			b.Run(fmt.Sprintf("%s/%s", c.name, mode), func(b *testing.B) {
				ctx := b.Context()
				b.ReportAllocs()
				srv.ResetRequests()
				for b.Loop() {
					cred := c.new(b, fakeidp.DefaultHomeTenantID, "*")
					get := func(tenant string) error {
						_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant})
						return err
					}
					if mode == "serial" {
						for _, t := range manyTenants {
							if err := get(t); err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					errs := make(chan error, len(manyTenants))
					for _, t := range manyTenants {
						go func() { errs <- get(t) }()
					}
					for range manyTenants {
						if err := <-errs; err != nil {
							b.Fatal(err)
						}
					}
				}
				reportRequests(b, countRequests(srv))
			})
		}
	}
}

// BenchmarkColdStampede starts 1,000 goroutines on a fresh credential at once.
// The goal is one managed-identity request and one token request per op.
func BenchmarkColdStampede(b *testing.B) {
	const callers = 1000
	b.Run("tenantbridge", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		srv.ResetRequests()
		for b.Loop() {
			cred := newTenantbridge(b, srv, fakeidp.DefaultConsentedTenantID)
			if err := stampede(ctx, cred, callers); err != nil {
				b.Fatal(err)
			}
		}
		c := countRequests(srv)
		reportRequests(b, c)
		b.ReportMetric(float64(c.tokens)/float64(b.N), "token-req/op")
	})
}

// BenchmarkRefreshUnderLoad measures GetToken latency while a token is
// refreshed ahead of expiry under constant load. It uses its own server whose
// tokens live 2 s (federated refreshes short tokens at half-life, so the
// refresh-ahead window opens after 1 s of real time: federated has no public
// clock to inject) and whose token endpoint answers after 50 ms, so a caller
// that waited for the refresh would show a latency of at least 50 ms. One op
// is one refresh: about 1 s.
func BenchmarkRefreshUnderLoad(b *testing.B) {
	const refreshLatency = 50 * time.Millisecond
	s, err := fakeidp.New(nil, &fakeidp.Options{TokenLifetime: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("tenantbridge", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		var worst time.Duration
		var refreshes int
		for b.Loop() {
			cred := newTenantbridge(b, s, fakeidp.DefaultConsentedTenantID)
			first, err := cred.GetToken(ctx, graphRequest)
			if err != nil {
				b.Fatal(err)
			}
			s.ResetRequests()
			s.AddFault(fakeidp.Fault{Endpoint: "token", Latency: refreshLatency})
			max, err := loadUntilRefreshed(ctx, cred, first.ExpiresOn, 4)
			s.ClearFaults()
			if err != nil {
				b.Fatal(err)
			}
			worst = maxDuration(worst, max)
			refreshes += countRequests(s).tokens
		}
		b.ReportMetric(float64(worst.Nanoseconds()), "max-ns")
		b.ReportMetric(float64(refreshes)/float64(b.N), "token-req/op")
	})
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// loadUntilRefreshed calls GetToken from workers goroutines in a loop until a
// token newer than the one expiring at old is served, and returns the longest
// single call. It gives up after 10 s.
func loadUntilRefreshed(ctx context.Context, cred azcore.TokenCredential, old time.Time, workers int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		worst time.Duration
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local time.Duration
			defer func() {
				mu.Lock()
				worst = maxDuration(worst, local)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				start := time.Now()
				tok, err := cred.GetToken(ctx, graphRequest)
				local = maxDuration(local, time.Since(start))
				if err != nil {
					mu.Lock()
					if first == nil && ctx.Err() == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				if tok.ExpiresOn.After(old) {
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return worst, first
	}
	if ctx.Err() == context.DeadlineExceeded {
		return worst, fmt.Errorf("no refreshed token within 10 s")
	}
	return worst, nil
}

// stampede releases n goroutines at once on cred and waits for all of them.
func stampede(ctx context.Context, cred azcore.TokenCredential, n int) error {
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		go func() {
			<-start
			_, err := cred.GetToken(ctx, graphRequest)
			errs <- err
		}()
	}
	close(start)
	var all []error
	for range n {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if len(all) > 0 {
		return fmt.Errorf("%d of %d callers failed: %w", len(all), n, errors.Join(all[0]))
	}
	return nil
}
