package graphlite_test

import (
	"context"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// TestMemoryDoesNotGrowWithPages lists a generated tenant and compares the
// live heap after N pages with the live heap after 3N pages: List holds one
// page, so twenty more pages (about 20,000 devices, some 10 MiB if they were
// kept) must not show up.
func TestMemoryDoesNotGrowWithPages(t *testing.T) {
	const (
		top     = 999
		n       = 10
		total   = 3 * n
		maxGrow = 4 << 20
	)
	srv := startGraph(t, graphtest.Options{Generated: map[string]int{tenantA: total*top + 1}})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	heapAt := map[int]uint64{}
	seen := 0
	for _, err := range c.Devices(context.Background(), &graphlite.DevicesOptions{Top: top}) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
		if seen == n*top || seen == total*top {
			heapAt[seen] = liveHeap()
		}
	}
	if seen != total*top+1 {
		t.Fatalf("listed %d devices, want %d", seen, total*top+1)
	}
	small, large := heapAt[n*top], heapAt[total*top]
	t.Logf("live heap after %d pages: %d KiB; after %d pages: %d KiB", n, small>>10, total, large>>10)
	if large > small+maxGrow {
		t.Errorf("live heap grew by %d KiB over %d more pages", (large-small)>>10, total-n)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkListDevices100k lists 100,000 generated devices (all default
// properties, 999 per page) through graphlite from an in-process graphtest
// over TLS. B/op and B/device include the fake server's allocations, since
// both run in the benchmark's process.
func BenchmarkListDevices100k(b *testing.B) {
	const n = 100_000
	srv := startGraph(b, graphtest.Options{Generated: map[string]int{tenantA: n}})
	c := newClient(b, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	q := url.Values{"$top": {"999"}}
	ctx := context.Background()
	var before, after runtime.MemStats
	b.ReportAllocs()
	runtime.ReadMemStats(&before)
	start := time.Now()
	b.ResetTimer()
	for b.Loop() {
		seen := 0
		for _, err := range graphlite.List[graphlite.Device](ctx, c, "/devices", q) {
			if err != nil {
				b.Fatal(err)
			}
			seen++
		}
		if seen != n {
			b.Fatalf("listed %d devices, want %d", seen, n)
		}
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	devices := float64(n) * float64(b.N)
	b.ReportMetric(devices/elapsed.Seconds(), "devices/s")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/devices, "B/device")
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heapinuse-MiB")
}
