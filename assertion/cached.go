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
func Cached(src Source) Source { return CachedWithOptions(src, nil) }

// CachedWithOptions is Cached with a clock, a refresh lead time and a logger.
func CachedWithOptions(src Source, opts *CacheOptions) Source {
	c := &cache{src: src, now: time.Now, refreshBefore: defaultRefreshBefore}
	if opts != nil {
		if opts.Clock != nil {
			c.now = opts.Clock
		}
		if opts.RefreshBefore > 0 {
			c.refreshBefore = opts.RefreshBefore
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
	// new entry, never mutated.
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
}

// Assertion returns the cached assertion or fetches one.
func (c *cache) Assertion(ctx context.Context) (Assertion, error) {
	now := c.now()
	if e := c.cur.Load(); e != nil && now.Before(e.staleAt) {
		if now.Before(e.refreshAt) {
			return e.a, nil
		}
		return c.refreshAhead(ctx, e), nil
	}
	return c.miss(ctx)
}

// refreshAhead lets the first caller past refreshAt fetch a replacement; the
// others, and this caller if the fetch fails, get the still-valid e.
func (c *cache) refreshAhead(ctx context.Context, e *cacheEntry) Assertion {
	c.mu.Lock()
	if cur := c.cur.Load(); cur != e {
		c.mu.Unlock()
		return cur.a // replaced since we looked
	}
	if c.flight != nil {
		c.mu.Unlock()
		return e.a
	}
	f := &cacheFlight{done: make(chan struct{})}
	c.flight = f
	c.mu.Unlock()
	c.run(ctx, f)
	if f.err != nil {
		if c.logger != nil {
			c.logger(EventAssertion, fmt.Sprintf("Cached: refresh before expiry failed, keeping the current assertion until %s: %v", e.staleAt.UTC().Format(time.RFC3339), f.err))
		}
		return e.a
	}
	if cur := c.cur.Load(); cur != e {
		return cur.a
	}
	return e.a // the source answered with an assertion already expired
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
		if f.err != nil && isContextError(f.err) && ctx.Err() == nil {
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
		c.mu.Lock()
		c.flight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	a, err := c.src.Assertion(ctx)
	f.a, f.err = a, err
	if err == nil {
		if e := c.entryFor(a, c.now()); e != nil {
			c.cur.Store(e)
		}
	}
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

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
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
