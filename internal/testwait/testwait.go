// Package testwait bounds the waits of tests: a test that waits for
// something that should happen at once fails with a message saying what did
// not happen, instead of hanging until go test's 10-minute timeout.
package testwait

import (
	"testing"
	"time"
)

// Bound is how long a wait lasts before the test fails. It only keeps a
// regression from hanging the run; nothing should take more than a moment.
const Bound = 10 * time.Second

// Receive returns the next value on ch, or fails t (Fatal) after Bound,
// naming what did not happen.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Bound)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %s: %s did not happen", Bound, what)
		panic("unreachable")
	}
}

// Wait calls w.Wait (a sync.WaitGroup, a cache's background work) and fails
// t after Bound if it has not returned, naming what did not finish.
func Wait(t testing.TB, w interface{ Wait() }, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { w.Wait(); close(done) }()
	Receive(t, done, what)
}

// Hold blocks until ch delivers or is closed, or until Bound has passed, and
// reports which. It is for the fakes a test holds mid-call (a server handler
// or a source waiting for the test to release it): they run on goroutines
// that must not call t.Fatal, and a test that fails before releasing them
// must not hang in its cleanup waiting for them.
func Hold[T any](ch <-chan T) bool {
	timer := time.NewTimer(Bound)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}
