package refresh

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/recovered"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// testHost serves "v-N" values (N counts fetches) for any key, valid for life
// and due for refresh after refreshIn, on a clock that moves only when the
// test says so. fetch, when set, replaces the default fetch.
type testHost struct {
	now       atomic.Int64 // time.Duration
	life      time.Duration
	refreshIn time.Duration
	calls     atomic.Int32
	fetch     func(ctx context.Context, key string, n int32) (Lease[string], error)

	// gate, when set, makes each fetch signal entered and wait for release
	// (or its context).
	gate    atomic.Pointer[gate]
	joined  chan string // receives the key of each Join, if not nil
	mu      sync.Mutex
	events  []Event[string, string]
	fetchCx chan context.Context // receives each fetch's context, if not nil
}

type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func newTestHost() *testHost {
	return &testHost{life: time.Hour, refreshIn: 55 * time.Minute}
}

func (h *testHost) Now() time.Duration      { return time.Duration(h.now.Load()) }
func (h *testHost) advance(d time.Duration) { h.now.Add(int64(d)) }

func (h *testHost) Fetch(ctx context.Context, key string) (Lease[string], error) {
	n := h.calls.Add(1)
	if h.fetchCx != nil {
		h.fetchCx <- ctx
	}
	if g := h.gate.Load(); g != nil {
		g.entered <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return Lease[string]{}, ctx.Err()
		}
	}
	if h.fetch != nil {
		return h.fetch(ctx, key, n)
	}
	now := h.Now()
	return Lease[string]{Value: fmt.Sprintf("v-%d", n), RefreshAt: now + h.refreshIn, ExpiresAt: now + h.life}, nil
}

func (h *testHost) Observe(ev Event[string, string]) {
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
	if ev.Kind == Join && h.joined != nil {
		h.joined <- ev.Key
	}
}

func (h *testHost) eventsOf(kind EventKind) []Event[string, string] {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event[string, string]
	for _, ev := range h.events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// cellHost adapts testHost to a Cell's key type.
type cellHost struct{ h *testHost }

func (c cellHost) Now() time.Duration { return c.h.Now() }
func (c cellHost) Fetch(ctx context.Context, _ struct{}) (Lease[string], error) {
	return c.h.Fetch(ctx, "")
}
func (c cellHost) Observe(ev Event[struct{}, string]) {
	c.h.Observe(Event[string, string]{Kind: ev.Kind, Err: ev.Err, Kept: ev.Kept})
}

type result struct {
	v   string
	err error
}

func (r result) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return r.v
}

func getAsync(ctx context.Context, c *Cell[string], h *testHost) <-chan result {
	out := make(chan result, 1)
	go func() {
		v, err := c.Get(ctx, cellHost{h})
		out <- result{v, err}
	}()
	return out
}

func mustGet(t *testing.T, c *Cell[string], h *testHost) string {
	t.Helper()
	v, err := c.Get(context.Background(), cellHost{h})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return v
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	const waiters = 50
	h.joined = make(chan string, waiters)
	var c Cell[string]
	leader := getAsync(context.Background(), &c, h)
	testwait.Receive(t, g.entered, "the first caller entering the fetch")
	var others []<-chan result
	for range waiters {
		others = append(others, getAsync(context.Background(), &c, h))
	}
	for i := range waiters {
		testwait.Receive(t, h.joined, fmt.Sprintf("caller %d joining the fetch in flight", i))
	}
	close(g.release)
	for i, ch := range append(others, leader) {
		if r := testwait.Receive(t, ch, fmt.Sprintf("caller %d returning", i)); r.v != "v-1" || r.err != nil {
			t.Errorf("caller %d got %v, want v-1", i, r)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
	if got := mustGet(t, &c, h); got != "v-1" || h.calls.Load() != 1 {
		t.Errorf("warm call got %q after %d fetches, want v-1 after 1", got, h.calls.Load())
	}
}

func TestErrorGoesToWaitersAndIsNotKept(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 5)
	failing := errors.New("source failed")
	var fail atomic.Bool
	fail.Store(true)
	h.fetch = func(ctx context.Context, key string, n int32) (Lease[string], error) {
		if fail.Load() {
			return Lease[string]{}, failing
		}
		return Lease[string]{Value: fmt.Sprintf("v-%d", n), RefreshAt: time.Hour, ExpiresAt: 2 * time.Hour}, nil
	}
	var c Cell[string]
	results := []<-chan result{getAsync(context.Background(), &c, h)}
	testwait.Receive(t, g.entered, "the first fetch")
	for range 5 {
		results = append(results, getAsync(context.Background(), &c, h))
	}
	for range 5 {
		testwait.Receive(t, h.joined, "a caller joining")
	}
	close(g.release)
	for i, ch := range results {
		if r := testwait.Receive(t, ch, "a caller returning"); !errors.Is(r.err, failing) || r.v != "" {
			t.Errorf("caller %d got %v, want the fetch's error and no value", i, r)
		}
	}
	fail.Store(false)
	h.gate.Store(nil)
	if got := mustGet(t, &c, h); got != "v-2" {
		t.Errorf("after a failure got %q, want a new fetch v-2", got)
	}
}

func TestWaiterReturnsWhenItsOwnContextEnds(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 1)
	var c Cell[string]
	leader := getAsync(context.Background(), &c, h)
	testwait.Receive(t, g.entered, "the leader's fetch")
	ctx, cancel := context.WithCancel(context.Background())
	waiter := getAsync(ctx, &c, h)
	testwait.Receive(t, h.joined, "the waiter joining")
	cancel()
	r := testwait.Receive(t, waiter, "the cancelled waiter returning while the fetch is still blocked")
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("waiter got %v, want context.Canceled", r)
	}
	close(g.release)
	if r := testwait.Receive(t, leader, "the leader returning"); r.v != "v-1" {
		t.Errorf("leader got %v, want v-1", r)
	}
}

// The leader's own context ended: its error is not the waiters' answer, and
// a waiter starts the next fetch.
func TestWaiterRetriesWhenTheLeaderAbandons(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 1)
	var c Cell[string]
	ctx, cancel := context.WithCancel(context.Background())
	leader := getAsync(ctx, &c, h)
	testwait.Receive(t, g.entered, "the leader's fetch")
	waiter := getAsync(context.Background(), &c, h)
	testwait.Receive(t, h.joined, "the waiter joining")
	cancel()
	if r := testwait.Receive(t, leader, "the leader returning"); !errors.Is(r.err, context.Canceled) {
		t.Errorf("leader got %v, want context.Canceled", r)
	}
	testwait.Receive(t, g.entered, "the waiter starting its own fetch")
	close(g.release)
	if r := testwait.Receive(t, waiter, "the waiter returning"); r.v != "v-2" || r.err != nil {
		t.Errorf("waiter got %v, want its own fetch's v-2", r)
	}
}

// An error matching context.DeadlineExceeded while the leader's context is
// live (an http.Client's Timeout) is the fetch's answer: waiters share it.
func TestWaiterSharesATimeoutThatIsNotTheLeadersContext(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 1)
	h.fetch = func(context.Context, string, int32) (Lease[string], error) {
		return Lease[string]{}, fmt.Errorf("peer: %w", context.DeadlineExceeded)
	}
	var c Cell[string]
	leader := getAsync(context.Background(), &c, h)
	testwait.Receive(t, g.entered, "the leader's fetch")
	waiter := getAsync(context.Background(), &c, h)
	testwait.Receive(t, h.joined, "the waiter joining")
	close(g.release)
	for _, ch := range []<-chan result{leader, waiter} {
		if r := testwait.Receive(t, ch, "a caller returning"); !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the fetch's timeout", r)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1 (the waiter shares the leader's)", n)
	}
}

func TestRefreshAheadInTheBackground(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	if got := mustGet(t, &c, h); got != "v-1" {
		t.Fatal(got)
	}
	h.advance(55*time.Minute - 1)
	if got := mustGet(t, &c, h); got != "v-1" || h.calls.Load() != 1 {
		t.Fatalf("before RefreshAt got %q after %d fetches, want v-1 after 1", got, h.calls.Load())
	}
	h.advance(1)

	// The caller past RefreshAt, and every other, gets v-1 at once while
	// the refresh is blocked; the refresh runs on a context of its own, which
	// neither the caller's cancellation nor its values reach.
	g := newGate()
	h.gate.Store(g)
	h.fetchCx = make(chan context.Context, 1)
	type ctxKey struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "traced"))
	if v, err := c.Get(ctx, cellHost{h}); v != "v-1" || err != nil {
		t.Fatalf("the caller past RefreshAt got (%q, %v), want v-1 at once", v, err)
	}
	cancel()
	fctx := testwait.Receive(t, h.fetchCx, "the background refresh starting")
	testwait.Receive(t, g.entered, "the refresh entering the fetch")
	if fctx.Value(ctxKey{}) != nil {
		t.Error("the refresh's context carries the caller's values")
	}
	if _, ok := fctx.Deadline(); !ok {
		t.Error("the refresh's context has no deadline (RefreshBudget)")
	}
	for range 20 {
		if got := mustGet(t, &c, h); got != "v-1" {
			t.Fatalf("during the refresh got %q, want v-1", got)
		}
	}
	if len(h.fetchCx) != 0 || h.calls.Load() != 2 {
		t.Errorf("fetches = %d during the refresh, want 2", h.calls.Load())
	}
	if fctx.Err() != nil {
		t.Errorf("the refresh's context ended with its caller's: %v", fctx.Err())
	}
	h.fetchCx = nil
	close(g.release)
	testwait.Wait(t, &c, "the background refresh")
	if got := mustGet(t, &c, h); got != "v-2" {
		t.Errorf("after the refresh got %q, want v-2", got)
	}
	if n := len(h.eventsOf(Refresh)); n != 1 {
		t.Errorf("Refresh events = %d, want 1", n)
	}
}

func TestFailedRefreshKeepsTheValueAndWaitsBeforeTheNextTry(t *testing.T) {
	h := newTestHost()
	var fail atomic.Bool
	h.fetch = func(ctx context.Context, key string, n int32) (Lease[string], error) {
		if fail.Load() {
			return Lease[string]{}, errors.New("peer down")
		}
		now := h.Now()
		return Lease[string]{Value: fmt.Sprintf("v-%d", n), RefreshAt: now + h.refreshIn, ExpiresAt: now + h.life}, nil
	}
	c := Cell[string]{Options: Options{RetryInterval: time.Minute}}
	mustGet(t, &c, h)
	fail.Store(true)
	h.advance(55 * time.Minute)
	if got := mustGet(t, &c, h); got != "v-1" {
		t.Fatalf("got %q, want v-1", got)
	}
	testwait.Wait(t, &c, "the background refresh")
	failed := h.eventsOf(RefreshFailed)
	if len(failed) != 1 || failed[0].Err == nil || failed[0].Err.Error() != "peer down" || failed[0].Kept == nil || failed[0].Kept.Value != "v-1" || failed[0].Kept.ExpiresAt != time.Hour {
		t.Fatalf("RefreshFailed events = %+v, want one with the error and the kept v-1", failed)
	}
	for range 10 {
		if got := mustGet(t, &c, h); got != "v-1" {
			t.Fatalf("after the failure got %q, want v-1", got)
		}
	}
	testwait.Wait(t, &c, "the background refresh")
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d right after the failure, want 2", n)
	}
	h.advance(time.Minute - 1)
	mustGet(t, &c, h)
	testwait.Wait(t, &c, "the background refresh")
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d before RetryInterval, want 2", n)
	}
	h.advance(1)
	mustGet(t, &c, h)
	testwait.Wait(t, &c, "the background refresh")
	if n := h.calls.Load(); n != 3 {
		t.Fatalf("fetches = %d at RetryInterval, want 3", n)
	}
	// Once the value expires, callers get the error; a working peer heals it.
	h.advance(4 * time.Minute)
	if _, err := c.Get(context.Background(), cellHost{h}); err == nil || err.Error() != "peer down" {
		t.Errorf("after expiry err = %v, want the fetch's error", err)
	}
	fail.Store(false)
	if got := mustGet(t, &c, h); got != "v-5" {
		t.Errorf("got %q, want v-5", got)
	}
}

func TestBackgroundRefreshIsBoundedByItsBudget(t *testing.T) {
	h := newTestHost()
	g := newGate()
	c := Cell[string]{Options: Options{RefreshBudget: time.Nanosecond}}
	mustGet(t, &c, h)
	h.gate.Store(g) // the refresh blocks until its context ends
	h.advance(56 * time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if v, err := c.Get(ctx, cellHost{h}); v != "v-1" || err != nil {
		t.Fatalf("got (%q, %v), want v-1", v, err)
	}
	testwait.Wait(t, &c, "the background refresh")
	failed := h.eventsOf(RefreshFailed)
	if len(failed) != 1 || !errors.Is(failed[0].Err, context.DeadlineExceeded) {
		t.Errorf("RefreshFailed events = %+v, want one with context.DeadlineExceeded", failed)
	}
	if got := mustGet(t, &c, h); got != "v-1" {
		t.Errorf("after the timed-out refresh got %q, want v-1", got)
	}
}

// A caller can win the refreshing flag after reading a value that another
// refresh has since replaced (the read and the compare-and-swap on the warm
// path are not one step). Its refresh must see that the current value is not
// due and fetch nothing.
func TestLateRefreshOfAReplacedValueFetchesNothing(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	h.advance(56 * time.Minute)
	mustGet(t, &c, h)
	testwait.Wait(t, &c, "the background refresh")
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (first value and one refresh)", n)
	}
	if !c.e.refreshing.CompareAndSwap(false, true) {
		t.Fatal("the refreshing flag was not reset after the refresh")
	}
	c.bg.Add(1)
	c.e.refresh(cellHost{h}, &c.Options, &c.bg)
	if n := h.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2: the value refreshed a moment ago was refreshed again", n)
	}
	if c.e.refreshing.Load() {
		t.Error("the refreshing flag was left set")
	}
}

// The value was invalidated between the warm path's look and the background
// goroutine's lock: the refresh fetches nothing, and the next caller's miss
// fetches (once).
func TestRefreshOfAnInvalidatedValueLeavesItToTheNextMiss(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	h.advance(56 * time.Minute)
	c.Invalidate(func(v string) bool { return v == "v-1" })
	c.e.refreshing.Store(true)
	c.bg.Add(1)
	c.e.refresh(cellHost{h}, &c.Options, &c.bg)
	if n := h.calls.Load(); n != 1 {
		t.Errorf("fetches = %d after refreshing an invalidated value, want 1", n)
	}
	if got := mustGet(t, &c, h); got != "v-2" || h.calls.Load() != 2 {
		t.Errorf("the next caller got %q after %d fetches, want v-2 after 2", got, h.calls.Load())
	}
}

func TestValueExpiredOnArrivalIsReturnedButNotKept(t *testing.T) {
	h := newTestHost()
	h.fetch = func(ctx context.Context, key string, n int32) (Lease[string], error) {
		return Lease[string]{Value: fmt.Sprintf("v-%d", n), RefreshAt: h.Now(), ExpiresAt: h.Now()}, nil
	}
	var c Cell[string]
	for want := range []string{"v-1", "v-2"} {
		if got := mustGet(t, &c, h); got != fmt.Sprintf("v-%d", want+1) {
			t.Errorf("call %d got %q", want+1, got)
		}
	}
	if n := h.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2 (an expired value is not kept)", n)
	}
}

// A refresh whose new value has already expired keeps the old one, reports
// a failure and waits RetryInterval, rather than refetching on every call.
func TestRefreshThatReturnsAnExpiredValue(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	h.fetch = func(ctx context.Context, key string, n int32) (Lease[string], error) {
		return Lease[string]{Value: "stale", ExpiresAt: h.Now() - 1}, nil
	}
	h.advance(56 * time.Minute)
	for range 3 {
		if got := mustGet(t, &c, h); got != "v-1" {
			t.Fatalf("got %q, want v-1", got)
		}
		testwait.Wait(t, &c, "the background refresh")
	}
	if n := h.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
	if failed := h.eventsOf(RefreshFailed); len(failed) != 1 || !strings.Contains(failed[0].Err.Error(), "already expired") {
		t.Errorf("RefreshFailed events = %+v, want one saying the value had expired", failed)
	}
}

// Not a real token: JWT-shaped, so leak.Redact must hide it.
const secretJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlLXNlY3JldC1wYXJ0LWxvbmc"

func TestPanicInAFetchBecomesEveryCallersError(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 3)
	h.fetch = func(context.Context, string, int32) (Lease[string], error) {
		panic("boom\nwith " + secretJWT + " " + strings.Repeat("x", 1000))
	}
	c := Cell[string]{Options: Options{Name: "test: cache"}}
	results := []<-chan result{getAsync(context.Background(), &c, h)}
	testwait.Receive(t, g.entered, "the fetch")
	for range 3 {
		results = append(results, getAsync(context.Background(), &c, h))
	}
	for range 3 {
		testwait.Receive(t, h.joined, "a caller joining")
	}
	close(g.release)
	for i, ch := range results {
		r := testwait.Receive(t, ch, "a caller returning after the panic")
		if !errors.Is(r.err, recovered.ErrPanicked) {
			t.Fatalf("caller %d got %v, want ErrPanicked", i, r)
		}
		msg := r.err.Error()
		if !strings.HasPrefix(msg, "test: cache panicked: boom with [jwt redacted] xxx") {
			t.Errorf("caller %d: message %.80q does not name the panic, redacted on one line", i, msg)
		}
		if strings.Contains(msg, "eyJ") || strings.Contains(msg, "c2lnbmF0dXJl") || len(msg) > len("test: cache panicked: ")+recovered.MaxValueBytes {
			t.Errorf("caller %d: message (%d bytes) is not redacted and clipped", i, len(msg))
		}
	}
	h.fetch = nil
	h.gate.Store(nil)
	if got := mustGet(t, &c, h); got != "v-2" {
		t.Errorf("after the panic got %q, want a new fetch", got)
	}
}

// The panic happens on the background goroutine, where nobody waits: the
// test binary must survive it, the valid value stays, and the failure is
// reported.
func TestPanicInABackgroundRefresh(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	h.fetch = func(context.Context, string, int32) (Lease[string], error) { panic("boom") }
	h.advance(56 * time.Minute)
	if got := mustGet(t, &c, h); got != "v-1" {
		t.Fatalf("got %q, want v-1", got)
	}
	testwait.Wait(t, &c, "the background refresh")
	if got := mustGet(t, &c, h); got != "v-1" {
		t.Errorf("after the panicking refresh got %q, want the still-valid v-1", got)
	}
	failed := h.eventsOf(RefreshFailed)
	if len(failed) != 1 || !errors.Is(failed[0].Err, recovered.ErrPanicked) {
		t.Errorf("RefreshFailed events = %+v, want one with ErrPanicked", failed)
	}
	// Past expiry the next caller fetches synchronously and gets the error.
	h.advance(5 * time.Minute)
	if _, err := c.Get(context.Background(), cellHost{h}); !errors.Is(err, recovered.ErrPanicked) {
		t.Errorf("after expiry err = %v, want ErrPanicked", err)
	}
}

// A caller whose value expired while the background refresh was in flight
// joins it; when that refresh panics, the joined caller gets the error.
func TestPanicInABackgroundRefreshReleasesJoinedCallers(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 1)
	h.fetch = func(context.Context, string, int32) (Lease[string], error) { panic("boom") }
	h.advance(56 * time.Minute)
	mustGet(t, &c, h)
	testwait.Receive(t, g.entered, "the background refresh")
	h.advance(5 * time.Minute) // v-1 expires while the refresh is blocked
	waiter := getAsync(context.Background(), &c, h)
	testwait.Receive(t, h.joined, "the caller joining the refresh")
	close(g.release)
	if r := testwait.Receive(t, waiter, "the joined caller returning"); !errors.Is(r.err, recovered.ErrPanicked) {
		t.Errorf("joined caller got %v, want ErrPanicked", r)
	}
	testwait.Wait(t, &c, "the background refresh")
}

func TestGoexitInAFetchReleasesWaiters(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 1)
	h.fetch = func(context.Context, string, int32) (Lease[string], error) {
		runtime.Goexit()
		return Lease[string]{}, nil
	}
	var c Cell[string]
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		c.Get(context.Background(), cellHost{h})
	}()
	testwait.Receive(t, g.entered, "the fetch")
	waiter := getAsync(context.Background(), &c, h)
	testwait.Receive(t, h.joined, "the waiter joining")
	close(g.release)
	testwait.Receive(t, leaderDone, "the leader's goroutine ending")
	if r := testwait.Receive(t, waiter, "the waiter returning"); !errors.Is(r.err, recovered.ErrPanicked) || !strings.Contains(r.err.Error(), "Goexit") {
		t.Errorf("waiter got %v, want an error naming runtime.Goexit", r)
	}
}

func TestAPanickingObserverDoesNotBreakTheCache(t *testing.T) {
	h := &panickyObserver{testHost: newTestHost()}
	var c Cell[string]
	for range 2 {
		v, err := c.Get(context.Background(), h)
		if v != "v-1" || err != nil {
			t.Fatalf("got (%q, %v), want v-1", v, err)
		}
	}
	h.advance(56 * time.Minute)
	c.Get(context.Background(), h)
	testwait.Wait(t, &c, "the background refresh")
	if v, _ := c.Get(context.Background(), h); v != "v-2" {
		t.Errorf("after a refresh with a panicking observer got %q, want v-2", v)
	}
}

type panickyObserver struct{ *testHost }

func (p *panickyObserver) Fetch(ctx context.Context, _ struct{}) (Lease[string], error) {
	return p.testHost.Fetch(ctx, "")
}
func (p *panickyObserver) Observe(Event[struct{}, string]) { panic("observer") }

func TestInvalidate(t *testing.T) {
	// Each step is "get" (its value recorded) or "invalidate:VALUE".
	cases := []struct {
		name        string
		steps       []string
		want        []string
		wantFetches int32
	}{
		{"the cached value", []string{"get", "invalidate:v-1", "get", "get"}, []string{"v-1", "v-2", "v-2"}, 2},
		{"a value never served", []string{"get", "invalidate:other", "get"}, []string{"v-1", "v-1"}, 1},
		{"before any fetch", []string{"invalidate:v-1", "get"}, []string{"v-1"}, 1},
		{"twice", []string{"get", "invalidate:v-1", "invalidate:v-1", "get"}, []string{"v-1", "v-2"}, 2},
		{"a late report about a replaced value", []string{"get", "invalidate:v-1", "get", "invalidate:v-1", "get"}, []string{"v-1", "v-2", "v-2"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHost()
			var c Cell[string]
			var got []string
			for _, step := range tc.steps {
				if v, ok := strings.CutPrefix(step, "invalidate:"); ok {
					c.Invalidate(func(cur string) bool { return cur == v })
					continue
				}
				got = append(got, mustGet(t, &c, h))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("values served %v, want %v", got, tc.want)
			}
			if n := h.calls.Load(); n != tc.wantFetches {
				t.Errorf("fetches = %d, want %d", n, tc.wantFetches)
			}
		})
	}
}

// A report is about the state it judged: a value published while the report
// is judged (here from inside match, as another caller's report and miss)
// is not dropped by it.
func TestInvalidateNeverDropsANewerValue(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	dropped := c.Invalidate(func(v string) bool {
		c.Invalidate(func(string) bool { return true })
		if got := mustGet(t, &c, h); got != "v-2" {
			t.Fatalf("the other caller got %q, want v-2", got)
		}
		return v == "v-1"
	})
	if dropped {
		t.Error("Invalidate says it dropped v-1, which had been replaced")
	}
	if got := mustGet(t, &c, h); got != "v-2" || h.calls.Load() != 2 {
		t.Errorf("got %q after %d fetches, want v-2 kept (2 fetches)", got, h.calls.Load())
	}
}

// A failed refresh records its retry time without replacing the state, so
// an Invalidate that judged the state before the failure still drops it.
func TestInvalidateAfterAFailedRefresh(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	s := c.e.st.Load()
	h.fetch = func(context.Context, string, int32) (Lease[string], error) {
		return Lease[string]{}, errors.New("down")
	}
	h.advance(56 * time.Minute)
	mustGet(t, &c, h)
	testwait.Wait(t, &c, "the background refresh")
	if c.e.st.Load() != s {
		t.Fatal("a failed refresh replaced the state")
	}
	if !c.Invalidate(func(v string) bool { return v == "v-1" }) {
		t.Error("Invalidate did not drop v-1 after a failed refresh")
	}
}

// Invalidated while a background refresh is in flight, the value is no
// longer served: callers join the refresh and get its result.
func TestInvalidateDuringABackgroundRefresh(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	g := newGate()
	h.gate.Store(g)
	h.joined = make(chan string, 3)
	h.advance(56 * time.Minute)
	mustGet(t, &c, h)
	testwait.Receive(t, g.entered, "the background refresh")
	c.Invalidate(func(v string) bool { return v == "v-1" })
	var waiters []<-chan result
	for range 3 {
		waiters = append(waiters, getAsync(context.Background(), &c, h))
	}
	for range 3 {
		testwait.Receive(t, h.joined, "a caller joining the refresh")
	}
	close(g.release)
	for _, ch := range waiters {
		if r := testwait.Receive(t, ch, "a caller returning"); r.v != "v-2" {
			t.Errorf("got %v, want the refresh's v-2", r)
		}
	}
	testwait.Wait(t, &c, "the background refresh")
	if n := h.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

// Goroutines read and invalidate at once, on a clock that alternates between
// the warm and the refresh window: run with -race. No goroutine is served a
// value it invalidated (values are unique per fetch); this is what publishing
// and ending a flight under one lock guarantees.
func TestInvalidateConcurrently(t *testing.T) {
	h := &flipHost{testHost: newTestHost()}
	var c Cell[string]
	const goroutines, rounds = 8, 300
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dropped := map[string]bool{}
			for i := range rounds {
				v, err := c.Get(context.Background(), h)
				if err != nil {
					t.Error(err)
					return
				}
				if dropped[v] {
					t.Errorf("goroutine %d was served %s after invalidating it", g, v)
					return
				}
				if (i+g)%3 == 0 {
					c.Invalidate(func(cur string) bool { return cur == v })
					dropped[v] = true
				}
			}
		}()
	}
	testwait.Wait(t, &wg, "every concurrent caller returning")
	testwait.Wait(t, &c, "the background refresh")
}

// flipHost's clock alternates between two instants, in and out of the
// refresh window of values fetched at 0.
type flipHost struct {
	*testHost
	ticks atomic.Int64
}

func (f *flipHost) Now() time.Duration {
	if f.ticks.Add(1)%2 == 0 {
		return 56 * time.Minute
	}
	return time.Minute
}

func (f *flipHost) Fetch(ctx context.Context, _ struct{}) (Lease[string], error) {
	n := f.calls.Add(1)
	return Lease[string]{Value: fmt.Sprintf("v-%d", n), RefreshAt: 55 * time.Minute, ExpiresAt: time.Hour}, nil
}

func (f *flipHost) Observe(Event[struct{}, string]) {}

func TestWarmPathDoesNotAllocate(t *testing.T) {
	h := newTestHost()
	var c Cell[string]
	mustGet(t, &c, h)
	ctx := context.Background()
	var host Host[struct{}, string] = cellHost{h}
	if n := testing.AllocsPerRun(1000, func() { _, _ = c.Get(ctx, host) }); n != 0 {
		t.Errorf("warm Cell.Get: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = c.Get(ctx, cellHost{h}) }); n != 0 {
		t.Errorf("warm Cell.Get with a one-pointer host converted per call: %v allocations, want 0", n)
	}
	for _, keys := range []int{1, smallTable, 100} {
		var tb Table[string, string]
		names := make([]string, keys)
		for i := range names {
			names[i] = fmt.Sprintf("key-%03d", i)
			for range 2 * keys { // enough lookups to leave the pending map
				if _, err := tget(&tb, ctx, h, names[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, name := range names {
			if tb.lookup(&name) == nil {
				t.Errorf("%d keys: %s is still looked up under the lock", keys, name)
			}
		}
		i := 0
		n := testing.AllocsPerRun(1000, func() {
			_, _ = tb.Get(ctx, h, &names[i%keys])
			i++
		})
		if n != 0 {
			t.Errorf("warm Table.Get with %d keys: %v allocations, want 0", keys, n)
		}
	}
}

func BenchmarkCellWarm(b *testing.B) {
	h := newTestHost()
	var c Cell[string]
	ctx := context.Background()
	c.Get(ctx, cellHost{h})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Get(ctx, cellHost{h})
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Get(ctx, cellHost{h})
			}
		})
	})
}
