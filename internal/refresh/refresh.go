// Package refresh is the one cache engine behind assertion.Cached and the
// token cache of federated.Credential: a value per key, served lock-free,
// fetched once per miss however many callers ask, and renewed ahead of expiry
// in the background while callers keep the valid one.
//
//	var t refresh.Table[key, token]
//	tok, err := t.Get(ctx, host, &k) // host: the clock, the fetch, the log
//
// # Time
//
// The engine keeps times as a [time.Duration] since an epoch the [Host]
// chooses, and reads the clock once per call through [Host.Now]. A host whose
// epoch was read from time.Now can answer with time.Since(epoch): one
// monotonic clock read, where time.Now reads the wall clock too and costs
// twice as much (the clock was about half of a warm call). Tests answer from a
// fake clock, so nothing sleeps to reach an expiry.
//
// # The model
//
//   - Warm: a value before its [Lease.RefreshAt] costs one atomic load of the
//     entry's state and one clock read, takes no lock and allocates nothing
//     (a [Table] adds one atomic load of its index).
//   - Miss: no value, or one past [Lease.ExpiresAt]. Concurrent callers share
//     one call to [Host.Fetch] under the first caller's context; the others
//     wait for its result or for their own context, whichever ends first. A
//     waiter tries again (starts or joins the next fetch) only when the fetch
//     was abandoned, that is when the context it ran under had ended: an error
//     that merely matches context.DeadlineExceeded (an http.Client's Timeout)
//     is the fetch's answer and goes to every waiter, so that they do not
//     repeat, one after another, a request to a peer that is not answering.
//   - Refresh ahead, in the background: the first caller past RefreshAt
//     starts one goroutine that fetches a replacement while every caller, that
//     one included, keeps receiving the valid value. The goroutine fetches on
//     a context of its own, from context.Background and bounded by
//     [Options.RefreshBudget]: not the caller's, whose cancellation must not
//     reach it (that caller already has its answer) and whose values must not
//     either (azcore's runtime.WithCaptureResponse would have the refresh
//     write into a variable of a caller that has returned). If it fails, the failure is reported
//     to [Host.Observe] ([RefreshFailed]), the valid value is served until it
//     expires, and the next attempt waits [Options.RetryInterval], so that a
//     peer that is down sees one request per key per interval rather than one
//     per call. A caller whose value expires while the refresh is in flight
//     joins it as on any miss. Refreshing synchronously, in the first caller
//     past RefreshAt, would make that caller pay a round trip for a value it
//     did not need yet, and carry its deadline into a fetch everyone shares.
//   - A value that has already expired when its fetch returns is given to the
//     callers of that fetch but not kept.
//
// # Panics
//
// One rule, on the synchronous and the background path alike: a panic in
// [Host.Fetch] is recovered (by internal/recovered) and becomes the error of
// that fetch, returned to every caller waiting for it (the one that ran it
// too) and matching recovered.ErrPanicked; the waiters are released and the
// process does not die. The error quotes the panic value only through
// leak.Clip: redacted and clipped to 200 bytes. A fetch that calls
// runtime.Goexit ends its own goroutine, but its waiters are released with an
// error too. A panic in [Host.Observe] is dropped: logging must not break the
// cache. A fetch that bypasses the cache follows the same rule through
// recovered.Call.
//
// # Invalidation
//
// [Cell.Invalidate] drops the value only if it is still the one the caller
// judged (a compare-and-swap against that exact state), so a late report never
// discards a newer value. A fetch publishes its value and ends its flight
// under one lock: a caller that reads the new value, invalidates it and misses
// cannot find that flight still open and be handed the value it just
// invalidated.
package refresh

import (
	"context"
	"time"
)

// Lease is a fetched value and its schedule on the host's clock (see
// [Host.Now]).
type Lease[V any] struct {
	Value V
	// RefreshAt is when one caller starts fetching a replacement in the
	// background while Value is still served. At or after ExpiresAt: never.
	RefreshAt time.Duration
	// ExpiresAt is when Value stops being served; callers then wait for a
	// fetch. A lease that has expired when its fetch returns is not kept.
	ExpiresAt time.Duration
}

// Host is what the engine asks of its user. It is passed to every call
// rather than stored, so a Credential that holds its cache by value needs no
// pointer back to itself, and an implementation is usually a one-pointer
// struct, which converts to Host without allocating.
type Host[K comparable, V any] interface {
	// Now returns the current time as a duration since the host's epoch; the
	// leases the host returns are on the same clock. It is called once on the
	// warm path, so it should be cheap.
	Now() time.Duration
	// Fetch obtains a new value for key. ctx is the context of the caller who
	// started the fetch, or for a background refresh a new context, from
	// context.Background and bounded by [Options.RefreshBudget], that carries
	// neither the cancellation nor the values of the caller who triggered it
	// (see the package doc). A panic is recovered (see the package doc).
	Fetch(ctx context.Context, key K) (Lease[V], error)
	// Observe receives the engine's events, for logs and tests. It is never
	// called on the warm path, may run on a background goroutine, and must not
	// block.
	Observe(Event[K, V])
}

// EventKind says what happened in an [Event].
type EventKind int

const (
	// Miss: a caller found no valid value and starts a fetch.
	Miss EventKind = iota + 1
	// Join: a caller found a fetch in flight and waits for it.
	Join
	// Refresh: a background refresh starts its fetch.
	Refresh
	// RefreshFailed: a background refresh failed (Err says why, Kept is the
	// value still served).
	RefreshFailed
)

// Event is one thing the engine did, reported to [Host.Observe].
type Event[K comparable, V any] struct {
	Kind EventKind
	Key  K
	// Err is why a refresh failed (RefreshFailed only).
	Err error
	// Kept is, for RefreshFailed, the lease callers keep receiving until it
	// expires; nil if there is none (it was invalidated meanwhile). It is
	// shared with the cache: read it, never modify it.
	Kept *Lease[V]
}

// Options tunes a [Cell] or a [Table]. Zero fields mean defaults. Set them
// before the first call; they are read without a lock.
type Options struct {
	// Name prefixes the errors the engine itself makes (a recovered panic, a
	// waiter's ended context), for example "federated: token request".
	Name string
	// RefreshBudget bounds one background refresh, retries included; 0 means
	// [DefaultRefreshBudget].
	RefreshBudget time.Duration
	// RetryInterval is how long after a failed background refresh the next
	// one may start; 0 means [DefaultRetryInterval].
	RetryInterval time.Duration
}

const (
	// DefaultRefreshBudget is the default [Options.RefreshBudget].
	DefaultRefreshBudget = 2 * time.Minute
	// DefaultRetryInterval is the default [Options.RetryInterval].
	DefaultRetryInterval = 30 * time.Second
)

func (o *Options) name() string {
	if o.Name == "" {
		return "refresh: fetch"
	}
	return o.Name
}

func (o *Options) budget() time.Duration {
	if o.RefreshBudget > 0 {
		return o.RefreshBudget
	}
	return DefaultRefreshBudget
}

func (o *Options) retryInterval() time.Duration {
	if o.RetryInterval > 0 {
		return o.RetryInterval
	}
	return DefaultRetryInterval
}
