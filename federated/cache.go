package federated

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

const (
	// refreshBeforeExpiry is how long before expiry a token without refresh_in
	// is refreshed; tokens shorter than shortTokenLifetime refresh at half-life
	// instead, so they are not refreshed the moment they arrive.
	refreshBeforeExpiry = 5 * time.Minute
	shortTokenLifetime  = 10 * time.Minute

	// refreshRetryInterval spaces background refresh attempts after one
	// failed, so a down token endpoint sees one request per key per interval
	// rather than one per GetToken call.
	refreshRetryInterval = 30 * time.Second

	// defaultRefreshBudget bounds one background refresh, retries included.
	defaultRefreshBudget = 2 * time.Minute
)

// cacheKey identifies a cached token. scope is the single requested scope, or
// the scopes joined by spaces; a single scope is used as is, so the warm path
// builds the key without allocating.
type cacheKey struct {
	tenant string
	scope  string
	cae    bool
}

// tokenState is an immutable snapshot of a cached token. It is replaced, never
// modified, so readers need no lock.
//
// The times the warm path compares are kept as durations since the
// Credential's creation (see Credential.elapsed): time.Since on a time with a
// monotonic reading reads the clock once, where time.Now reads it twice (wall
// and monotonic), and the clock was nearly half of a warm GetToken. tok keeps
// the wall times for callers; both describe the same instants.
type tokenState struct {
	tok       azcore.AccessToken // RefreshOn is the planned refresh time
	expiresAt time.Duration      // tok.ExpiresOn, since creation
	refreshAt time.Duration      // tok.RefreshOn, since creation
	nextTryAt time.Duration      // earliest next background refresh attempt, since creation
}

// newTokenState caches tok. tok's times were read from c.now, as c.created
// was, so the differences are taken on the same clock (the monotonic one in
// production).
func (c *Credential) newTokenState(tok azcore.AccessToken) *tokenState {
	return &tokenState{
		tok:       tok,
		expiresAt: tok.ExpiresOn.Sub(c.created),
		refreshAt: tok.RefreshOn.Sub(c.created),
	}
}

// call is one token request in flight, shared by every caller of its key.
type call struct {
	done chan struct{}
	tok  azcore.AccessToken
	err  error
	// abandoned records that the context the request ran under had ended
	// when it finished: its error is then the starter's, not the waiters'.
	// An error matching context.DeadlineExceeded is not enough to tell: an
	// http.Client's Timeout produces one while every context is live.
	abandoned bool
}

// entry holds one key's token and request bookkeeping. mu is never held across
// a network call: it only guards starting and finishing a call.
type entry struct {
	key        cacheKey
	state      atomic.Pointer[tokenState]
	refreshing atomic.Bool

	mu       sync.Mutex
	inflight *call
}

// tokenCache maps keys to entries. The table is copy-on-write behind an
// atomic pointer: a lookup is one atomic load and a read of an immutable
// table; an insert (once per key for the Credential's life) copies the table
// under mu.
type tokenCache struct {
	t  atomic.Pointer[cacheTable]
	mu sync.Mutex
}

// smallTable is how many keys are kept in a slice scanned linearly before the
// table switches to a map. Most credentials serve a handful of (tenant,
// scope) pairs; comparing a few keys (string lengths first, and identical
// string pointers short-circuit) is cheaper than hashing two strings of about
// 40 bytes, which is a quarter of a warm GetToken.
const smallTable = 8

// cacheTable is immutable once published. Exactly one of small and m is used.
type cacheTable struct {
	small []*entry
	m     map[cacheKey]*entry
}

func (tc *tokenCache) init() { tc.t.Store(&cacheTable{}) }

func (tc *tokenCache) lookup(k cacheKey) *entry {
	t := tc.t.Load()
	if t.m != nil {
		return t.m[k]
	}
	for _, e := range t.small {
		if e.key == k {
			return e
		}
	}
	return nil
}

func (tc *tokenCache) getOrCreate(k cacheKey) *entry {
	if e := tc.lookup(k); e != nil {
		return e
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if e := tc.lookup(k); e != nil {
		return e
	}
	e := &entry{key: k}
	old := tc.t.Load()
	next := &cacheTable{}
	switch {
	case old.m != nil:
		next.m = make(map[cacheKey]*entry, len(old.m)+1)
		for key, v := range old.m {
			next.m[key] = v
		}
		next.m[k] = e
	case len(old.small) < smallTable:
		next.small = append(append(make([]*entry, 0, len(old.small)+1), old.small...), e)
	default:
		next.m = make(map[cacheKey]*entry, len(old.small)+1)
		for _, v := range old.small {
			next.m[v.key] = v
		}
		next.m[k] = e
	}
	tc.t.Store(next)
	return e
}

// usable reports whether st holds a token that has not expired at el (a
// Credential.elapsed reading).
func usable(st *tokenState, el time.Duration) bool {
	return st != nil && el < st.expiresAt
}

func (c *Credential) getToken(ctx context.Context, def string, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tenant, err := c.resolveTenant(opts.TenantID, def)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	var key cacheKey
	switch len(opts.Scopes) {
	case 0:
		return azcore.AccessToken{}, fmt.Errorf("federated: no scopes requested; ask for \"{resource}/.default\", for example \"https://graph.microsoft.com/.default\"")
	case 1:
		key = cacheKey{tenant: tenant, scope: opts.Scopes[0], cae: opts.EnableCAE}
	default:
		key = cacheKey{tenant: tenant, scope: strings.Join(opts.Scopes, " "), cae: opts.EnableCAE}
	}
	if opts.Claims != "" {
		// A claims challenge asks for a token that satisfies new conditions;
		// the cached one is what the resource just rejected. The result is
		// not cached: it was shaped by this challenge.
		return c.fetch(ctx, key, opts.Claims)
	}

	// Warm path: one atomic load of the table, one of the entry's state, one
	// monotonic clock read; no lock, no allocation.
	if e := c.cache.lookup(key); e != nil {
		el := c.elapsed()
		if st := e.state.Load(); usable(st, el) {
			if el >= st.refreshAt && el >= st.nextTryAt && e.refreshing.CompareAndSwap(false, true) {
				c.refreshInBackground(ctx, key, e)
			}
			return st.tok, nil
		}
	}
	return c.getSlow(ctx, key)
}

// getSlow makes or joins the one request for key when no usable token is cached.
func (c *Credential) getSlow(ctx context.Context, key cacheKey) (azcore.AccessToken, error) {
	e := c.cache.getOrCreate(key)
	for {
		e.mu.Lock()
		if st := e.state.Load(); usable(st, c.elapsed()) {
			e.mu.Unlock()
			return st.tok, nil
		}
		if cl := e.inflight; cl != nil {
			e.mu.Unlock()
			if c.onJoin != nil {
				c.onJoin()
			}
			tok, err := cl.wait(ctx)
			// The request ran under the context of the caller that started
			// it. If that context ended, its cancellation is not this
			// caller's answer: try again (start or join the next request).
			// cl.abandoned is read only after done is closed (wait returned
			// without ctx.Err()), so it is the request's final value.
			if err != nil && ctx.Err() == nil && cl.abandoned {
				continue
			}
			return tok, err
		}
		cl := &call{done: make(chan struct{})}
		e.inflight = cl
		e.mu.Unlock()
		c.logf("federated: cache miss for tenant %s scope %s (CAE %t), requesting a token", key.tenant, key.scope, key.cae)
		c.run(ctx, key, e, cl)
		return cl.tok, cl.err
	}
}

func (cl *call) wait(ctx context.Context) (azcore.AccessToken, error) {
	select {
	case <-cl.done:
		return cl.tok, cl.err
	case <-ctx.Done():
		return azcore.AccessToken{}, fmt.Errorf("federated: waiting for a token request: %w", ctx.Err())
	}
}

// run performs cl's request, publishes a new token, and releases the waiters.
func (c *Credential) run(ctx context.Context, key cacheKey, e *entry, cl *call) {
	// Release the waiters however fetch ends, so that no caller blocks on a
	// request that will never finish.
	defer func() {
		cl.abandoned = ctx.Err() != nil
		e.mu.Lock()
		e.inflight = nil
		e.mu.Unlock()
		close(cl.done)
	}()
	cl.err = errors.New("federated: token request did not complete") // kept only if fetch panics
	cl.tok, cl.err = c.fetch(ctx, key, "")
	if cl.err == nil {
		e.state.Store(c.newTokenState(cl.tok))
	}
}

// refreshInBackground renews e's token while callers keep receiving the
// current one. It runs in its own goroutine, detached from the triggering
// caller's cancellation (that caller already has its token) but bounded by
// refreshBudget. If it fails, the current token is served until it expires
// and the next attempt waits refreshRetryInterval.
func (c *Credential) refreshInBackground(ctx context.Context, key cacheKey, e *entry) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer e.refreshing.Store(false)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.refreshBudget)
		defer cancel()

		e.mu.Lock()
		if e.inflight != nil { // a caller whose token expired is already fetching
			e.mu.Unlock()
			return
		}
		// The caller that won the refreshing flag read the state before
		// winning it; a refresh that finished in between has already
		// replaced that state (or a failure pushed nextTryAt on). Refresh
		// only what is still due, or the fresh token is refreshed again.
		if st, el := e.state.Load(), c.elapsed(); st == nil || el < st.refreshAt || el < st.nextTryAt {
			e.mu.Unlock()
			return
		}
		cl := &call{done: make(chan struct{})}
		e.inflight = cl
		e.mu.Unlock()
		c.logf("federated: refreshing token for tenant %s scope %s (CAE %t) ahead of expiry", key.tenant, key.scope, key.cae)
		c.run(rctx, key, e, cl)
		if cl.err != nil {
			if old := e.state.Load(); old != nil {
				next := *old
				next.nextTryAt = c.elapsed() + refreshRetryInterval
				e.state.CompareAndSwap(old, &next)
			}
			c.logf("federated: refreshing token for tenant %s scope %s failed; the current token is served until it expires at %s: %v",
				key.tenant, key.scope, e.state.Load().tok.ExpiresOn.UTC().Format(time.RFC3339), cl.err)
		}
	}()
}

// refreshOn plans when a token obtained at now is refreshed: at refresh_in if
// Entra sent it, else refreshBeforeExpiry before expiry, else (short tokens)
// at half-life.
func refreshOn(now time.Time, expiresIn, refreshIn time.Duration) time.Time {
	switch {
	case refreshIn > 0 && refreshIn < expiresIn:
		return now.Add(refreshIn)
	case expiresIn >= shortTokenLifetime:
		return now.Add(expiresIn - refreshBeforeExpiry)
	default:
		return now.Add(expiresIn / 2)
	}
}
