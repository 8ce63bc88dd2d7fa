package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	tests := []struct {
		name              string
		attempt           int
		base, limit, want time.Duration
	}{
		{"first", 0, time.Second, time.Minute, time.Second},
		{"second", 1, time.Second, time.Minute, 2 * time.Second},
		{"fifth", 4, 500 * time.Millisecond, time.Minute, 8 * time.Second},
		{"capped", 10, time.Second, 30 * time.Second, 30 * time.Second},
		{"huge attempt", math.MaxInt, time.Second, 30 * time.Second, 30 * time.Second},
		{"huge limit", 100, time.Second, math.MaxInt64, math.MaxInt64},
		{"base over limit", 0, time.Minute, time.Second, time.Second},
		{"negative attempt", -3, time.Second, time.Minute, time.Second},
		{"zero base", 3, 0, time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Exponential(tt.attempt, tt.base, tt.limit); got != tt.want {
				t.Errorf("Exponential(%d, %v, %v) = %v, want %v", tt.attempt, tt.base, tt.limit, got, tt.want)
			}
		})
	}
}

func TestSleepReturnsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Sleep(ctx, time.Hour) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep() = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep(ctx, 1h) did not return within 10s of its context being cancelled")
	}
}

func TestSleepEndedContextWinsOverZero(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, d := range []time.Duration{0, -time.Second, time.Nanosecond} {
		if err := Sleep(ctx, d); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep(cancelled, %v) = %v, want context.Canceled", d, err)
		}
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(ctx, 0) = %v, want nil", err)
	}
}

func TestSleepWaits(t *testing.T) {
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), time.Millisecond) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Sleep() = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Sleep(ctx, 1ms) did not return within 10s")
	}
}
