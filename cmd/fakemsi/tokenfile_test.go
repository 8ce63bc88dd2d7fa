package main

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
	// Each wait begins after the previous write ended, so receiving from
	// asked after a tick means the file has been rewritten.
	if d := <-asked; d != 48*time.Minute {
		t.Errorf("waits %s, want 48m (80%% of 1h)", d)
	}
	for i := 2; i <= 3; i++ {
		ticks <- time.Now()
		if d := <-asked; d != 48*time.Minute {
			t.Errorf("waits %s, want 48m", d)
		}
		if got := read(); got != fmt.Sprintf("token-%d", i) {
			t.Errorf("after rotation %d: %q", i-1, got)
		}
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	ticks <- time.Now()
	<-asked
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
	<-done
}
