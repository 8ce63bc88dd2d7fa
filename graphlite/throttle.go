package graphlite

import (
	"context"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/internal/backoff"
	"github.com/tenantbridge/tenantbridge/internal/retryafter"
)

// ThrottleOptions configure the retries of 429 Too Many Requests and 503
// Service Unavailable, the two statuses Graph throttles with
// (learn.microsoft.com/graph/throttling). They are a policy of their own, not
// azcore's retry policy, because azcore gives up at once when Retry-After is
// longer than its MaxRetryDelay, where Graph expects the client to wait (up
// to MaxDelay here). Zero fields mean defaults.
type ThrottleOptions struct {
	// MaxRetries is the number of retries after the first try; default 4
	// (none when [Options].Retry.MaxRetries is -1), negative means none.
	MaxRetries int
	// BaseDelay is the first wait when Graph sends no Retry-After; each retry
	// doubles it. Default 1s.
	BaseDelay time.Duration
	// MaxDelay caps every wait, Retry-After included. Default 60s.
	MaxDelay time.Duration
	// Wait waits d or until ctx is done (returning ctx.Err()); nil means a
	// timer. It is an injection point: tests pass one that records d and
	// returns at once, so nothing sleeps.
	Wait func(ctx context.Context, d time.Duration) error
	// Clock tells the time for Retry-After dates; nil means [time.Now]. Tests
	// inject one to read an HTTP-date Retry-After deterministically.
	Clock func() time.Time
	// Observe, when set, is called with what every response (retried ones
	// included) said about Graph's limits, when it said anything
	// (x-ms-throttle-scope, x-ms-throttle-limit-percentage,
	// x-ms-resource-unit, or a 429/503). Wire it to a fanout.Pacer so that a
	// sweep slows down before Graph throttles it:
	//
	//	Observe: func(t graphlite.Throttle) { pacer.Observe(t.LimitPercentage, t.AppWide()) }
	//
	// It runs on the request's goroutine and must be safe for concurrent use.
	Observe func(Throttle)
}

type throttlePolicy struct{ o ThrottleOptions }

func newThrottlePolicy(o ThrottleOptions) *throttlePolicy {
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 60 * time.Second
	}
	if o.Wait == nil {
		o.Wait = backoff.Sleep
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &throttlePolicy{o: o}
}

func (p *throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	for try := 0; ; try++ {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		resp, err := req.Clone(ctx).Next()
		if err == nil && p.o.Observe != nil {
			if t, ok := throttleOf(resp.StatusCode, resp.Header, p.o.Clock()); ok {
				p.o.Observe(t)
			}
		}
		if err != nil || try >= p.o.MaxRetries ||
			(resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, err
		}
		d := p.delay(resp, try)
		// Drain a little so that the connection can be reused, then wait.
		closeBody(resp.Body)
		if err := p.o.Wait(ctx, d); err != nil {
			return nil, err
		}
	}
}

// delay is Retry-After (seconds, an HTTP date, or Retry-After-Ms) when Graph
// sends it, else BaseDelay·2^try; both capped at MaxDelay so that a server
// cannot park us.
func (p *throttlePolicy) delay(resp *http.Response, try int) time.Duration {
	if d, ok := retryafter.Capped(resp.Header, p.o.Clock(), p.o.MaxDelay); ok {
		return d
	}
	return backoff.Exponential(try, p.o.BaseDelay, p.o.MaxDelay)
}
