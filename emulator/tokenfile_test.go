package emulator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestTokenFileRotator drives the rotator with a clock the test controls: the
// file is rewritten at 80% of the lifetime, every time, and a failed issue
// keeps the old token and is reported.
func TestTokenFileRotator(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	ticks := make(chan time.Time)
	asked := make(chan time.Duration) // each wait the rotator starts
	var mu sync.Mutex
	n := 0
	fail := false
	r := &tokenFileRotator{
		path:     path,
		lifetime: time.Hour,
		issue: func() (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return "", errors.New("issuer down")
			}
			n++
			return fmt.Sprintf("token-%d", n), nil
		},
		after: func(d time.Duration) <-chan time.Time {
			asked <- d
			return ticks
		},
	}
	if err := r.write(); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(); got != "token-1" {
		t.Fatalf("first token %q", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan error, 10)
	done := make(chan struct{})
	go func() {
		r.run(ctx, func(err error) { reports <- err })
		close(done)
	}()
	// recv bounds every wait on the rotator, naming what did not happen.
	waitAsked := func(what string) time.Duration {
		t.Helper()
		select {
		case d := <-asked:
			return d
		case <-time.After(10 * time.Second):
			t.Fatalf("the rotator did not start waiting %s", what)
			return 0
		}
	}
	tick := func() {
		t.Helper()
		select {
		case ticks <- time.Now():
		case <-time.After(10 * time.Second):
			t.Fatal("the rotator did not wait for its tick")
		}
	}
	// Each wait begins after the previous write ended, so receiving from
	// asked after a tick means the file has been rewritten.
	if d := waitAsked("after the first write"); d != 48*time.Minute {
		t.Errorf("waits %s, want 48m (80%% of 1h)", d)
	}
	for i := 2; i <= 3; i++ {
		tick()
		if d := waitAsked(fmt.Sprintf("after rotation %d", i-1)); d != 48*time.Minute {
			t.Errorf("waits %s, want 48m", d)
		}
		if got := read(); got != fmt.Sprintf("token-%d", i) {
			t.Errorf("after rotation %d: %q", i-1, got)
		}
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	tick()
	waitAsked("after a failed rotation")
	select {
	case err := <-reports:
		if err == nil || err.Error() != "issuer down" {
			t.Errorf("report %v", err)
		}
	default:
		t.Error("a failed rotation was not reported")
	}
	if got := read(); got != "token-3" {
		t.Errorf("after a failed rotation the file holds %q, want the previous token", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the rotator did not stop when its context ended")
	}
}
