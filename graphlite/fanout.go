package graphlite

import (
	"context"
	"sync"
)

// TenantResult is the outcome of FanOut's function for one tenant.
type TenantResult[T any] struct {
	Tenant string
	Value  T
	Err    error
}

// FanOut runs fn once per tenant, at most parallelism at a time (0 or less
// means 4), and returns the results in the order of tenants. A failing tenant
// does not stop the others; each result carries its own error. When ctx is
// done, the tenants not yet started get ctx.Err() without running fn.
//
// graphlite does not know how tokens for a tenant are made; fn does. With a
// credential that can be bound to one tenant (federated.Credential's
// ForTenant, or azidentity credentials with AdditionallyAllowedTenants),
// build one client per tenant inside fn:
//
//	results := graphlite.FanOut(ctx, tenants, 8, func(ctx context.Context, tenant string) (int, error) {
//		client, err := graphlite.New(cred.ForTenant(tenant), opts)
//		if err != nil {
//			return 0, err
//		}
//		n := 0
//		for _, err := range client.Devices(ctx, nil) {
//			if err != nil {
//				return n, err
//			}
//			n++
//		}
//		return n, nil
//	})
func FanOut[T any](ctx context.Context, tenants []string, parallelism int, fn func(ctx context.Context, tenant string) (T, error)) []TenantResult[T] {
	if parallelism <= 0 {
		parallelism = 4
	}
	results := make([]TenantResult[T], len(tenants))
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i, tenant := range tenants {
		results[i].Tenant = tenant
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i].Err = ctx.Err()
			continue
		}
		if err := ctx.Err(); err != nil {
			<-sem
			results[i].Err = err
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i].Value, results[i].Err = fn(ctx, tenant)
		})
	}
	wg.Wait()
	return results
}
