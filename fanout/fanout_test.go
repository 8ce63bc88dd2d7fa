package fanout

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/recovered"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

func TestRunOrderErrorsAndParallelism(t *testing.T) {
	tenants := []string{"a", "b", "c", "d", "e", "f", "a"}
	var running, peak atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, len(tenants))
	done := make(chan []Result[string], 1)
	go func() {
		done <- Run(context.Background(), tenants, &Options{Parallelism: 2}, func(ctx context.Context, tenant string) (string, error) {
			now := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			started <- struct{}{}
			testwait.Hold(release)
			if tenant == "c" {
				return "partial", errors.New("c failed")
			}
			return strings.ToUpper(tenant), nil
		})
	}()
	// Two calls start; a third must wait for one of them to return.
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the first two calls did not start within 10s")
		}
	}
	select {
	case <-started:
		t.Fatal("a third call started while two were running with Parallelism 2")
	default:
	}
	close(release)
	var results []Result[string]
	select {
	case results = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of the calls being released")
	}
	var got []string
	for _, r := range results {
		got = append(got, fmt.Sprint(r.Tenant, "=", r.Value, " ", r.Err))
	}
	want := []string{"a=A <nil>", "b=B <nil>", "c=partial c failed", "d=D <nil>", "e=E <nil>", "f=F <nil>", "a=A <nil>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d calls ran at once, want at most 2", p)
	}
}

func TestRunCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Bool
	for _, r := range Run(ctx, []string{"a", "b"}, nil, func(context.Context, string) (int, error) { ran.Store(true); return 1, nil }) {
		if !errors.Is(r.Err, context.Canceled) || r.Value != 0 {
			t.Errorf("cancelled Run: %+v, want context.Canceled and no value", r)
		}
	}
	if ran.Load() {
		t.Error("fn ran after the context ended")
	}
}

func TestRunStopsStartingWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	results := Run(ctx, []string{"a", "b", "c"}, &Options{Parallelism: 1}, func(ctx context.Context, tenant string) (int, error) {
		calls.Add(1)
		cancel() // the first tenant's call ends the run
		return 1, nil
	})
	if n := calls.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want 1", n)
	}
	if results[0].Err != nil || results[0].Value != 1 {
		t.Errorf("first tenant: %+v, want its own result", results[0])
	}
	for _, r := range results[1:] {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("tenant %s: %v, want context.Canceled", r.Tenant, r.Err)
		}
	}
}

func TestRunRecoversPanics(t *testing.T) {
	results := Run(context.Background(), []string{"ok", "bad"}, nil, func(_ context.Context, tenant string) (int, error) {
		if tenant == "bad" {
			panic("boom")
		}
		return 7, nil
	})
	if results[0].Value != 7 || results[0].Err != nil {
		t.Errorf("ok tenant: %+v", results[0])
	}
	if results[1].Err == nil || !strings.Contains(results[1].Err.Error(), "for tenant bad panicked: boom") {
		t.Errorf("panicking tenant: %+v, want its panic as the error", results[1])
	}
}

// A panic value is user data: it may quote a token or forge a log line with a
// newline, and it may be huge. The error holds it redacted, on one line,
// clipped.
func TestRunRedactsAndClipsPanicValues(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbg"
	results := Run(context.Background(), []string{"bad"}, nil, func(context.Context, string) (int, error) {
		panic("token " + jwt + "\nforged log line " + strings.Repeat("x", 10_000))
	})
	err := results[0].Err
	if !errors.Is(err, recovered.ErrPanicked) {
		t.Fatalf("result %+v, want an error matching recovered.ErrPanicked", results[0])
	}
	msg := err.Error()
	if strings.Contains(msg, "eyJ") || strings.Contains(msg, "c2lnbmF0dXJl") || strings.Contains(msg, "\n") {
		t.Errorf("error %.120q quotes the token or keeps the newline", msg)
	}
	if !strings.Contains(msg, "token [jwt redacted] forged log line") || len(msg) > 300 {
		t.Errorf("error of %d bytes %.120q, want the redacted value clipped", len(msg), msg)
	}
}

// runtime.Goexit in fn ends its goroutine without a return value; the tenant
// must get an error, not a zero value with a nil error that reads as success.
func TestRunGoexitIsAnError(t *testing.T) {
	results := Run(context.Background(), []string{"ok", "exits"}, nil, func(_ context.Context, tenant string) (int, error) {
		if tenant == "exits" {
			runtime.Goexit()
		}
		return 7, nil
	})
	if results[0].Value != 7 || results[0].Err != nil {
		t.Errorf("ok tenant: %+v", results[0])
	}
	if r := results[1]; r.Value != 0 || !errors.Is(r.Err, recovered.ErrPanicked) || !strings.Contains(r.Err.Error(), "for tenant exits called runtime.Goexit") {
		t.Errorf("tenant calling runtime.Goexit: %+v, want an error naming it", r)
	}
}

func TestRunNoTenants(t *testing.T) {
	if got := Run(context.Background(), nil, nil, func(context.Context, string) (int, error) { return 0, nil }); len(got) != 0 {
		t.Errorf("Run(no tenants) = %v, want none", got)
	}
}
