package graphtest_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// TestRequestLogBoundedInBytes sends 900 requests of about 1 MiB each (a
// huge query, a huge header, many headers) to the server's handler: the heap
// grows by a bounded amount, the log stays within its byte budget, and the
// records keep clipped values. Keeping the requests whole would cost 900 MiB.
func TestRequestLogBoundedInBytes(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	h := e.srv.Handler()
	const mib = 1 << 20
	huge := strings.Repeat("a", mib-4096)
	const bound = 64 << 20
	tok := e.token(t, tenantA)
	base := heapAlloc()
	for i := range 900 {
		var req *http.Request
		switch i % 3 {
		case 0:
			req = httptest.NewRequest(http.MethodGet, "/v1.0/devices?padding="+huge, nil)
		case 1:
			req = httptest.NewRequest(http.MethodGet, "/v1.0/devices", nil)
			req.Header.Set("X-Padding", huge)
		case 2:
			req = httptest.NewRequest(http.MethodGet, "/v1.0/devices", nil)
			for j := range 1000 {
				req.Header.Add("X-Many-"+strings.Repeat("k", j%50)+string(rune('a'+j%26)), huge[:1000])
			}
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if (i+1)%100 == 0 {
			if grown := int64(heapAlloc()) - int64(base); grown > bound {
				t.Fatalf("after %d requests of 1 MiB the heap grew by %d MiB, more than %d MiB", i+1, grown>>20, bound>>20)
			}
		}
	}
	if b := graphtest.RequestLogBytes(e.srv); b > fault.MaxBytes || b == 0 {
		t.Errorf("request log holds %d bytes; want some, at most fault.MaxBytes (%d)", b, fault.MaxBytes)
	}
	reqs := e.srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request kept")
	}
	for _, r := range reqs {
		if len(r.URL) > fault.MaxURLBytes+len("…") || len(r.RawQuery) > fault.MaxURLBytes+len("…") {
			t.Fatalf("a record keeps a URL of %d bytes, a query of %d", len(r.URL), len(r.RawQuery))
		}
		if len(r.Header) > fault.MaxKeys {
			t.Fatalf("a record keeps %d headers", len(r.Header))
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if len(v) > fault.MaxTextBytes+len("…") {
					t.Fatalf("a record keeps %d bytes of header %s", len(v), k)
				}
			}
		}
		if got := r.Header.Get("Authorization"); got != "[redacted]" {
			t.Fatalf("Authorization kept as %.40q", got)
		}
	}
	if last := reqs[len(reqs)-1]; len(last.Header) != fault.MaxKeys { // request 899: 1,000 headers
		t.Errorf("last record keeps %d headers, want fault.MaxKeys (%d)", len(last.Header), fault.MaxKeys)
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
