package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
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
//
// MSAL Go keeps managed-identity tokens in a process-wide cache, so fresh
// azidentity credentials still reuse the assertion fetched by an earlier
// iteration: its msi-req/op is ~0, which a real cold start (a new process)
// would not get. tenantbridge/shared-assertion gives tenantbridge the same
// advantage (one assertion.Cached source shared by the fresh credentials), to
// compare like with like.
func BenchmarkFirstToken(b *testing.B) {
	shared, err := assertion.AppService(&assertion.AppServiceOptions{Endpoint: srv.AppServiceEndpoint(), IdentityHeader: srv.IdentityHeader()})
	if err != nil {
		b.Fatal(err)
	}
	shared = assertion.Cached(shared)
	cases := append(constructors[:len(constructors):len(constructors)], struct {
		name string
		new  func(tb testing.TB, tenant string, allowed ...string) azcore.TokenCredential
	}{"tenantbridge/shared-assertion", func(tb testing.TB, tenant string, allowed ...string) azcore.TokenCredential {
		cred, err := federated.NewCredential(tenant, fakeidp.DefaultAppClientID, shared, &federated.Options{ClientOptions: entraOptions(srv)})
		if err != nil {
			tb.Fatal(err)
		}
		return cred
	}})
	for _, c := range cases {
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
// refreshed ahead of expiry under constant load (GOMAXPROCS goroutines calling
// in a loop). It uses its own server whose tokens live 2 s (federated refreshes
// short tokens at half-life, so the refresh-ahead window opens after 1 s of
// real time: federated has no public clock to inject) and whose token endpoint
// answers after refreshLatency, so a caller that waited for the refresh would
// take at least that long. One op is one refresh, about 1.5 s.
//
// Metrics: max-ns is the longest call that started inside the refresh window
// (from RefreshOn until a caller saw the new token); baseline-max-ns the
// longest call before it, under the same load (scheduling noise on a shared
// machine); refresh-ns how long the window lasted; token-req/op the token
// requests made during the window (goal: exactly 1).
func BenchmarkRefreshUnderLoad(b *testing.B) {
	const refreshLatency = 500 * time.Millisecond
	s, err := fakeidp.New(nil, &fakeidp.Options{TokenLifetime: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("tenantbridge", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		var total loadResult
		var refreshes int
		for b.Loop() {
			cred := newTenantbridge(b, s, fakeidp.DefaultConsentedTenantID)
			first, err := cred.GetToken(ctx, graphRequest)
			if err != nil {
				b.Fatal(err)
			}
			s.ResetRequests()
			s.AddFault(fakeidp.Fault{Endpoint: "token", Latency: refreshLatency})
			r, err := loadUntilRefreshed(ctx, cred, first, runtime.GOMAXPROCS(0))
			s.ClearFaults()
			if err != nil {
				b.Fatal(err)
			}
			total.windowMax = max(total.windowMax, r.windowMax)
			total.baselineMax = max(total.baselineMax, r.baselineMax)
			total.window = max(total.window, r.window)
			refreshes += countRequests(s).tokens
		}
		b.ReportMetric(float64(total.windowMax.Nanoseconds()), "max-ns")
		b.ReportMetric(float64(total.baselineMax.Nanoseconds()), "baseline-max-ns")
		b.ReportMetric(float64(total.window.Nanoseconds()), "refresh-ns")
		b.ReportMetric(float64(refreshes)/float64(b.N), "token-req/op")
	})
}

// loadResult is what loadUntilRefreshed observed.
type loadResult struct {
	windowMax   time.Duration // longest call started at or after RefreshOn
	baselineMax time.Duration // longest call started before RefreshOn
	window      time.Duration // RefreshOn until the new token was first seen
}

// loadUntilRefreshed calls GetToken from workers goroutines in a loop until a
// token newer than old is served. It gives up after 10 s.
func loadUntilRefreshed(ctx context.Context, cred azcore.TokenCredential, old azcore.AccessToken, workers int) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		res   loadResult
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local loadResult
			defer func() {
				mu.Lock()
				res.windowMax = max(res.windowMax, local.windowMax)
				res.baselineMax = max(res.baselineMax, local.baselineMax)
				res.window = max(res.window, local.window)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				start := time.Now()
				tok, err := cred.GetToken(ctx, graphRequest)
				d := time.Since(start)
				if start.Before(old.RefreshOn) {
					local.baselineMax = max(local.baselineMax, d)
				} else {
					local.windowMax = max(local.windowMax, d)
				}
				if err != nil {
					mu.Lock()
					if first == nil && ctx.Err() == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				if tok.ExpiresOn.After(old.ExpiresOn) {
					local.window = time.Since(old.RefreshOn)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return res, first
	}
	if res.window == 0 {
		return res, fmt.Errorf("no refreshed token within 10 s")
	}
	return res, nil
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
