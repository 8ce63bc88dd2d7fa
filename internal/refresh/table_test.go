package refresh

import (
	"github.com/tenantbridge/tenantbridge/internal/testwait"

	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// tget is Table.Get with the key and the value by value.
func tget[K comparable](tb *Table[K, string], ctx context.Context, h Host[K, string], key K) (string, error) {
	p, err := tb.Get(ctx, h, &key)
	if err != nil {
		return "", err
	}
	return *p, nil
}

func TestTableKeysAreIndependent(t *testing.T) {
	h := newTestHost()
	g := newGate()
	h.gate.Store(g)
	var tb Table[string, string]
	blocked := make(chan result, 1)
	go func() {
		v, err := tget(&tb, context.Background(), h, "a")
		blocked <- result{v, err}
	}()
	testwait.Receive(t, g.entered, "key a's fetch")
	h.gate.Store(nil)
	got := make(chan result, 1)
	go func() {
		v, err := tget(&tb, context.Background(), h, "b")
		got <- result{v, err}
	}()
	if r := testwait.Receive(t, got, "key b's fetch, while a's is blocked"); r.err != nil || r.v != "v-2" {
		t.Errorf("key b got %v, want v-2", r)
	}
	close(g.release)
	if r := testwait.Receive(t, blocked, "key a's fetch returning"); r.v != "v-1" {
		t.Errorf("key a got %v, want v-1", r)
	}
}

// Keys go through the small index, the pending map and rebuilt map indexes
// without being lost or fetched twice, also when inserted concurrently (run
// with -race).
func TestTableManyKeys(t *testing.T) {
	h := newTestHost()
	var tb Table[string, string]
	const keys, goroutines = 2000, 4
	first := make([]map[string]string, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		first[g] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				k := fmt.Sprintf("tenant-%04d", (i*7+g*13)%keys)
				v, err := tget(&tb, context.Background(), h, k)
				if err != nil {
					t.Error(err)
					return
				}
				first[g][k] = v
			}
		}()
	}
	testwait.Wait(t, &wg, "every concurrent caller returning")
	if n := h.calls.Load(); n != keys {
		t.Errorf("fetches = %d, want one per key (%d)", n, keys)
	}
	if n := tb.len(); n != keys {
		t.Errorf("len = %d, want %d", n, keys)
	}
	for g := 1; g < goroutines; g++ {
		for k, v := range first[0] {
			if first[g][k] != v {
				t.Fatalf("goroutines 0 and %d got different values for %s", g, k)
			}
		}
	}
	for k, v := range first[0] {
		if got, _ := tget(&tb, context.Background(), h, k); got != v {
			t.Fatalf("%s: second round got %s, want %s", k, got, v)
		}
	}
}

// Inserting n keys copies O(n) entries in all, not O(n²) as a table copied
// on every insert would (issue 11: 16,000 tenants took 22 s).
func TestTableInsertIsAmortisedConstant(t *testing.T) {
	h := newTestHost()
	var tb Table[int, string]
	host := intHost{h}
	const keys = 50000
	for i := range keys {
		if _, err := tget(&tb, context.Background(), host, i); err != nil {
			t.Fatal(err)
		}
	}
	if tb.len() != keys {
		t.Fatalf("len = %d, want %d", tb.len(), keys)
	}
	if tb.copied > 6*keys {
		t.Errorf("rebuilds copied %d entries for %d keys, want at most %d", tb.copied, keys, 6*keys)
	}
}

type intHost struct{ h *testHost }

func (i intHost) Now() time.Duration { return i.h.Now() }
func (i intHost) Fetch(ctx context.Context, _ int) (Lease[string], error) {
	return i.h.Fetch(ctx, "")
}
func (i intHost) Observe(Event[int, string]) {}

// A key waiting in the pending map is looked up under the mutex; it must
// reach the lock-free index after a bounded number of lookups even when no
// other key arrives.
func TestTablePendingKeyBecomesLockFree(t *testing.T) {
	h := newTestHost()
	var tb Table[string, string]
	for i := range 100 {
		tget(&tb, context.Background(), h, fmt.Sprintf("k%d", i))
	}
	late := "late"
	tget(&tb, context.Background(), h, late)
	lookups := 1
	for tb.lookup(&late) == nil {
		if lookups > 100/4+smallTable+1 {
			t.Fatalf("after %d lookups the key is still only in the pending map", lookups)
		}
		tget(&tb, context.Background(), h, "late")
		lookups++
	}
}

func BenchmarkTableWarm(b *testing.B) {
	for _, keys := range []int{1, 100} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			h := newTestHost()
			var tb Table[string, string]
			ctx := context.Background()
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("tenant-%03d", i)
			}
			for range 2 * keys {
				for _, k := range names {
					tb.Get(ctx, h, &k)
				}
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					tb.Get(ctx, h, &names[i%keys])
					i++
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						tb.Get(ctx, h, &names[i%keys])
						i++
					}
				})
			})
		})
	}
}

// issue 11, finding 5: every failed key (a tenant that does not exist,
// AADSTS90002) stayed in the table for good. Keys whose fetch failed, and
// that hold no value, are dropped at the next rebuild, so a stream of
// failing keys costs a bounded table; the keys that hold values stay.
func TestTableDropsFailedKeys(t *testing.T) {
	h := newTestHost()
	h.fetch = func(ctx context.Context, key string, n int32) (Lease[string], error) {
		if len(key) > 4 && key[:4] == "bad-" {
			return Lease[string]{}, fmt.Errorf("tenant %s not found", key)
		}
		return Lease[string]{Value: "v-" + key, RefreshAt: time.Hour, ExpiresAt: 2 * time.Hour}, nil
	}
	var tb Table[string, string]
	const live, failing = 100, 20000
	for i := range live {
		if _, err := tget(&tb, context.Background(), h, fmt.Sprintf("good-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range failing {
		if _, err := tget(&tb, context.Background(), h, fmt.Sprintf("bad-%d", i)); err == nil {
			t.Fatal("a failing key succeeded")
		}
	}
	if n, bound := tb.len(), live+live/4+smallTable+1; n > bound {
		t.Errorf("after %d failed keys the table holds %d keys, want at most %d", failing, n, bound)
	}
	calls := h.calls.Load()
	for i := range live {
		k := fmt.Sprintf("good-%d", i)
		if v, err := tget(&tb, context.Background(), h, k); err != nil || v != "v-"+k {
			t.Fatalf("%s = %q, %v after the failures; want its cached value", k, v, err)
		}
	}
	if h.calls.Load() != calls {
		t.Errorf("the live keys were fetched again (%d fetches)", h.calls.Load()-calls)
	}
	// A failed key that is asked again is fetched again, once per miss.
	if _, err := tget(&tb, context.Background(), h, "bad-1"); err == nil || h.calls.Load() != calls+1 {
		t.Errorf("asking a failed key again: err %v, %d fetches; want its error from one new fetch", err, h.calls.Load()-calls)
	}
}
