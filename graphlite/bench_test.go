package graphlite_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

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

// BenchmarkRawPages100k fetches the same pages as BenchmarkListDevices100k
// with a bare net/http client that reads each page into one reused buffer and picks out the nextLink: about
// the cost of the fake server and TLS alone, to set against
// BenchmarkListDevices100k.
func BenchmarkRawPages100k(b *testing.B) {
	const n = 100_000
	srv := startGraph(b, graphtest.Options{Generated: map[string]int{tenantA: n}})
	cred := newCredential(tenantA, "Device.Read.All")
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{})
	if err != nil {
		b.Fatal(err)
	}
	hc := srv.Client()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		next := srv.URL() + "/v1.0/devices?$top=999"
		pages := 0
		for next != "" {
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			buf.Reset()
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			next = ""
			if _, rest, ok := bytes.Cut(buf.Bytes(), []byte(`"@odata.nextLink":"`)); ok {
				end := bytes.IndexByte(rest, '"')
				next = string(rest[:end])
			}
			pages++
		}
		if pages != 101 {
			b.Fatalf("%d pages, want 101", pages)
		}
	}
}
