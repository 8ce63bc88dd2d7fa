package assertion

import (
	"context"
	"errors"
	"fmt"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/recovered"
)

// countingSource hands out "tok-N" assertions valid for life, counting calls.
// While block is non-nil, each call signals entered and waits for release.
type countingSource struct {
	clock   *fakeClock
	life    time.Duration
	calls   atomic.Int32
	fail    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *countingSource) Assertion(ctx context.Context) (Assertion, error) {
	n := s.calls.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return Assertion{}, ctx.Err()
		}
	}
	if s.fail.Load() {
		return Assertion{}, errors.New("source failed")
	}
	return Assertion{Token: fmt.Sprintf("tok-%d", n), ExpiresOn: s.clock.Now().Add(s.life)}, nil
}

func newTestCache(src Source, clock *fakeClock) *cache {
	return CachedWithOptions(src, &CacheOptions{Clock: clock.Now, RefreshBefore: 5 * time.Minute}).(*cache)
}

func mustGet(t *testing.T, s Source) string {
	t.Helper()
	a, err := s.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a.Token
}

func TestCachedSharesOneFetch(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour, entered: make(chan struct{}, 1), release: make(chan struct{})}
	c := newTestCache(src, clock)
	const waiters = 50
	var joined sync.WaitGroup
	joined.Add(waiters)
	c.onWait = joined.Done

	results := make(chan string, waiters+1)
	fetch := func() {
		a, err := c.Assertion(context.Background())
		if err != nil {
			t.Error(err)
		}
		results <- a.Token
	}
	go fetch()
	testwait.Receive(t, src.entered, "the first caller inside the source")
	for range waiters {
		go fetch()
	}
	testwait.Wait(t, &joined, "every other caller waiting for that fetch")
	close(src.release)
	for range waiters + 1 {
		if got := testwait.Receive(t, results, "a caller's assertion"); got != "tok-1" {
			t.Errorf("a caller got %q, want tok-1", got)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source called %d times, want 1", n)
	}
	if got := mustGet(t, c); got != "tok-1" || src.calls.Load() != 1 {
		t.Error("a warm call fetched again")
	}
}

func TestCachedErrorGoesToWaitersAndIsNotKept(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour, entered: make(chan struct{}, 1), release: make(chan struct{})}
	src.fail.Store(true)
	c := newTestCache(src, clock)
	const waiters = 5
	var joined sync.WaitGroup
	joined.Add(waiters)
	c.onWait = joined.Done
	errs := make(chan error, waiters+1)
	fetch := func() {
		_, err := c.Assertion(context.Background())
		errs <- err
	}
	go fetch()
	testwait.Receive(t, src.entered, "the source being called")
	for range waiters {
		go fetch()
	}
	testwait.Wait(t, &joined, "every other caller waiting for the fetch")
	close(src.release)
	for range waiters + 1 {
		if err := testwait.Receive(t, errs, "a caller's error"); err == nil || err.Error() != "source failed" {
			t.Errorf("a caller got error %v, want the source's error", err)
		}
	}
	src.fail.Store(false)
	src.entered = nil
	if got := mustGet(t, c); got != "tok-2" {
		t.Errorf("after a failure got %q, want a fresh fetch tok-2", got)
	}
}

func TestCachedRefreshSchedule(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	c := newTestCache(src, clock)
	steps := []struct {
		advance time.Duration
		fail    bool // the source fails from this step on
		want    string
	}{
		{0, false, "tok-1"},
		{54 * time.Minute, false, "tok-1"},               // before RefreshBefore: warm
		{time.Minute + time.Second, false, "tok-1"},      // within 5 minutes of expiry: refresh starts, tok-1 still served
		{0, false, "tok-2"},                              // the refresh's assertion
		{59*time.Minute + 29*time.Second, true, "tok-2"}, // 31 s before expiry, refresh fails: still served
		{time.Second, true, "error"},                     // within expiryMargin: never served
		{0, false, "tok-5"},                              // next call fetches again
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		src.fail.Store(s.fail)
		a, err := c.Assertion(context.Background())
		got := a.Token
		if err != nil {
			got = "error"
		}
		if got != s.want {
			t.Fatalf("step %d: got %q, want %q", i, got, s.want)
		}
		testwait.Wait(t, &c.cell, "the background refresh")
	}
}

func TestCachedRefreshAheadKeepsServingTheValidAssertion(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	logs := &logRecorder{}
	c := CachedWithOptions(src, &CacheOptions{Clock: clock.Now, Logger: logs.log}).(*cache)
	if got := mustGet(t, c); got != "tok-1" {
		t.Fatal(got)
	}
	clock.Advance(56 * time.Minute)
	src.entered, src.release = make(chan struct{}, 1), make(chan struct{})
	// The caller past the refresh point gets the valid assertion at once and
	// the refresh runs in the background.
	if got := mustGet(t, c); got != "tok-1" {
		t.Fatalf("the caller that starts the refresh got %q, want the still-valid tok-1", got)
	}
	testwait.Receive(t, src.entered, "the background refresh calling the source")
	for range 3 {
		if got := mustGet(t, c); got != "tok-1" {
			t.Fatalf("during the refresh got %q, want the still-valid tok-1", got)
		}
	}
	close(src.release)
	testwait.Wait(t, &c.cell, "the background refresh")
	src.entered = nil
	if got := mustGet(t, c); got != "tok-2" {
		t.Errorf("after the refresh got %q, want tok-2", got)
	}

	// A failed refresh keeps the valid assertion and is logged, not kept.
	clock.Advance(56 * time.Minute)
	src.fail.Store(true)
	if got := mustGet(t, c); got != "tok-2" {
		t.Errorf("during a failing refresh got %q, want tok-2", got)
	}
	testwait.Wait(t, &c.cell, "the background refresh")
	if got := mustGet(t, c); got != "tok-2" {
		t.Errorf("after a failed refresh got %q, want tok-2", got)
	}
	until := testNow.Add(time.Hour + 55*time.Minute + 30*time.Second).UTC().Format(time.RFC3339) // tok-2 came at 56 minutes
	if !strings.Contains(logs.all(), "refresh before expiry failed, keeping the current assertion until "+until+": source failed") {
		t.Errorf("the failed refresh was not logged with the time the assertion is kept until; log:\n%s", logs.all())
	}
	// The next attempt waits 30 seconds, then is not kept from succeeding.
	src.fail.Store(false)
	mustGet(t, c)
	testwait.Wait(t, &c.cell, "the background refresh")
	if n := src.calls.Load(); n != 3 {
		t.Errorf("source calls = %d right after the failed refresh, want 3 (no retry yet)", n)
	}
	clock.Advance(30 * time.Second)
	mustGet(t, c)
	testwait.Wait(t, &c.cell, "the background refresh")
	if got := mustGet(t, c); got != "tok-4" {
		t.Errorf("got %q, want tok-4 (the failure was not kept)", got)
	}
}

func TestCachedExpiryFromJWT(t *testing.T) {
	clock := newFakeClock()
	tok := makeJWT(t, testNow.Add(10*time.Minute))
	var calls atomic.Int32
	src := Func(func(context.Context) (Assertion, error) {
		calls.Add(1)
		return Assertion{Token: tok}, nil // no ExpiresOn: the exp claim decides
	})
	c := newTestCache(src, clock)
	mustGet(t, c)
	clock.Advance(4*time.Minute + 59*time.Second) // refresh starts at half the 10-minute life
	mustGet(t, c)
	if n := calls.Load(); n != 1 {
		t.Fatalf("source called %d times before the refresh point, want 1", n)
	}
	clock.Advance(2 * time.Second)
	mustGet(t, c)
	testwait.Wait(t, &c.cell, "the background refresh")
	if n := calls.Load(); n != 2 {
		t.Fatalf("source called %d times after the refresh point, want 2", n)
	}
}

func TestCachedUnknownLifetime(t *testing.T) {
	clock := newFakeClock()
	var calls atomic.Int32
	src := Func(func(context.Context) (Assertion, error) {
		calls.Add(1)
		return Assertion{Token: "opaque"}, nil
	})
	c := newTestCache(src, clock)
	mustGet(t, c)
	clock.Advance(29 * time.Second)
	mustGet(t, c)
	if calls.Load() != 1 {
		t.Fatal("an opaque token was not reused")
	}
	clock.Advance(unknownLifetime)
	mustGet(t, c)
	if calls.Load() != 2 {
		t.Fatal("an opaque token was reused past the default lifetime")
	}
}

// An assertion that has expired when it arrives is an error naming the clock
// skew it implies (issue 11, finding 9), not a value handed out unkept: Entra
// would only answer AADSTS700024 for it, far from the cause.
func TestCachedExpiredOnArrivalIsAnError(t *testing.T) {
	clock := newFakeClock()
	var calls atomic.Int32
	src := Func(func(context.Context) (Assertion, error) {
		calls.Add(1)
		return Assertion{Token: "old", ExpiresOn: testNow.Add(-10 * time.Minute)}, nil
	})
	c := newTestCache(src, clock)
	for range 2 {
		a, err := c.Assertion(context.Background())
		if !errors.Is(err, ErrExpired) {
			t.Fatalf("got err %v, want ErrExpired", err)
		}
		if a.Token != "" {
			t.Error("an expired assertion was returned with the error")
		}
		for _, want := range []string{"10m0s", "clock", "2026-11-27T09:50:00Z"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("source called %d times, want 2 (the error is not kept)", calls.Load())
	}
}

func TestCachedWaiterSurvivesTheFetchersCancellation(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour, entered: make(chan struct{}, 2), release: make(chan struct{})}
	c := newTestCache(src, clock)
	waiting := make(chan struct{}, 1)
	c.onWait = func() { waiting <- struct{}{} }

	ctx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error)
	go func() {
		_, err := c.Assertion(ctx)
		leaderErr <- err
	}()
	testwait.Receive(t, src.entered, "the source being called")
	waiterTok := make(chan string)
	go func() { waiterTok <- mustGet(t, c) }()
	testwait.Receive(t, waiting, "a caller waiting for the fetch")
	cancel()
	if err := testwait.Receive(t, leaderErr, "the cancelled caller returning"); !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled caller got %v, want context.Canceled", err)
	}
	testwait.Receive(t, src.entered, "the waiter fetching for itself")
	close(src.release)
	if got := testwait.Receive(t, waiterTok, "the waiter's assertion"); got != "tok-2" {
		t.Errorf("the waiter got %q, want tok-2", got)
	}
}

func TestCachedWaiterCancellation(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour, entered: make(chan struct{}, 1), release: make(chan struct{})}
	c := newTestCache(src, clock)
	waiting := make(chan struct{}, 1)
	c.onWait = func() { waiting <- struct{}{} }
	leader := make(chan string)
	go func() { leader <- mustGet(t, c) }()
	testwait.Receive(t, src.entered, "the source being called")
	ctx, cancel := context.WithCancel(context.Background())
	waiterErr := make(chan error)
	go func() {
		_, err := c.Assertion(ctx)
		waiterErr <- err
	}()
	testwait.Receive(t, waiting, "a caller waiting for the fetch")
	cancel()
	if err := testwait.Receive(t, waiterErr, "the cancelled waiter returning"); !errors.Is(err, context.Canceled) {
		t.Errorf("the waiter got %v, want context.Canceled", err)
	}
	close(src.release)
	if got := testwait.Receive(t, leader, "the fetching caller's assertion"); got != "tok-1" {
		t.Errorf("the fetching caller got %q, want tok-1", got)
	}
}

// A panicking source is an error for the caller that called it and for its
// waiters alike; the panic value is quoted only redacted.
func TestCachedSourcePanics(t *testing.T) {
	clock := newFakeClock()
	entered, release := make(chan struct{}), make(chan struct{})
	src := Func(func(context.Context) (Assertion, error) {
		close(entered)
		testwait.Hold(release)
		panic("boom " + testToken)
	})
	c := newTestCache(src, clock)
	waiting := make(chan struct{}, 1)
	c.onWait = func() { waiting <- struct{}{} }
	errs := make(chan error, 2)
	get := func() {
		_, err := c.Assertion(context.Background())
		errs <- err
	}
	go get()
	testwait.Receive(t, entered, "the source being called")
	go get()
	testwait.Receive(t, waiting, "the second caller waiting for the fetch")
	close(release)
	for _, who := range []string{"a caller", "the other caller"} {
		err := testwait.Receive(t, errs, who+" returning")
		if !errors.Is(err, recovered.ErrPanicked) || !strings.HasPrefix(err.Error(), "assertion: Cached: the source panicked: boom") {
			t.Errorf("%s got %q, want an error saying the source panicked", who, redactedErr(err))
		}
		if err != nil {
			checkNoSecret(t, "the panic error", err.Error())
		}
	}
}

// issue 11: a panic in the source during the background refresh killed the
// process. Now the refresh fails like any other: the still-valid assertion
// is served, the failure logged, and after expiry the error reaches callers.
func TestCachedSourcePanicsInTheBackgroundRefresh(t *testing.T) {
	clock := newFakeClock()
	var calls atomic.Int32
	src := Func(func(context.Context) (Assertion, error) {
		if calls.Add(1) > 1 {
			panic("boom")
		}
		return Assertion{Token: "tok-1", ExpiresOn: clock.Now().Add(time.Hour)}, nil
	})
	logs := &logRecorder{}
	c := CachedWithOptions(src, &CacheOptions{Clock: clock.Now, Logger: logs.log}).(*cache)
	mustGet(t, c)
	clock.Advance(56 * time.Minute)
	if got := mustGet(t, c); got != "tok-1" {
		t.Fatalf("got %q, want tok-1", got)
	}
	testwait.Wait(t, &c.cell, "the background refresh")
	if got := mustGet(t, c); got != "tok-1" {
		t.Errorf("after the panicking refresh got %q, want the still-valid tok-1", got)
	}
	until := testNow.Add(59*time.Minute + 30*time.Second).UTC().Format(time.RFC3339)
	if !strings.Contains(logs.all(), "refresh before expiry failed, keeping the current assertion until "+until+": assertion: Cached: the source panicked: boom") {
		t.Errorf("the panic was not logged as a failed refresh; log:\n%s", logs.all())
	}
	clock.Advance(4 * time.Minute)
	if _, err := c.Assertion(context.Background()); !errors.Is(err, recovered.ErrPanicked) {
		t.Errorf("after expiry err = %v, want the panic as an error", err)
	}
}

func redactedErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), testToken, "<token>")
}

func TestCachedString(t *testing.T) {
	cases := []struct {
		src  Source
		want string
	}{
		{Static(testToken), "assertion.Cached(assertion.Static)"},
		{Func(nil), "assertion.Cached(assertion.Func)"},
		{secretHolder{tok: testToken}, "assertion.Cached(assertion.secretHolder)"},
	}
	for _, tc := range cases {
		got := Cached(tc.src).(fmt.Stringer).String()
		if got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		checkNoSecret(t, "String()", got)
	}
}

// secretHolder is a Source that is not a fmt.Stringer and holds a token.
type secretHolder struct{ tok string }

func (s secretHolder) Assertion(context.Context) (Assertion, error) {
	return Assertion{Token: s.tok}, nil
}

func TestCachedWarmPathDoesNotAllocate(t *testing.T) {
	c := Cached(Static(makeJWT(t, time.Now().Add(time.Hour))))
	ctx := context.Background()
	mustGet(t, c)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Assertion(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("warm Assertion allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkCachedWarm(b *testing.B) {
	c := Cached(Static(makeJWT(b, time.Now().Add(time.Hour))))
	ctx := context.Background()
	if _, err := c.Assertion(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Assertion(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Assertion(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

func TestSourcesNeverPrintSecrets(t *testing.T) {
	clearIdentityEnv(t)
	fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
		tokenJSON(w, strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	})
	app, err := AppService(&AppServiceOptions{Endpoint: fake.URL, IdentityHeader: testHeader, Transport: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	cachedApp := Cached(app)
	mustGet(t, cachedApp) // the cache now holds the token
	path := filepath.Join(t.TempDir(), "token")
	writeToken(t, path, makeJWT(t, time.Now().Add(time.Hour)), time.Now())
	wf, err := WorkloadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wfTok := mustGet(t, wf)
	for _, src := range []Source{Static(testToken), app, cachedApp, wf} {
		for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
			out := fmt.Sprintf(verb, src)
			checkNoSecret(t, fmt.Sprintf("fmt %s of %T", verb, src), out)
			if strings.Contains(out, wfTok) {
				t.Errorf("fmt %s of %T prints the file's token", verb, src)
			}
		}
	}
}

func TestCachedInvalidate(t *testing.T) {
	// Each step is "get" (one Assertion call, its token recorded) or
	// "invalidate:TOKEN".
	cases := []struct {
		name        string
		steps       []string
		want        []string
		wantFetches int32
	}{
		{"the cached token", []string{"get", "invalidate:tok-1", "get", "get"}, []string{"tok-1", "tok-2", "tok-2"}, 2},
		{"a token never served", []string{"get", "invalidate:other", "get"}, []string{"tok-1", "tok-1"}, 1},
		{"an empty token", []string{"get", "invalidate:", "get"}, []string{"tok-1", "tok-1"}, 1},
		{"before any fetch", []string{"invalidate:tok-1", "get"}, []string{"tok-1"}, 1},
		{"twice before the next call", []string{"get", "invalidate:tok-1", "invalidate:tok-1", "get"}, []string{"tok-1", "tok-2"}, 2},
		{"a late report about the replaced token", []string{"get", "invalidate:tok-1", "get", "invalidate:tok-1", "get"}, []string{"tok-1", "tok-2", "tok-2"}, 2},
		{"the replacement too", []string{"get", "invalidate:tok-1", "get", "invalidate:tok-2", "get"}, []string{"tok-1", "tok-2", "tok-3"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			src := &countingSource{clock: clock, life: time.Hour}
			c := newTestCache(src, clock)
			var got []string
			for _, step := range tc.steps {
				if tok, ok := strings.CutPrefix(step, "invalidate:"); ok {
					c.Invalidate(tok)
					continue
				}
				got = append(got, mustGet(t, c))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("tokens served (-want +got):\n%s", diff)
			}
			if n := src.calls.Load(); n != tc.wantFetches {
				t.Errorf("source called %d times, want %d", n, tc.wantFetches)
			}
		})
	}
}

func TestCachedIsAnInvalidator(t *testing.T) {
	if _, ok := Cached(Static(testToken)).(Invalidator); !ok {
		t.Error("Cached's Source does not implement Invalidator")
	}
}

func TestCachedInvalidateLogsWithoutTheToken(t *testing.T) {
	clock := newFakeClock()
	tok := makeJWT(t, testNow.Add(time.Hour))
	logs := &logRecorder{}
	c := CachedWithOptions(Static(tok), &CacheOptions{Clock: clock.Now, Logger: logs.log}).(*cache)
	mustGet(t, c)
	c.Invalidate("not the cached one")
	if logs.all() != "" {
		t.Error("an ignored report was logged")
	}
	c.Invalidate(tok)
	out := logs.all()
	if !strings.Contains(out, "reported rejected") {
		t.Error("dropping the cached assertion was not logged")
	}
	if where := leak.Find(out, tok); where != "" {
		t.Errorf("the log contains %s", where)
	}
}

// Callers after Invalidate share one new fetch, and a report that arrives
// while that fetch is in flight does not discard its result.
func TestCachedInvalidateThenConcurrentCallersShareOneFetch(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	c := newTestCache(src, clock)
	if got := mustGet(t, c); got != "tok-1" {
		t.Fatal(got)
	}
	src.entered, src.release = make(chan struct{}, 1), make(chan struct{})
	c.Invalidate("tok-1")

	const waiters = 20
	var joined sync.WaitGroup
	joined.Add(waiters)
	c.onWait = joined.Done
	results := make(chan string, waiters+1)
	fetch := func() { results <- mustGet(t, c) }
	go fetch()
	testwait.Receive(t, src.entered, "the first caller after Invalidate fetching")
	for range waiters {
		go fetch()
	}
	testwait.Wait(t, &joined, "every other caller waiting for the fetch")
	c.Invalidate("tok-1") // a late report about the old assertion
	close(src.release)
	for range waiters + 1 {
		if got := testwait.Receive(t, results, "a caller's assertion"); got != "tok-2" {
			t.Errorf("a caller got %q, want tok-2", got)
		}
	}
	src.entered = nil
	if got := mustGet(t, c); got != "tok-2" {
		t.Errorf("after the fetch got %q, want the fresh tok-2 kept", got)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2", n)
	}
}

// While one caller refreshes ahead of expiry, the others normally keep the
// current assertion; once it is invalidated they wait for the refresh instead.
func TestCachedInvalidateDuringRefreshAhead(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("refresh fails %t", fail), func(t *testing.T) {
			clock := newFakeClock()
			src := &countingSource{clock: clock, life: time.Hour}
			c := newTestCache(src, clock)
			if got := mustGet(t, c); got != "tok-1" {
				t.Fatal(got)
			}
			clock.Advance(56 * time.Minute) // within RefreshBefore
			src.fail.Store(fail)
			src.entered, src.release = make(chan struct{}, 1), make(chan struct{})
			type result struct {
				tok string
				err error
			}
			get := func(out chan<- result) {
				a, err := c.Assertion(context.Background())
				out <- result{a.Token, err}
			}
			if got := mustGet(t, c); got != "tok-1" {
				t.Fatalf("the caller starting the refresh got %q, want the still-valid tok-1", got)
			}
			testwait.Receive(t, src.entered, "the background refresh calling the source")
			if got := mustGet(t, c); got != "tok-1" {
				t.Fatalf("during the refresh got %q, want the still-valid tok-1", got)
			}
			c.Invalidate("tok-1")

			const waiters = 3
			var joined sync.WaitGroup
			joined.Add(waiters)
			c.onWait = joined.Done
			others := make(chan result, waiters)
			for range waiters {
				go get(others)
			}
			testwait.Wait(t, &joined, "the other callers waiting for the refresh rather than taking tok-1")
			close(src.release)
			want := result{tok: "tok-2"}
			if fail {
				want = result{tok: "error"}
			}
			for range waiters {
				r := testwait.Receive(t, others, "a caller returning")
				if r.err != nil {
					r.tok = "error"
				}
				if r.tok != want.tok {
					t.Errorf("a caller got %q, want %q", r.tok, want.tok)
				}
			}
			testwait.Wait(t, &c.cell, "the background refresh")
			if n := src.calls.Load(); n != 2 {
				t.Errorf("source called %d times, want 2", n)
			}
		})
	}
}

// recordingInvalidator is a Source that records the reports it receives.
type recordingInvalidator struct {
	Source
	mu    sync.Mutex
	calls []string
}

func (r *recordingInvalidator) Invalidate(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, token)
}

func TestCachedInvalidatePassesTheReportOn(t *testing.T) {
	rec := &recordingInvalidator{Source: Static(testToken)}
	Cached(rec).(Invalidator).Invalidate("tok-9")
	if diff := cmp.Diff([]string{"tok-9"}, rec.calls); diff != "" {
		t.Errorf("reports received by the wrapped source (-want +got):\n%s", diff)
	}

	// A cache over a wrapped cache (Cached does not stack directly): both
	// drop the rejected assertion.
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	inner := newTestCache(src, clock)
	outer := newTestCache(wrappedCache{inner}, clock)
	mustGet(t, outer)
	outer.Invalidate("tok-1")
	if got := mustGet(t, outer); got != "tok-2" {
		t.Errorf("after invalidating a cache over a cache got %q, want tok-2", got)
	}
}

// wrappedCache is a Source and Invalidator that is not itself a *cache.
type wrappedCache struct{ *cache }

// Cached of a Cached source is that source, whatever the options: caches do
// not stack (a second layer would hide the first one's refresh schedule and
// serve an assertion the first had dropped).
func TestCachedOfACachedSourceIsTheSame(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	c := CachedWithOptions(src, &CacheOptions{Clock: clock.Now})
	cases := []struct {
		name string
		got  Source
	}{
		{"Cached", Cached(c)},
		{"CachedWithOptions", CachedWithOptions(c, &CacheOptions{RefreshBefore: time.Hour, Clock: time.Now})},
		{"CachedWithOptions nil", CachedWithOptions(c, nil)},
		{"Cached twice", Cached(Cached(c))},
	}
	for _, tc := range cases {
		if tc.got != c {
			t.Errorf("%s of a Cached source returned a new cache, want the same one", tc.name)
		}
	}
	// The existing options win: the 5-minute default, not RefreshBefore 1h.
	mustGet(t, cases[1].got)
	clock.Advance(30 * time.Minute)
	mustGet(t, cases[1].got)
	testwait.Wait(t, &c.(*cache).cell, "the background refresh")
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source calls = %d at 30 minutes, want 1 (the second options were applied)", n)
	}
}

// issue 16: the default refresh starts at expiry minus 5 minutes, not before.
func TestCachedDefaultRefreshStartsFiveMinutesBeforeExpiry(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	c := CachedWithOptions(src, &CacheOptions{Clock: clock.Now}).(*cache)
	mustGet(t, c)
	clock.Advance(55*time.Minute - time.Nanosecond)
	mustGet(t, c)
	testwait.Wait(t, &c.cell, "the background refresh")
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("source calls = %d just before expiry minus 5 minutes, want 1", n)
	}
	clock.Advance(time.Nanosecond)
	mustGet(t, c)
	testwait.Wait(t, &c.cell, "the background refresh")
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source calls = %d at expiry minus 5 minutes, want 2 (a refresh)", n)
	}
}

// Many goroutines read and invalidate at once, some within the refresh
// window: run with -race. No goroutine is ever served a token again after it
// invalidated that token (tokens are unique per fetch), and nothing fails.
func TestCachedInvalidateConcurrently(t *testing.T) {
	// The clock alternates between two instants so that entries fetched at
	// the earlier one are in their refresh window at the later one, and both
	// the warm and the refresh-ahead paths race with Invalidate.
	var ticks atomic.Int64
	clock := func() time.Time {
		if ticks.Add(1)%2 == 0 {
			return testNow.Add(59 * time.Minute)
		}
		return testNow.Add(56 * time.Minute)
	}
	var calls atomic.Int64
	src := Func(func(context.Context) (Assertion, error) {
		n := calls.Add(1)
		return Assertion{Token: fmt.Sprintf("tok-%d", n), ExpiresOn: testNow.Add(time.Hour)}, nil
	})
	c := CachedWithOptions(src, &CacheOptions{Clock: clock})
	defer testwait.Wait(t, &c.(*cache).cell, "the background refresh")
	inv := c.(Invalidator)
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dropped := map[string]bool{}
			for i := range rounds {
				a, err := c.Assertion(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if dropped[a.Token] {
					t.Errorf("goroutine %d was served an assertion it had invalidated", g)
					return
				}
				if (i+g)%3 == 0 {
					inv.Invalidate(a.Token)
					dropped[a.Token] = true
				}
			}
		}()
	}
	testwait.Wait(t, &wg, "every reader and invalidator finishing")
}

// A fetch that fails with a timeout of its own (an http.Client's Timeout
// matches context.DeadlineExceeded) while the fetching caller's context is
// live is the source's answer: its waiters share it rather than each fetching
// again, one after another, from a source that is not answering.
func TestCachedWaiterSharesTheSourcesTimeout(t *testing.T) {
	clock := newFakeClock()
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	src := Func(func(context.Context) (Assertion, error) {
		if calls.Add(1) == 1 {
			close(entered)
			testwait.Hold(release)
		}
		return Assertion{}, fmt.Errorf("assertion: IMDS: %w", context.DeadlineExceeded)
	})
	c := newTestCache(src, clock)
	waiting := make(chan struct{}, 1)
	c.onWait = func() { waiting <- struct{}{} }
	errs := make(chan error, 2)
	get := func() {
		_, err := c.Assertion(context.Background())
		errs <- err
	}
	go get()
	testwait.Receive(t, entered, "the source being called")
	go get()
	testwait.Receive(t, waiting, "a caller waiting for the fetch")
	close(release)
	for range 2 {
		if err := testwait.Receive(t, errs, "a caller's error"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the source's timeout", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("source calls = %d, want 1 (the waiter shares the fetch)", n)
	}
}

// A RefreshBefore shorter than the margin in which an assertion is no longer
// served would leave no window for refreshing ahead: it is raised to a minute.
func TestCachedShortRefreshBeforeStillRefreshesAhead(t *testing.T) {
	clock := newFakeClock()
	src := &countingSource{clock: clock, life: time.Hour}
	c := CachedWithOptions(src, &CacheOptions{Clock: clock.Now, RefreshBefore: 10 * time.Second}).(*cache)
	if got := mustGet(t, c); got != "tok-1" {
		t.Fatalf("first call: %q", got)
	}
	clock.Advance(59*time.Minute + 15*time.Second) // 45 s before expiry: past a 1-minute lead, before the 30 s margin
	if got := mustGet(t, c); got != "tok-1" {
		t.Errorf("45 s before expiry got %q, want the still-valid tok-1 while the refresh runs", got)
	}
	testwait.Wait(t, &c.cell, "the background refresh")
	if got := mustGet(t, c); got != "tok-2" {
		t.Errorf("45 s before expiry with RefreshBefore 10 s: got %q, want a refresh ahead (tok-2)", got)
	}
}
