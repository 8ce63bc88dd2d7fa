package assertion

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
)

// CacheOptions configures CachedWithOptions. Nil or zero fields mean defaults.
type CacheOptions struct {
	// Clock returns the current time; nil means time.Now. Tests inject one to
	// move through expiry without sleeping.
	Clock func() time.Time
	// RefreshBefore is how long before expiry one caller starts fetching a
	// replacement while the others keep the current assertion. 0 means 5
	// minutes; it is shortened to half the lifetime of short-lived assertions.
	// Values under one minute are raised to one minute: an assertion stops
	// being served 30 seconds before it expires, and the refresh must start
	// before that for the others to keep a valid one meanwhile.
	RefreshBefore time.Duration
	// Logger receives EventAssertion entries (a failed refresh ahead of
	// expiry); nil logs nothing.
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
)

// Invalidator is implemented by a caching Source that can be told its cached
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

// Cached returns a Source that reuses src's assertion until shortly before it
// expires. The expiry is Assertion.ExpiresOn, else the JWT's exp claim, else
// one minute after the fetch.
//
// Callers that find a valid assertion take no lock and allocate nothing.
// Concurrent callers during a miss share one call to src; its error goes to
// those callers and is not kept, so the next call tries again. Within
// RefreshBefore of expiry one caller fetches a replacement while the others
// keep the valid assertion; if that refresh fails, the refreshing caller also
// keeps the valid assertion and the failure is logged.
//
// The returned Source implements Invalidator (and passes the report on to src
// when src implements it too, so that a cache beneath this one is not left
// serving the rejected assertion).
func Cached(src Source) Source { return CachedWithOptions(src, nil) }

// CachedWithOptions is Cached with a clock, a refresh lead time and a logger.
func CachedWithOptions(src Source, opts *CacheOptions) Source {
	c := &cache{src: src, now: time.Now, refreshBefore: defaultRefreshBefore}
	if opts != nil {
		if opts.Clock != nil {
			c.now = opts.Clock
		}
		if opts.RefreshBefore > 0 {
			c.refreshBefore = max(opts.RefreshBefore, 2*expiryMargin)
		}
		c.logger = opts.Logger
	}
	return c
}

type cache struct {
	src           Source
	now           func() time.Time
	refreshBefore time.Duration
	logger        func(log.Event, string)

	// cur is read without a lock on every call; it is only ever replaced by a
	// new entry or, by Invalidate, by nil, never mutated. Because every fetch
	// stores a new pointer, Invalidate's compare-and-swap cannot drop an entry
	// stored after it looked.
	cur atomic.Pointer[cacheEntry]

	mu     sync.Mutex // guards flight; never held during a fetch
	flight *cacheFlight

	// onWait, when set (by tests), is called as a caller starts waiting for
	// another caller's fetch.
	onWait func()
}

type cacheEntry struct {
	a         Assertion
	refreshAt time.Time // from here one caller fetches a replacement
	staleAt   time.Time // from here a is not served
}

// cacheFlight is one call to the source, shared by the callers who wait for
// it. a and err are written before done is closed.
type cacheFlight struct {
	done chan struct{}
	a    Assertion
	err  error
	// abandoned records that the fetching caller's context had ended when
	// the fetch finished, so its error is that caller's, not the waiters'.
	// An error matching context.DeadlineExceeded does not tell: a source's
	// own timeout (an http.Client's Timeout) produces one too.
	abandoned bool
}

// Assertion returns the cached assertion or fetches one.
func (c *cache) Assertion(ctx context.Context) (Assertion, error) {
	now := c.now()
	if e := c.cur.Load(); e != nil && now.Before(e.staleAt) {
		if now.Before(e.refreshAt) {
			return e.a, nil
		}
		return c.refreshAhead(ctx, e)
	}
	return c.miss(ctx)
}

// refreshAhead lets the first caller past refreshAt fetch a replacement; the
// others, and this caller if the fetch fails, get the still-valid e. If e is
// invalidated meanwhile it is no longer valid: callers then get the fetch's
// result, as on a miss.
func (c *cache) refreshAhead(ctx context.Context, e *cacheEntry) (Assertion, error) {
	c.mu.Lock()
	if cur := c.cur.Load(); cur != e {
		c.mu.Unlock()
		if cur == nil { // invalidated since we looked
			return c.miss(ctx)
		}
		return cur.a, nil // replaced since we looked
	}
	if c.flight != nil {
		c.mu.Unlock()
		return e.a, nil
	}
	f := &cacheFlight{done: make(chan struct{})}
	c.flight = f
	c.mu.Unlock()
	c.run(ctx, f)
	switch cur := c.cur.Load(); {
	case cur == e:
		// The refresh failed, or the source answered with an assertion
		// already expired: keep serving e.
		if f.err != nil && c.logger != nil {
			c.logger(EventAssertion, fmt.Sprintf("Cached: refresh before expiry failed, keeping the current assertion until %s: %v", e.staleAt.UTC().Format(time.RFC3339), f.err))
		}
		return e.a, nil
	case cur != nil:
		return cur.a, nil
	default:
		// e was invalidated during the fetch and nothing valid replaced it:
		// the fetch's error, or its already expired assertion, as on a miss.
		return f.a, f.err
	}
}

// Invalidate drops the cached assertion if it is token (see Invalidator),
// after passing the report on to the wrapped source if it is an Invalidator.
// It takes no lock: a fetch in flight is not disturbed, and its result, being
// a new entry, is never dropped by a report about an older one.
func (c *cache) Invalidate(token string) {
	if inv, ok := c.src.(Invalidator); ok {
		inv.Invalidate(token)
	}
	e := c.cur.Load()
	if token == "" || e == nil || e.a.Token != token {
		return
	}
	if c.cur.CompareAndSwap(e, nil) && c.logger != nil {
		c.logger(EventAssertion, "Cached: the cached assertion was reported rejected; the next call fetches a new one")
	}
}

// miss waits for the fetch in progress, or starts one.
func (c *cache) miss(ctx context.Context) (Assertion, error) {
	for {
		c.mu.Lock()
		if e := c.cur.Load(); e != nil && c.now().Before(e.staleAt) {
			c.mu.Unlock()
			return e.a, nil
		}
		f := c.flight
		if f == nil {
			f = &cacheFlight{done: make(chan struct{})}
			c.flight = f
			c.mu.Unlock()
			c.run(ctx, f)
			return f.a, f.err
		}
		c.mu.Unlock()
		if c.onWait != nil {
			c.onWait()
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return Assertion{}, ctx.Err()
		}
		// The fetching caller's context ended, not ours: fetch again rather
		// than hand on someone else's cancellation.
		if f.err != nil && f.abandoned && ctx.Err() == nil {
			continue
		}
		return f.a, f.err
	}
}

// errSourcePanicked is what waiters get when the source panicked in the
// fetching caller (who sees the panic itself).
var errSourcePanicked = errors.New("assertion: Cached: the source panicked")

// run calls the source, publishes a successful result and releases the
// waiters, even if the source panics.
func (c *cache) run(ctx context.Context, f *cacheFlight) {
	finished := false
	defer func() {
		if !finished {
			f.err = errSourcePanicked
		}
		f.abandoned = ctx.Err() != nil
		var e *cacheEntry
		if f.err == nil {
			e = c.entryFor(f.a, c.now())
		}
		// The result is published and the flight ended under one lock. A
		// caller who reads the new entry, invalidates it and misses must not
		// find this flight still open and be handed the invalidated assertion
		// by joining it.
		c.mu.Lock()
		if e != nil {
			c.cur.Store(e)
		}
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	f.a, f.err = c.src.Assertion(ctx)
	finished = true
}

// entryFor schedules a's refresh and staleness, or returns nil when a is
// already expired (it is returned to the caller but not kept).
func (c *cache) entryFor(a Assertion, now time.Time) *cacheEntry {
	exp := a.ExpiresOn
	if exp.IsZero() {
		if t, err := jwtExpiry(a.Token); err == nil {
			exp = t
		} else {
			exp = now.Add(unknownLifetime)
		}
	}
	life := exp.Sub(now)
	if life <= 0 {
		return nil
	}
	return &cacheEntry{
		a:         a,
		refreshAt: exp.Add(-min(c.refreshBefore, life/2)),
		staleAt:   exp.Add(-min(expiryMargin, life/10)),
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
