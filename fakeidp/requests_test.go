package fakeidp

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// heapGrowthBound is how much the heap may grow while a fake takes 900
// requests of 1 MiB: the log's budget (fault.MaxBytes) plus room for the
// collector's timing. Keeping the requests whole would cost 900 MiB.
const heapGrowthBound = 64 << 20

// TestRequestLogBoundedInBytes sends 900 requests of about 1 MiB each (a
// huge form value, a huge query value, a form of many small keys) to both
// listeners: the heap grows by a bounded amount, the log stays within its
// byte budget, and the records keep clipped values.
func TestRequestLogBoundedInBytes(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	c := s.Client()
	const mib = 1 << 20
	huge := strings.Repeat("a", mib-4096)
	var many strings.Builder
	for i := 0; many.Len() < mib-4096; i++ {
		fmt.Fprintf(&many, "k%06d=v&", i)
	}
	tokenURL := s.URL() + "/" + DefaultConsentedTenantID + "/oauth2/v2.0/token"
	send := func(i int) {
		var req *http.Request
		var err error
		// Mostly one huge value; every ninth a form of many small keys,
		// which costs the parser (and the race detector) far more.
		switch {
		case i%9 == 8:
			req, err = http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(many.String()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		case i%2 == 0:
			req, err = http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials&client_id="+DefaultAppClientID+"&x-client-SKU="+huge))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			req, err = http.NewRequest(http.MethodGet, s.AppServiceEndpoint()+"?api-version=2019-08-01&resource=api://AzureADTokenExchange&x-padding="+huge, nil)
			req.Header.Set("X-IDENTITY-HEADER", s.IdentityHeader())
		}
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	base := heapAlloc()
	for i := range 900 {
		send(i)
		if (i+1)%100 == 0 {
			if grown := int64(heapAlloc()) - int64(base); grown > heapGrowthBound {
				t.Fatalf("after %d requests of 1 MiB the heap grew by %d MiB, more than %d MiB", i+1, grown>>20, heapGrowthBound>>20)
			}
		}
	}
	if b := s.requests.Bytes(); b > fault.MaxBytes || b == 0 {
		t.Errorf("request log holds %d bytes; want some, at most fault.MaxBytes (%d)", b, fault.MaxBytes)
	}
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request kept")
	}
	last := reqs[len(reqs)-1] // request 899: the form of many keys
	if len(last.Form) > fault.MaxKeys {
		t.Errorf("last record keeps %d form keys, more than fault.MaxKeys", len(last.Form))
	}
	for _, r := range reqs {
		for k, vs := range r.Form {
			for _, v := range vs {
				if len(v) > fault.MaxTextBytes+len("…") {
					t.Fatalf("a record keeps %d bytes of form value %q", len(v), k)
				}
			}
		}
	}
	var sawHuge bool
	for _, r := range reqs {
		if v := r.Form.Get("x-padding"); strings.HasPrefix(v, "aaaa") && strings.HasSuffix(v, "…") {
			sawHuge = true
		}
	}
	if !sawHuge {
		t.Error("no managed-identity record keeps its clipped padding")
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
