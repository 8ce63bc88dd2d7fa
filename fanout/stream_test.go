package fanout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/recovered"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// throttled is a ThrottleError, as *graphlite.Error is for a 429.
type throttled struct {
	appWide    bool
	retryAfter time.Duration
}

func (e *throttled) Error() string { return "throttled" }
func (e *throttled) Throttled() (bool, bool, time.Duration) {
	return true, e.appWide, e.retryAfter
}

func collect[T any](seq func(func(Result[T]) bool)) []Result[T] {
	var out []Result[T]
	for r := range seq {
		out = append(out, r)
	}
	return out
}

func TestStreamYieldsEveryTenantAsItFinishes(t *testing.T) {
	tenants := []string{"a", "b", "c", "d"}
	// b finishes first: the stream yields it before the others finish.
	releaseOthers := make(chan struct{})
	var progress []Progress
	var got []string
	for r := range Stream(context.Background(), tenants, &StreamOptions{Parallelism: 4, Progress: func(p Progress) { progress = append(progress, p) }},
		func(ctx context.Context, tenant string) (string, error) {
			if tenant != "b" && !testwait.Hold(releaseOthers) {
				return "", errors.New("never released")
			}
			if tenant == "c" {
				return "", errors.New("c failed")
			}
			return tenant + "!", nil
		}) {
		if len(got) == 0 {
			if r.Tenant != "b" {
				t.Fatalf("first result is %q, want b (the only one that could finish)", r.Tenant)
			}
			close(releaseOthers)
		}
		if r.Attempts != 1 || tenants[r.Index] != r.Tenant {
			t.Errorf("result %+v: want Attempts 1 and Index naming the tenant", r)
		}
		got = append(got, fmt.Sprint(r.Tenant, "=", r.Value, " ", r.Err))
	}
	slices.Sort(got)
	want := []string{"a=a! <nil>", "b=b! <nil>", "c= c failed", "d=d! <nil>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	last := progress[len(progress)-1]
	if last.Total != 4 || last.Done != 4 || last.Failed != 1 || last.Running != 0 {
		t.Errorf("last progress %+v, want 4 of 4 done, 1 failed, none running", last)
	}
}

func TestStreamThrottledTenantGivesUpItsSlot(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	results := collect(Stream(context.Background(), []string{"a", "b", "c"}, &StreamOptions{Parallelism: 1, Jitter: -1},
		func(ctx context.Context, tenant string) (int, error) {
			mu.Lock()
			calls = append(calls, tenant)
			n := len(calls)
			mu.Unlock()
			if tenant == "a" && n == 1 {
				return 0, fmt.Errorf("listing: %w", &throttled{retryAfter: time.Millisecond})
			}
			return 1, nil
		}))
	// With one slot, a's pause lets b and c run before a runs again.
	if diff := cmp.Diff([]string{"a", "b", "c", "a"}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for _, r := range results {
		want := 1
		if r.Tenant == "a" {
			want = 2
		}
		if r.Err != nil || r.Attempts != want {
			t.Errorf("%s: %+v, want success after %d attempts", r.Tenant, r, want)
		}
	}
}

func TestStreamAppWidePauseStopsEveryStart(t *testing.T) {
	pacer := NewPacer()
	var starts atomic.Int32
	var startedInPause atomic.Int32
	var once sync.Once
	var progress []Progress
	results := collect(Stream(context.Background(), []string{"a", "b", "c", "d", "e", "f"}, &StreamOptions{
		// One slot: a tenant pause would let the next tenant start at once.
		Parallelism: 1, Pacer: pacer, Jitter: -1,
		Progress: func(p Progress) { progress = append(progress, p) },
	}, func(ctx context.Context, tenant string) (int, error) {
		starts.Add(1)
		if pacer.appPausedUntil().After(time.Now()) {
			startedInPause.Add(1)
		}
		var err error
		once.Do(func() { err = &throttled{appWide: true, retryAfter: 20 * time.Millisecond} })
		return 0, err
	}))
	if n := startedInPause.Load(); n != 0 {
		t.Errorf("%d calls started during the application-wide pause", n)
	}
	if n := starts.Load(); n != 7 {
		t.Errorf("%d calls, want 7 (six tenants, one retried)", n)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s failed: %v", r.Tenant, r.Err)
		}
	}
	var pauses int
	var sawPaused bool
	for _, p := range progress {
		pauses = max(pauses, p.Pauses)
		sawPaused = sawPaused || !p.PausedUntil.IsZero()
	}
	if pauses != 1 || !sawPaused {
		t.Errorf("progress reported %d pauses (paused seen: %v), want 1", pauses, sawPaused)
	}
}

func TestStreamRetryBudgetAndMaxAttempts(t *testing.T) {
	always := func(context.Context, string) (int, error) {
		return 0, &throttled{retryAfter: time.Millisecond}
	}
	tenants := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name      string
		opts      StreamOptions
		wantCalls int
	}{
		{"budget of 2", StreamOptions{RetryBudget: 2, MaxAttempts: 10}, 5 + 2},
		{"no retries", StreamOptions{RetryBudget: -1}, 5},
		{"3 attempts each", StreamOptions{RetryBudget: 100, MaxAttempts: 3}, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			tc.opts.Jitter = -1
			results := collect(Stream(context.Background(), tenants, &tc.opts, func(ctx context.Context, tn string) (int, error) {
				calls.Add(1)
				return always(ctx, tn)
			}))
			if n := int(calls.Load()); n != tc.wantCalls {
				t.Errorf("%d calls, want %d", n, tc.wantCalls)
			}
			if len(results) != len(tenants) {
				t.Fatalf("%d results, want %d", len(results), len(tenants))
			}
			for _, r := range results {
				var te ThrottleError
				if !errors.As(r.Err, &te) {
					t.Errorf("%s: %v, want the throttle error once the retries are spent", r.Tenant, r.Err)
				}
			}
		})
	}
}

func TestStreamTenantTimeout(t *testing.T) {
	results := collect(Stream(context.Background(), []string{"slow", "fast"}, &StreamOptions{TenantTimeout: 10 * time.Millisecond},
		func(ctx context.Context, tenant string) (int, error) {
			if tenant == "fast" {
				return 1, nil
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(10 * time.Second):
				return 0, errors.New("the tenant timeout did not end the call")
			}
		}))
	for _, r := range results {
		switch r.Tenant {
		case "slow":
			if !errors.Is(r.Err, context.DeadlineExceeded) {
				t.Errorf("slow: %v, want context.DeadlineExceeded", r.Err)
			}
		case "fast":
			if r.Err != nil || r.Value != 1 {
				t.Errorf("fast: %+v, want 1", r)
			}
		}
	}
}

func TestStreamStopEarlyCancelsAndWaits(t *testing.T) {
	var running atomic.Int32
	n := 0
	for range Stream(context.Background(), []string{"quick", "b", "c", "d"}, &StreamOptions{Parallelism: 4},
		func(ctx context.Context, tenant string) (int, error) {
			running.Add(1)
			defer running.Add(-1)
			if tenant == "quick" {
				return 1, nil
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(10 * time.Second):
				return 0, errors.New("stopping the loop did not cancel the call")
			}
		}) {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("looped %d times", n)
	}
	if r := running.Load(); r != 0 {
		t.Errorf("%d calls still running after the loop stopped", r)
	}
}

func TestStreamCancelledContextAndPanic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Bool
	results := collect(Stream(ctx, []string{"a", "b"}, nil, func(context.Context, string) (int, error) { ran.Store(true); return 1, nil }))
	if len(results) != 2 || ran.Load() {
		t.Fatalf("cancelled: %d results, ran %v; want 2 results and no call", len(results), ran.Load())
	}
	for _, r := range results {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%+v, want context.Canceled", r)
		}
	}
	results = collect(Stream(context.Background(), []string{"p"}, nil, func(context.Context, string) (int, error) { panic("boom") }))
	if len(results) != 1 || !errors.Is(results[0].Err, recovered.ErrPanicked) {
		t.Fatalf("panic: %+v, want an error matching recovered.ErrPanicked", results)
	}
}

func TestStreamSlowsDownAboveUsage(t *testing.T) {
	pacer := NewPacer()
	pacer.Observe(95, true)  // 95 % of the application's limit
	pacer.Observe(99, false) // a tenant's usage does not slow the sweep
	var now, peak atomic.Int32
	tenants := make([]string, 40)
	for i := range tenants {
		tenants[i] = fmt.Sprint("t", i)
	}
	collect(Stream(context.Background(), tenants, &StreamOptions{Parallelism: 20, Pacer: pacer, SlowDownAbove: 80},
		func(ctx context.Context, tenant string) (int, error) {
			n := now.Add(1)
			defer now.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			return 0, nil
		}))
	// ((100-90)/(100-80))² of 20 is 5.
	if p := peak.Load(); p > 5 || p < 1 {
		t.Errorf("peak %d calls at once at 90 %% usage, want 1 to 5", p)
	}
	// A response without a percentage says no limit is near.
	pacer.Observe(0, false)
	if n := pacer.parallelism(20, 80); n != 20 {
		t.Errorf("parallelism %d after a response under 80 %%, want 20", n)
	}
}

func TestStreamSlowStart(t *testing.T) {
	tenants := make([]string, 40)
	for i := range tenants {
		tenants[i] = fmt.Sprint("t", i)
	}
	started := make(chan string, len(tenants))
	release := make(chan struct{})
	var count atomic.Int32
	done := make(chan []Result[int], 1)
	go func() {
		done <- collect(Stream(context.Background(), tenants, &StreamOptions{Parallelism: 64}, func(ctx context.Context, tenant string) (int, error) {
			count.Add(1)
			started <- tenant
			if !testwait.Hold(release) {
				return 0, errors.New("never released")
			}
			return 1, nil
		}))
	}()
	for range slowStart {
		testwait.Receive(t, started, "a start of the first round")
	}
	// Nothing has finished: a sweep begins with slowStart tenants, not
	// with Parallelism. (Give a wrong scheduler a moment to start more.)
	time.Sleep(20 * time.Millisecond)
	if n := count.Load(); n != slowStart {
		t.Errorf("%d tenants started before any finished, want %d", n, slowStart)
	}
	close(release)
	if results := testwait.Receive(t, done, "the end of the sweep"); len(results) != len(tenants) {
		t.Errorf("%d results, want %d", len(results), len(tenants))
	}
}

func TestStreamAppWidePauseHalvesParallelism(t *testing.T) {
	tenants := make([]string, 24)
	for i := range tenants {
		tenants[i] = fmt.Sprint("t", i)
	}
	pacer := NewPacer()
	release := make(chan struct{})
	started := make(chan string, 64)
	var count atomic.Int32
	var once sync.Once
	done := make(chan []Result[int], 1)
	go func() {
		done <- collect(Stream(context.Background(), tenants, &StreamOptions{Parallelism: 8, Pacer: pacer, Jitter: -1},
			func(ctx context.Context, tenant string) (int, error) {
				count.Add(1)
				started <- tenant
				throttle := false
				once.Do(func() { throttle = true })
				if throttle {
					return 0, &throttled{appWide: true, retryAfter: time.Millisecond}
				}
				if !testwait.Hold(release) {
					return 0, errors.New("never released")
				}
				return 1, nil
			}))
	}()
	for range 8 {
		testwait.Receive(t, started, "a start of the first round")
	}
	// One of the eight was throttled application-wide: seven still run,
	// which is more than half of 8, so nothing starts when the pause ends.
	deadline := time.Now().Add(testwait.Bound)
	for pacer.appPausedUntil().IsZero() || time.Now().Before(pacer.appPausedUntil()) {
		if time.Now().After(deadline) {
			t.Fatal("the pause did not begin and end")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a moment for a wrong scheduler to start more
	if n := count.Load(); n != 8 {
		t.Errorf("%d tenants started after the application-wide pause with 7 running, want 8 (half of 8 run at most)", n)
	}
	close(release)
	results := testwait.Receive(t, done, "the end of the sweep")
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Tenant, r.Err)
		}
	}
}
