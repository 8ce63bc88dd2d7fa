package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs each load run small and short (about two seconds each), so
// that `make load` keeps working: the criteria are the real ones.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke runs take a few seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Run("credential", func(t *testing.T) {
		r, err := Credential(ctx, CredentialConfig{Goroutines: 200, Tenants: 10, Duration: 2 * time.Second, TokenLifetime: 2 * time.Second, SigningKeyBits: 1024})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(r)
		if f := r.Failed(); f != "" {
			t.Error(f)
		}
		if r.Calls == 0 || r.TokenRequests < 10 {
			t.Errorf("%d calls, %d token requests: the run did not run", r.Calls, r.TokenRequests)
		}
	})
	t.Run("emulator", func(t *testing.T) {
		r, err := Emulator(ctx, EmulatorConfig{Clients: 20, Duration: 2 * time.Second, SigningKeyBits: 1024})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(r)
		if f := r.Failed(); f != "" {
			t.Error(f)
		}
		for _, k := range r.Kinds {
			if k.Status[200] == 0 {
				t.Errorf("no %s request succeeded", k.Kind)
			}
		}
	})
	t.Run("cache", func(t *testing.T) {
		r, err := Cache(ctx, CacheConfig{Tenants: 2000})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(r)
		if f := r.Failed(); f != "" {
			t.Error(f)
		}
	})
}

// TestCriteriaCatchFailures: each run's criteria fail on the result they
// exist to catch.
func TestCriteriaCatchFailures(t *testing.T) {
	cred := &CredentialResult{Config: CredentialConfig{Tenants: 100}, TokenRequests: 100, MaxRequests: 600}
	if f := cred.Failed(); f != "" {
		t.Errorf("a good credential run fails: %s", f)
	}
	for name, r := range map[string]CredentialResult{
		"errors":            {Config: cred.Config, TokenRequests: 100, MaxRequests: 600, Errors: 1, FirstError: "boom"},
		"too many upstream": {Config: cred.Config, TokenRequests: 601, MaxRequests: 600},
		"too few upstream":  {Config: cred.Config, TokenRequests: 99, MaxRequests: 600},
	} {
		if r.Failed() == "" {
			t.Errorf("credential run with %s passes", name)
		}
	}
	rss := func(vals ...int64) []int64 { return vals }
	ok := &EmulatorResult{Kinds: []KindResult{{Kind: "token", Status: map[int]uint64{200: 5}}}, RSS: rss(100<<20, 100<<20, 110<<20, 110<<20, 112<<20, 112<<20)}
	if f := ok.Failed(); f != "" {
		t.Errorf("a good emulator run fails: %s", f)
	}
	for name, r := range map[string]*EmulatorResult{
		"5xx":             {Kinds: []KindResult{{Kind: "token", Status: map[int]uint64{503: 1}, Unexpected5: 1}}},
		"transport error": {Kinds: []KindResult{{Kind: "graph", Status: map[int]uint64{}, Errors: 1}}},
		"4xx":             {Kinds: []KindResult{{Kind: "graph", Status: map[int]uint64{401: 1}}}},
		"growing RSS":     {RSS: rss(100<<20, 100<<20, 200<<20, 200<<20, 400<<20, 800<<20)},
	} {
		if f := r.Failed(); f == "" {
			t.Errorf("emulator run with %s passes", name)
		} else if strings.Contains(f, "eyJ") {
			t.Errorf("failure names a token")
		}
	}
	if f := (&CacheResult{Config: CacheConfig{Tenants: 10}, Warm: Phase{Allocs: 10}}).Failed(); f == "" {
		t.Error("a cache run whose warm path allocates passes")
	}
}

func TestHistogram(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	l := h.latency()
	if l.Count != 1000 || l.Max != time.Millisecond {
		t.Fatalf("count %d, max %s", l.Count, l.Max)
	}
	// Within a bucket's width (a quarter of a power of two) above the truth.
	if l.P50 < 500*time.Microsecond || l.P50 > 640*time.Microsecond {
		t.Errorf("p50 %s, want about 500µs", l.P50)
	}
	if l.P99 < 990*time.Microsecond || l.P99 > time.Millisecond {
		t.Errorf("p99 %s, want about 990µs", l.P99)
	}
}
