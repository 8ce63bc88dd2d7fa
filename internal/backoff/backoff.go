// Package backoff holds the waiting between retries: [Sleep], a wait that a
// context ends early, and [Exponential], the capped doubling delay. It is the
// one implementation of both in the module; the Retry-After header that can
// override the delay is read by internal/retryafter.
//
//	d := backoff.Exponential(attempt, time.Second, 30*time.Second)
//	if err := backoff.Sleep(ctx, d); err != nil {
//		return err // the caller gave up
//	}
package backoff

import (
	"context"
	"time"
)

// Sleep waits d or until ctx is done, whichever comes first, and returns
// ctx.Err() in the second case. An ended context wins even when d is 0 or
// negative, so a retry loop that sleeps 0 still stops for a caller who left.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Exponential returns base·2^attempt, at most limit: attempt 0 waits base,
// attempt 1 twice base, and so on. It cannot overflow, whatever attempt is.
// A negative attempt counts as 0; a base of 0 or less gives 0.
func Exponential(attempt int, base, limit time.Duration) time.Duration {
	if base <= 0 || limit <= 0 {
		return 0
	}
	d := min(base, limit)
	for range max(attempt, 0) {
		if d > limit/2 {
			return limit // doubling would pass the cap (or overflow)
		}
		d *= 2
	}
	return d
}
