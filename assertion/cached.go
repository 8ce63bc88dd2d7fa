package assertion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/refresh"
)

// CacheOptions configures [CachedWithOptions]. Nil or zero fields mean
// defaults.
type CacheOptions struct {
	// Clock returns the current time; nil means time.Now. Tests inject one to
	// move through expiry without sleeping.
	Clock func() time.Time
	// RefreshBefore is how long before expiry a refresh starts in the
	// background while callers keep the current assertion. 0 means 5
	// minutes; it is shortened to half the lifetime of short-lived assertions.
	// Values under one minute are raised to one minute: an assertion stops
	// being served 30 seconds before it expires, and the refresh must start
	// before that for callers to keep a valid one meanwhile.
	RefreshBefore time.Duration
	// Logger receives [EventAssertion] entries (a failed refresh ahead of
	// expiry, an assertion dropped by [Invalidator.Invalidate]); nil logs
	// nothing.
	Logger func(event log.Event, message string)
}

const (
	defaultRefreshBefore = 5 * time.Minute
	// expiryMargin is how long before expiry an assertion stops being served
	// at all, so that it is still valid when Entra receives it. Entra allows
	// little clock skew on client assertions (AADSTS700024).
	expiryMargin = 30 * time.Second
	// unknownLifetime is how long an assertion with neither ExpiresOn nor a
	// readable exp claim is reused.
	unknownLifetime = time.Minute
	// maxLifetime caps the lifetime read from an assertion, so that an
	// absurd exp cannot overflow the cache's clock arithmetic.
	maxLifetime = 100 * 365 * 24 * time.Hour
)

// ErrExpired is matched ([errors.Is]) by the error of a [Cached] source whose
// wrapped source returned an assertion that had already expired when it
// arrived. The error names the expiry, the local time and the clock skew they
// imply: an issuer that hands out expired tokens is rare, a machine whose
// clock is minutes off is not, and Entra would only answer AADSTS700024.
var ErrExpired = errors.New("assertion: the source returned an expired assertion")

// Invalidator is implemented by a caching [Source] that can be told its cached
// assertion was rejected, so that the next call fetches a fresh one instead of
// serving it until it expires. Entra rejects an assertion that is still within
// its exp when the issuer rotated its signing keys (AADSTS700027) or the clocks
// disagree (AADSTS700024); a managed-identity assertion lives 24 hours, so
// without this a cache would keep serving the rejected one for hours.
//
// A caching Source that implements Invalidator drops its cached assertion when
// it is token, so the next call fetches a fresh one; a token that is no longer
// the cached one is ignored, so a late report never discards a newer
// assertion. Invalidate is safe for concurrent use with Assertion, does not
// block on a fetch in flight, and neither keeps nor logs token.
type Invalidator interface {
	Invalidate(token string)
}

// Cached returns a [Source] that reuses src's assertion until shortly before
// it expires. The expiry is [Assertion].ExpiresOn, else the JWT's exp claim,
// else one minute after the fetch. If src is already a Cached source, Cached
// returns src itself: caches do not stack.
//
// Callers that find a valid assertion take no lock and allocate nothing.
// Concurrent callers during a miss share one call to src; its error goes to
// those callers and is not kept, so the next call tries again. Within
// RefreshBefore of expiry the first caller starts a refresh in the background
// (detached from its cancellation, bounded to two minutes), and every caller,
// that one included, keeps receiving the valid assertion meanwhile. A failed
// refresh is logged, the valid assertion is served until 30 seconds before it
// expires, and the refresh is tried again no sooner than 30 seconds later.
//
// An assertion that has already expired when src returns it is an error
// matching [ErrExpired] that names the clock skew it implies; like every
// error, it is not kept.
//
// A panic in src is recovered, on the background refresh too: the callers
// waiting for that fetch get an error saying the source panicked (its value
// redacted and clipped), and the program does not crash.
//
// The returned Source implements [Invalidator] (and passes the report on to
// src when src implements it too, so that a cache beneath this one is not left
// serving the rejected assertion).
func Cached(src Source) Source { return CachedWithOptions(src, nil) }

// CachedWithOptions is [Cached] with a clock, a refresh lead time and a
// logger. If src is already a Cached source it is returned unchanged and opts
// is ignored: the existing cache's options win, its Logger included, so that a
// cached source shared by several users stays one cache. federated's
// NewCredential relies on this: a source the caller cached keeps the Logger
// the caller gave it.
func CachedWithOptions(src Source, opts *CacheOptions) Source {
	if c, ok := src.(*cache); ok {
		return c
	}
	c := &cache{src: src, refreshBefore: defaultRefreshBefore}
	c.cell.Options.Name = "assertion: Cached: the source"
	if opts != nil {
		c.clock = opts.Clock
		if opts.RefreshBefore > 0 {
			c.refreshBefore = max(opts.RefreshBefore, 2*expiryMargin)
		}
		c.logger = opts.Logger
	}
	c.epoch = c.wall()
	return c
}

type cache struct {
	src           Source
	clock         func() time.Time // nil: time.Now
	epoch         time.Time        // c.wall() at creation; the engine's times are durations since then
	refreshBefore time.Duration
	logger        func(log.Event, string)
	cell          refresh.Cell[Assertion]

	// onWait, when set (by tests), is called as a caller starts waiting for
	// another caller's fetch.
	onWait func()
}

// Assertion returns the cached assertion or fetches one.
func (c *cache) Assertion(ctx context.Context) (Assertion, error) {
	return c.cell.Get(ctx, cacheHost{c})
}

// Invalidate drops the cached assertion if it is token (see [Invalidator]),
// after passing the report on to the wrapped source if it is an Invalidator.
// It takes no lock: a fetch in flight is not disturbed, and its result, being
// a new entry, is never dropped by a report about an older one.
func (c *cache) Invalidate(token string) {
	if inv, ok := c.src.(Invalidator); ok {
		inv.Invalidate(token)
	}
	if token == "" {
		return
	}
	if c.cell.Invalidate(func(a Assertion) bool { return a.Token == token }) && c.logger != nil {
		c.logger(EventAssertion, "Cached: the cached assertion was reported rejected; the next call fetches a new one")
	}
}

// wall reads the clock. Without an injected clock it is time.Now, whose
// monotonic reading makes durations since epoch immune to wall clock steps.
func (c *cache) wall() time.Time {
	if c.clock == nil {
		return time.Now()
	}
	return c.clock()
}

// lease schedules a's refresh and staleness. a's expiry is a wall time from
// its issuer; its remaining lifetime, measured now on the wall clock, is
// placed on the engine's clock. An assertion already expired is an error
// matching [ErrExpired] that names the skew it implies.
func (c *cache) lease(a Assertion) (refresh.Lease[Assertion], error) {
	wall := c.wall()
	now := wall.Sub(c.epoch)
	exp := a.ExpiresOn
	if exp.IsZero() {
		if t, err := jwtpeek.Expiry(a.Token); err == nil {
			exp = t
		} else {
			exp = wall.Add(unknownLifetime)
		}
	}
	life := min(exp.Sub(wall), maxLifetime)
	if life <= 0 {
		return refresh.Lease[Assertion]{}, fmt.Errorf("%w: it expired at %s, %s before this machine's clock (%s); "+
			"either this machine's clock is at least %s fast or the issuer's is that slow, or %s serves stale assertions",
			ErrExpired, exp.UTC().Format(time.RFC3339), -life, wall.UTC().Format(time.RFC3339), -life, sourceName(c.src))
	}
	return refresh.Lease[Assertion]{
		Value:     a,
		RefreshAt: now + life - min(c.refreshBefore, life/2),
		ExpiresAt: now + life - min(expiryMargin, life/10),
	}, nil
}

// cacheHost is what the engine asks of the cache: the clock, the fetch, the
// log. One pointer, so it converts to refresh.Host without allocating.
type cacheHost struct{ c *cache }

// Now is the time since the cache's creation: one monotonic clock read
// without an injected clock.
func (h cacheHost) Now() time.Duration {
	if h.c.clock == nil {
		return time.Since(h.c.epoch)
	}
	return h.c.clock().Sub(h.c.epoch)
}

func (h cacheHost) Fetch(ctx context.Context, _ struct{}) (refresh.Lease[Assertion], error) {
	a, err := h.c.src.Assertion(ctx)
	if err != nil {
		return refresh.Lease[Assertion]{}, err
	}
	return h.c.lease(a)
}

func (h cacheHost) Observe(ev refresh.Event[struct{}, Assertion]) {
	switch ev.Kind {
	case refresh.Join:
		if h.c.onWait != nil {
			h.c.onWait()
		}
	case refresh.RefreshFailed:
		if h.c.logger == nil {
			return
		}
		if ev.Kept == nil { // invalidated meanwhile: the next call fetches
			h.c.logger(EventAssertion, fmt.Sprintf("Cached: refresh before expiry failed: %v", ev.Err))
			return
		}
		until := h.c.epoch.Add(ev.Kept.ExpiresAt).UTC().Format(time.RFC3339)
		h.c.logger(EventAssertion, fmt.Sprintf("Cached: refresh before expiry failed, keeping the current assertion until %s: %v", until, ev.Err))
	}
}

// String names the wrapped source; a source that is not a fmt.Stringer is
// named by its type only, so its fields (perhaps a token) are never printed.
func (c *cache) String() string {
	return "assertion.Cached(" + sourceName(c.src) + ")"
}

func sourceName(s Source) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

// GoString keeps %#v from printing the cached assertion.
func (c *cache) GoString() string { return c.String() }

var _ Invalidator = (*cache)(nil)
