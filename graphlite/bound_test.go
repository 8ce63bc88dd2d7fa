package graphlite_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// streamBody writes prefix, then filler until n bytes have been written in
// all (or the client goes away), then suffix, from one reused buffer: the
// server itself allocates next to nothing, so the allocations a test
// measures are the client's.
func streamBody(w io.Writer, prefix string, filler string, n int64, suffix string) {
	io.WriteString(w, prefix)
	chunk := []byte(strings.Repeat(filler, (64<<10)/len(filler)))
	for written := int64(len(prefix)); written < n; written += int64(len(chunk)) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
	io.WriteString(w, suffix)
}

// heapCost runs f and returns the bytes it allocated (runtime.MemStats
// TotalAlloc, the whole process's, so it is an upper bound of f's) and the
// peak live heap seen by a sampler meanwhile.
func heapCost(t testing.TB, f func()) (allocated, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var maxHeap atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > maxHeap.Load() {
				maxHeap.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	testwait.Receive(t, done, "the heap sampler's end")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > maxHeap.Load() {
		maxHeap.Store(after.HeapAlloc)
	}
	return after.TotalAlloc - before.TotalAlloc, maxHeap.Load() - min(maxHeap.Load(), before.HeapAlloc)
}

// maxCost is what one hostile response may cost the client: a few copies of
// the 1 MiB error bound per attempt (read, scrubbed, read again by azcore)
// and of a bounded page, under the race detector too, far below the hundreds of
// MiB the bodies below hold.
const maxCost = 64 << 20

// issue 11, finding 2: azcore's body download policy read an error body
// whole before graphlite's bound applied (a 300 MiB 403 added 776 MiB of
// heap), and again on every retry of a 429.
func TestHugeErrorBodiesAreBounded(t *testing.T) {
	const huge = 300 << 20
	for _, tt := range []struct {
		name   string
		status int
	}{
		{"403", http.StatusForbidden},
		{"429 retried", http.StatusTooManyRequests},
		{"500 retried by azcore", http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				if tt.status == http.StatusTooManyRequests {
					w.Header().Set("Retry-After", "1") // recorded by waits, not slept
				}
				w.WriteHeader(tt.status)
				streamBody(w, `{"error":{"code":"Forbidden","message":"`, "x", huge, `"}}`)
			}))
			defer s.Close()
			w := &waits{}
			opts := &graphlite.Options{BaseURL: s.URL + "/v1.0"}
			opts.Transport = s.Client()
			opts.Retry.RetryDelay = time.Millisecond
			opts.Retry.MaxRetries = 2
			opts.Throttle.Wait = w.wait
			opts.Throttle.MaxRetries = 2
			c, err := graphlite.New(newCredential(tenantA), opts)
			if err != nil {
				t.Fatal(err)
			}
			var getErr error
			allocated, peak := heapCost(t, func() { getErr = c.Get(context.Background(), "/devices", nil, nil) })
			t.Logf("%s with a %d MiB body, %d request(s): allocated %.1f MiB, peak heap +%.1f MiB",
				tt.name, huge>>20, requests.Load(), float64(allocated)/(1<<20), float64(peak)/(1<<20))
			var ge *graphlite.Error
			if !errors.As(getErr, &ge) || ge.StatusCode != tt.status {
				t.Fatalf("Get = %v, want a *graphlite.Error with status %d", redact(getErr), tt.status)
			}
			if allocated > maxCost {
				t.Errorf("reading the answer allocated %d MiB, want at most %d MiB", allocated>>20, maxCost>>20)
			}
			if tt.status != http.StatusForbidden && requests.Load() < 2 {
				t.Errorf("%d request(s), want the answer retried", requests.Load())
			}
		})
	}
}

// issue 11, finding 2: a 31 MiB page of tiny elements, under MaxPageBytes,
// went through Devices() at 3.9 GiB of heap. The element count per page is
// bounded too.
func TestTinyElementPageIsBounded(t *testing.T) {
	const size = 31 << 20
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		streamBody(w, `{"value":[{}`, ",{}", size, `]}`)
	}))
	defer s.Close()
	opts := &graphlite.Options{BaseURL: s.URL + "/v1.0"}
	opts.Transport = s.Client()
	c, err := graphlite.New(newCredential(tenantA), opts)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var iterErr error
	allocated, peak := heapCost(t, func() {
		for _, err := range c.Devices(context.Background(), nil) {
			if err != nil {
				iterErr = err
				break
			}
			n++
		}
	})
	t.Logf("a %d MiB page of {} elements: %d yielded, allocated %.1f MiB, peak heap +%.1f MiB", size>>20, n, float64(allocated)/(1<<20), float64(peak)/(1<<20))
	if !errors.Is(iterErr, graphlite.ErrResponseTooLarge) || !strings.Contains(fmt.Sprint(iterErr), "elements") {
		t.Errorf("Devices ended with %v, want ErrResponseTooLarge naming the element bound", redact(iterErr))
	}
	if n != 0 {
		t.Errorf("%d devices yielded from a page over the element bound; a page is all or nothing", n)
	}
	if allocated > maxCost {
		t.Errorf("the page allocated %d MiB, want at most %d MiB", allocated>>20, maxCost>>20)
	}
}

// A page at the element bound is still read; the bound is an option.
func TestMaxPageElements(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"value":[1,2,3]}`)
	}))
	defer s.Close()
	for _, tt := range []struct {
		max     int
		wantErr bool
	}{{3, false}, {2, true}, {0, false}} {
		opts := &graphlite.Options{BaseURL: s.URL + "/v1.0", MaxPageElements: tt.max}
		opts.Transport = s.Client()
		c, err := graphlite.New(newCredential(tenantA), opts)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		var iterErr error
		for v, err := range graphlite.List[int](context.Background(), c, "/x", nil) {
			if err != nil {
				iterErr = err
				break
			}
			got = append(got, v)
		}
		if (iterErr != nil) != tt.wantErr || (!tt.wantErr && len(got) != 3) {
			t.Errorf("MaxPageElements %d: got %v, %v; want error %t", tt.max, got, iterErr, tt.wantErr)
		}
	}
}

// opaqueCredential hands out a token that is not JWT-shaped, which only
// knowing the token can find in echoed text.
type opaqueCredential struct{ token string }

func (c opaqueCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// issue 11, finding 3: graphlite.Error copied error.message, error.code,
// innerError and the request-id header verbatim: a 401 echoing the bearer
// token put it in Error() and in the azcore log.
func TestErrorNeverHoldsTheBearerToken(t *testing.T) {
	jwtCred := newCredential(tenantA)
	for _, tt := range []struct {
		name   string
		cred   azcore.TokenCredential
		secret func() string // what must not appear
		echo   func(r *http.Request) string
	}{
		{"opaque token", opaqueCredential{"opaque-bearer-SECRET-0123456789abcdef"}, func() string { return "opaque-bearer-SECRET-0123456789abcdef" },
			func(r *http.Request) string { return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") }},
		{"JWT signature part", jwtCred, func() string {
			tok := jwtCred.tokens()[0]
			return tok[strings.LastIndexByte(tok, '.')+1:]
		}, func(r *http.Request) string {
			tok := r.Header.Get("Authorization")
			return tok[strings.LastIndexByte(tok, '.')+1:]
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var lines []string
			azlog.SetListener(func(ev azlog.Event, msg string) {
				mu.Lock()
				defer mu.Unlock()
				lines = append(lines, msg)
			})
			defer azlog.SetListener(nil)
			s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e := tt.echo(r)
				w.Header().Set("request-id", e)
				w.Header().Set("client-request-id", e)
				w.Header().Set("Retry-After", e)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":{"code":"InvalidAuthenticationToken %[1]s","message":"bad token %[1]s","innerError":{"request-id":"%[1]s","date":"%[1]s","client-request-id":"%[1]s","nested":{"k":["%[1]s"]}}}}`, e)
			}))
			defer s.Close()
			opts := &graphlite.Options{BaseURL: s.URL + "/v1.0"}
			opts.Transport = s.Client()
			opts.Retry.MaxRetries = -1
			c, err := graphlite.New(tt.cred, opts)
			if err != nil {
				t.Fatal(err)
			}
			getErr := c.Get(context.Background(), "/devices", nil, nil)
			var ge *graphlite.Error
			if !errors.As(getErr, &ge) {
				t.Fatalf("Get = %v, want *graphlite.Error", redact(getErr))
			}
			secret := tt.secret()
			mu.Lock()
			log := strings.Join(lines, "\n")
			mu.Unlock()
			for what, s := range map[string]string{
				"Error()": getErr.Error(), "%+v": fmt.Sprintf("%+v", getErr), "%#v": fmt.Sprintf("%#v", *ge),
				"InnerError": string(ge.InnerError), "azcore log": log,
			} {
				if strings.Contains(s, secret) {
					t.Errorf("%s holds the bearer token (%d bytes of text)", what, len(s))
				}
			}
			if !strings.Contains(ge.Message, "bad token [redacted]") {
				t.Errorf("Message = %q, want the text with the token redacted", redact(ge.Message, secret))
			}
		})
	}
}

// A $batch answer of millions of tiny responses, under MaxPageBytes, is
// refused once it holds more responses than requests, instead of decoding
// them all.
func TestTinyBatchResponsesAreBounded(t *testing.T) {
	const size = 31 << 20
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		streamBody(w, `{"responses":[{}`, ",{}", size, `]}`)
	}))
	defer s.Close()
	opts := &graphlite.Options{BaseURL: s.URL + "/v1.0"}
	opts.Transport = s.Client()
	c, err := graphlite.New(newCredential(tenantA), opts)
	if err != nil {
		t.Fatal(err)
	}
	var batchErr error
	allocated, peak := heapCost(t, func() {
		_, batchErr = c.Batch(context.Background(), []graphlite.BatchRequest{{Path: "/devices"}})
	})
	t.Logf("a %d MiB $batch answer of {} responses: allocated %.1f MiB, peak heap +%.1f MiB", size>>20, float64(allocated)/(1<<20), float64(peak)/(1<<20))
	if batchErr == nil || !strings.Contains(batchErr.Error(), "responses") {
		t.Errorf("Batch = %v, want an error about the responses", redact(batchErr))
	}
	if allocated > maxCost {
		t.Errorf("the answer allocated %d MiB, want at most %d MiB", allocated>>20, maxCost>>20)
	}
}

// The error of one response inside a $batch answer (BatchResponse.Err) is
// scrubbed of the batch request's bearer token like any *Error.
func TestBatchResponseErrorNeverHoldsTheBearerToken(t *testing.T) {
	const token = "opaque-bearer-SECRET-batch-0123456789"
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"responses":[{"id":"1","status":401,"headers":{"request-id":%q},"body":{"error":{"code":%q,"message":%q,"innerError":{"request-id":%q}}}}]}`, tok, tok, tok, tok)
	}))
	defer s.Close()
	opts := &graphlite.Options{BaseURL: s.URL + "/v1.0"}
	opts.Transport = s.Client()
	c, err := graphlite.New(opaqueCredential{token}, opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Batch(context.Background(), []graphlite.BatchRequest{{Path: "/devices"}})
	if err != nil {
		t.Fatal(redact(err, token))
	}
	berr := res[0].Err()
	var ge *graphlite.Error
	if !errors.As(berr, &ge) || ge.StatusCode != 401 {
		t.Fatalf("Err() = %v, want a *graphlite.Error 401", redact(berr, token))
	}
	for what, s := range map[string]string{"Error()": berr.Error(), "%#v": fmt.Sprintf("%#v", *ge), "InnerError": string(ge.InnerError)} {
		if strings.Contains(s, token) {
			t.Errorf("%s holds the bearer token", what)
		}
	}
}
