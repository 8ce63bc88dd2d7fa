package graphlite

import (
	"context"
	"net/http"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/backoff"
	"github.com/tenantbridge/tenantbridge/internal/retryafter"
)

// Batch sends up to [MaxBatchRequests] GETs in one POST {BaseURL}/$batch and
// returns their responses in the order of reqs, each with its own status.
// The error is for the batch as a whole; see [BatchResponse.Err] for each part.
//
// Graph counts every request of a batch against its limits on its own, so
// one item can be throttled while the others succeed. Items answered 429 or
// 503 are sent again, in a smaller batch of just them, after the longest of
// their own Retry-After values (capped at [ThrottleOptions].MaxDelay; backing
// off exponentially when they name none), up to ThrottleOptions.MaxRetries
// times. A retry that could not end before ctx's deadline is not started:
// the items keep their 429, as does an item whose retry batch failed as a
// whole, so that the other items' answers are never lost.
func (c *Client) Batch(ctx context.Context, reqs []BatchRequest) ([]BatchResponse, error) {
	res, err := c.batchOnce(ctx, reqs)
	if err != nil {
		return nil, err
	}
	o := c.throttle.o
	for try := 0; try < o.MaxRetries; try++ {
		var again []int
		var wait time.Duration
		now := o.Clock()
		for i, r := range res {
			if r.Status != http.StatusTooManyRequests && r.Status != http.StatusServiceUnavailable {
				continue
			}
			h := r.header()
			if o.Observe != nil {
				if t, ok := throttleOf(r.Status, h, now); ok {
					o.Observe(t)
				}
			}
			d, ok := retryafter.Capped(h, now, o.MaxDelay)
			if !ok {
				d = backoff.Exponential(try, o.BaseDelay, o.MaxDelay)
			}
			wait = max(wait, d)
			again = append(again, i)
		}
		if len(again) == 0 {
			break
		}
		if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
			break
		}
		if err := o.Wait(ctx, wait); err != nil {
			break
		}
		sub := make([]BatchRequest, len(again))
		for j, i := range again {
			sub[j] = reqs[i]
			sub[j].ID = res[i].ID // the ID the caller gave or its position
		}
		subRes, err := c.batchOnce(ctx, sub)
		if err != nil {
			break
		}
		for j, i := range again {
			res[i] = subRes[j]
		}
	}
	return res, nil
}

// header returns the response's headers as an http.Header.
func (r BatchResponse) header() http.Header {
	h := make(http.Header, len(r.Headers))
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return h
}
