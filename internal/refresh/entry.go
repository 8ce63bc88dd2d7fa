package refresh

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/recovered"
)

// Cell caches one value: a [Table] of a single key without the index. The
// zero Cell is empty and ready; it must not be copied after first use.
type Cell[V any] struct {
	Options Options
	bg      sync.WaitGroup
	e       entry[struct{}, V]
}

// Get returns the cached value, or fetches one (see the package doc).
func (c *Cell[V]) Get(ctx context.Context, h Host[struct{}, V]) (V, error) {
	p, err := c.e.get(ctx, h, &c.Options, &c.bg)
	if err != nil {
		var zero V
		return zero, err
	}
	return *p, nil
}

// Invalidate drops the cached value if match reports true for it, and says
// whether it did. It takes no lock and does not disturb a fetch in flight,
// whose result is a new state that a report about an older one never drops.
func (c *Cell[V]) Invalidate(match func(V) bool) bool {
	s := c.e.st.Load()
	if s == nil || !match(s.lease.Value) {
		return false
	}
	return c.e.st.CompareAndSwap(s, nil)
}

// Wait blocks until the background refreshes started so far have finished;
// each is bounded by [Options.RefreshBudget]. It is for tests and shutdown,
// and must not run concurrently with [Cell.Get]: a Get past RefreshAt starts
// a refresh, and a [sync.WaitGroup] must not gain work while Wait waits for
// it to reach zero.
func (c *Cell[V]) Wait() { c.bg.Wait() }

// entry is one key's value and its single flight.
type entry[K comparable, V any] struct {
	key K
	// st is read without a lock on every call. It is replaced, by a fetch or
	// by Invalidate, never modified (but for state.retryAt).
	st atomic.Pointer[state[V]]
	// refreshing is won by the caller that starts the background refresh,
	// so that one goroutine is started, not one per caller past RefreshAt.
	refreshing atomic.Bool

	mu     sync.Mutex // guards flight and failed; never held during a fetch
	flight *flight[V]
	// failed records that the last fetch failed and left no value: a Table
	// drops such an entry at its next rebuild, so that keys that only ever
	// fail (a tenant that does not exist) do not accumulate.
	failed bool
}

// droppable reports whether a Table may forget e: its last fetch failed, it
// holds no value and no fetch is in flight. A caller that found e just before
// it was dropped still fetches through it; the next caller of that key makes
// a new entry, so a key that failed may be fetched twice at once, once.
func (e *entry[K, V]) droppable() bool {
	if e.st.Load() != nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failed && e.flight == nil && e.st.Load() == nil
}

type state[V any] struct {
	lease Lease[V]
	// retryAt is the earliest next background refresh after one failed, on
	// the host's clock. It is the one mutable field, atomic, so that a failed
	// refresh does not replace the state: Invalidate's compare-and-swap on
	// the state it judged must not miss because of it.
	retryAt atomic.Int64
}

// flight is one call to Host.Fetch, shared by the callers who wait for it.
// Its fields are written before done is closed.
type flight[V any] struct {
	done  chan struct{}
	lease Lease[V]
	err   error
	// abandoned records that the context the fetch ran under had ended when
	// it finished: its error is then that context's, not the waiters'.
	abandoned bool
	// kept records that the result was published (it had not expired).
	kept bool
}

// get returns a pointer to the value, which is shared and never modified.
// Table.Get has its own copy of the warm path (see there why); keep the two in
// step.
func (e *entry[K, V]) get(ctx context.Context, h Host[K, V], o *Options, bg *sync.WaitGroup) (*V, error) {
	now := h.Now()
	if s := e.st.Load(); s != nil && now < s.lease.ExpiresAt {
		if now >= s.lease.RefreshAt {
			e.refreshAhead(h, o, bg, s, now)
		}
		return &s.lease.Value, nil
	}
	return e.miss(ctx, h, o)
}

// refreshAhead starts the background refresh of s unless a failed one asked
// to wait, or another caller has started it.
func (e *entry[K, V]) refreshAhead(h Host[K, V], o *Options, bg *sync.WaitGroup, s *state[V], now time.Duration) {
	if now < time.Duration(s.retryAt.Load()) || !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	bg.Add(1)
	go e.refresh(h, o, bg)
}

// refresh runs on its own context, not one derived from the caller that
// started it: that caller has its answer and may be gone, and a context
// carries more than cancellation. azcore's runtime.WithCaptureResponse, for
// one, is a context value pointing at the caller's variable; a fetch that
// kept the caller's values would write the refreshed token's response into
// it after the caller returned (a data race, and a token where the caller
// does not expect one). The same goes for per-call headers and retry options.
func (e *entry[K, V]) refresh(h Host[K, V], o *Options, bg *sync.WaitGroup) {
	defer bg.Done()
	defer e.refreshing.Store(false)
	rctx, cancel := context.WithTimeout(context.Background(), o.budget())
	defer cancel()

	e.mu.Lock()
	// The caller that won refreshing read the state before winning it; a
	// refresh or a miss that finished in between has replaced that state (or
	// a failure set retryAt). Refresh only what is still due, or a fresh
	// value is fetched again. A fetch in flight (a caller whose value
	// expired) will publish a new state anyway; an invalidated state is
	// fetched by the next caller's miss.
	s, now := e.st.Load(), h.Now()
	if e.flight != nil || s == nil || now < s.lease.RefreshAt || now < time.Duration(s.retryAt.Load()) {
		e.mu.Unlock()
		return
	}
	f := &flight[V]{done: make(chan struct{})}
	e.flight = f
	e.mu.Unlock()
	observe(h, Event[K, V]{Kind: Refresh, Key: e.key})
	e.run(rctx, h, o, f)
	if f.kept {
		return
	}
	err := f.err
	if err == nil {
		err = fmt.Errorf("%s: the new value had already expired when the fetch returned", o.name())
	}
	s.retryAt.Store(int64(h.Now() + o.retryInterval()))
	ev := Event[K, V]{Kind: RefreshFailed, Key: e.key, Err: err}
	if cur := e.st.Load(); cur != nil {
		ev.Kept = &cur.lease
	}
	observe(h, ev)
}

// miss returns a value published meanwhile, or joins the fetch in flight, or
// starts one.
func (e *entry[K, V]) miss(ctx context.Context, h Host[K, V], o *Options) (*V, error) {
	for {
		e.mu.Lock()
		if s := e.st.Load(); s != nil && h.Now() < s.lease.ExpiresAt {
			e.mu.Unlock()
			return &s.lease.Value, nil
		}
		f := e.flight
		if f == nil {
			f = &flight[V]{done: make(chan struct{})}
			e.flight = f
			e.mu.Unlock()
			observe(h, Event[K, V]{Kind: Miss, Key: e.key})
			e.run(ctx, h, o, f)
			return f.result()
		}
		e.mu.Unlock()
		observe(h, Event[K, V]{Kind: Join, Key: e.key})
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: waiting for the call in flight: %w", o.name(), ctx.Err())
		}
		// The fetch ran under the context of the caller that started it. If
		// that context ended, its cancellation is not this caller's answer:
		// start or join the next fetch. f is final: done is closed.
		if f.err != nil && f.abandoned && ctx.Err() == nil {
			continue
		}
		return f.result()
	}
}

// result is what the flight's callers get, once done is closed.
func (f *flight[V]) result() (*V, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &f.lease.Value, nil
}

// run calls Host.Fetch, publishes a value that has not expired, ends the
// flight and releases its waiters, whatever the fetch does: return, panic or
// runtime.Goexit (recovered.Into stores an error in f for the last two, and
// this goroutine still ends after Goexit, but its waiters do not block).
func (e *entry[K, V]) run(ctx context.Context, h Host[K, V], o *Options, f *flight[V]) {
	defer func() {
		if f.err != nil {
			f.lease = Lease[V]{}
		}
		f.abandoned = ctx.Err() != nil
		var s *state[V]
		if f.err == nil && h.Now() < f.lease.ExpiresAt {
			s = &state[V]{lease: f.lease}
			f.kept = true
		}
		// Publish and end the flight under one lock: a caller who reads the
		// new state, invalidates it and misses must not find this flight
		// still open and be handed the invalidated value by joining it.
		e.mu.Lock()
		if s != nil {
			e.st.Store(s)
		}
		e.failed = e.st.Load() == nil // failed, or expired on arrival
		e.flight = nil
		e.mu.Unlock()
		close(f.done)
	}()
	recovered.Into(o.name(), &f.lease, &f.err, func() (Lease[V], error) { return h.Fetch(ctx, e.key) })
}

// observe reports ev, dropping a panic: an event is for logs and tests, and a
// panicking listener must not leave a flight open or kill a background
// goroutine's process.
func observe[K comparable, V any](h Host[K, V], ev Event[K, V]) {
	defer func() { _ = recover() }()
	h.Observe(ev)
}
