package armtest_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/armtest"
	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
)

// TestListenerHasTheFakesTimeouts: the ARM listener runs with the timeouts
// of every fake's listener.
func TestListenerHasTheFakesTimeouts(t *testing.T) {
	s, _ := newServer(t, nil)
	if got := armtest.ListenerTimeouts(s); got != httpserver.Defaults {
		t.Errorf("listener timeouts %+v, want httpserver.Defaults %+v", got, httpserver.Defaults)
	}
}

// TestRequestLogBoundedInBytes sends 150 requests of about 1 MiB (a huge
// query, a huge header, many headers) to the handler: the heap grows by a
// bounded amount, the log stays within its byte budget and keeps clipped
// values. Keeping the requests whole would cost 150 MiB.
func TestRequestLogBoundedInBytes(t *testing.T) {
	s, _ := newServer(t, nil)
	h := s.Handler()
	huge := strings.Repeat("a", 1<<20-4096)
	const bound = 64 << 20
	base := heapAlloc()
	for i := range 150 {
		req := httptest.NewRequest(http.MethodGet, "/subscriptions?api-version=2022-12-01", nil)
		switch i % 3 {
		case 0:
			req = httptest.NewRequest(http.MethodGet, "/subscriptions?api-version=2022-12-01&padding="+huge, nil)
		case 1:
			req.Header.Set("X-Padding", huge)
		case 2:
			for j := range 1000 {
				req.Header.Add("X-Many-"+strings.Repeat("k", j%50)+string(rune('a'+j%26)), huge[:1000])
			}
		}
		req.Header.Set("Authorization", "Bearer not-a-token")
		h.ServeHTTP(httptest.NewRecorder(), req)
		if (i+1)%50 == 0 {
			if grown := int64(heapAlloc()) - int64(base); grown > bound {
				t.Fatalf("after %d requests of 1 MiB the heap grew by %d MiB, more than %d MiB", i+1, grown>>20, bound>>20)
			}
		}
	}
	if b := armtest.RequestLogBytes(s); b > fault.MaxBytes || b == 0 {
		t.Errorf("request log holds %d bytes; want some, at most fault.MaxBytes (%d)", b, fault.MaxBytes)
	}
	for _, r := range s.Requests() {
		if len(r.URL) > fault.MaxURLBytes+len("…") || len(r.RawQuery) > fault.MaxURLBytes+len("…") || len(r.Header) > fault.MaxKeys {
			t.Fatalf("a record keeps a URL of %d bytes, a query of %d, %d headers", len(r.URL), len(r.RawQuery), len(r.Header))
		}
		for k, vs := range r.Header {
			for _, v := range vs {
				if len(v) > fault.MaxTextBytes+len("…") {
					t.Fatalf("a record keeps %d bytes of header %s", len(v), k)
				}
			}
		}
		if got := r.Header.Get("Authorization"); got != "[redacted]" {
			t.Fatalf("Authorization kept as %.20q", got)
		}
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
