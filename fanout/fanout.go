// Package fanout runs one function per tenant, a bounded number at a time,
// and collects every tenant's result, so that one failing tenant does not
// hide the others. It knows nothing of tokens or Graph: the function does.
//
//	results := fanout.Run(ctx, tenants, nil, func(ctx context.Context, tenant string) (int, error) {
//		client, err := graphlite.New(cred.ForTenant(tenant), opts)
//		...
//	})
//	for _, r := range results {
//		if r.Err != nil { ... }
//	}
package fanout

import (
	"context"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/recovered"
)

// DefaultParallelism is the number of tenants [Run] and [Stream] work on at
// once when Parallelism is 0. Each tenant's work is mostly waiting for the
// network (a token request, Graph pages of 100 ms or more), so the bound is
// set by the services' limits rather than by CPUs: at 4, a sweep of a
// thousand tenants with 150 ms pages took seven times as long as at 32.
const DefaultParallelism = 32

// Options configure [Run]. nil and zero fields mean defaults.
type Options struct {
	// Parallelism bounds how many calls of the function run at once; 0 or
	// less means [DefaultParallelism].
	Parallelism int
}

// Result is the outcome of the function for one tenant.
type Result[T any] struct {
	Tenant string
	Value  T
	Err    error
	// Index is the tenant's position in the tenants given to [Run] or
	// [Stream] (which yields in the order tenants finish).
	Index int
	// Attempts is how often the function ran for the tenant ([Stream] runs
	// a throttled tenant again; 0 when it never started). Duration is how
	// long its last run took.
	Attempts int
	Duration time.Duration
}

// Run calls fn once per entry of tenants, at most [Options.Parallelism] at a
// time, and returns the results in the order of tenants (a tenant listed
// twice runs twice). A failing tenant does not stop the others; each result
// carries its own error. When ctx is done, the tenants not yet started get
// ctx.Err() without running fn. A panic in fn, or a call of runtime.Goexit,
// becomes that tenant's error (the panic value redacted and clipped), so one
// tenant cannot crash the program of every other or pass for a success.
//
// Run returns when every started call has returned; fn must honour ctx.
func Run[T any](ctx context.Context, tenants []string, opts *Options, fn func(ctx context.Context, tenant string) (T, error)) []Result[T] {
	parallelism := DefaultParallelism
	if opts != nil && opts.Parallelism > 0 {
		parallelism = opts.Parallelism
	}
	results := make([]Result[T], len(tenants))
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for i, tenant := range tenants {
		results[i].Tenant, results[i].Index = tenant, i
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i].Err = ctx.Err()
			continue
		}
		// Both cases of the select can be ready at once; an ended context
		// wins, so no tenant starts after the caller gave up.
		if err := ctx.Err(); err != nil {
			<-sem
			results[i].Err = err
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &results[i]
			r.Attempts = 1
			began := time.Now()
			defer func() { r.Duration = time.Since(began) }()
			recovered.Into("fanout: the function for tenant "+tenant, &r.Value, &r.Err, func() (T, error) {
				return fn(ctx, tenant)
			})
		})
	}
	wg.Wait()
	return results
}
