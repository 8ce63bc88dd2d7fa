package assertion

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/noredirect"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// Secrets the fakes hand out. Tests check that no error, log line or String
// contains them, without ever printing them.
const (
	testHeader = "hdr-7f3a9c1e-do-not-print"
	testToken  = "eyJhbGciOiJSUzI1NiJ9.tok-b8d2-do-not-print.sig"
)

// testNow is the fixed time of tests that inject a clock.
var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// received is what a fake endpoint saw of one request.
type received struct {
	Path   string
	Query  url.Values
	Header http.Header
}

// fakeEndpoint is an httptest server that records requests and answers with
// respond(w, r, n), n counting requests from 0.
type fakeEndpoint struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newFakeEndpoint(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *fakeEndpoint {
	t.Helper()
	f := &fakeEndpoint{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, received{Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()})
		f.mu.Unlock()
		respond(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeEndpoint) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.reqs...)
}

// tokenJSON writes a success body in the App Service 2019-08-01 shape.
func tokenJSON(w http.ResponseWriter, expiresOn string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_on":%q,"resource":"api://AzureADTokenExchange","token_type":"Bearer","client_id":"c1"}`, testToken, expiresOn)
}

// imdsJSON writes a success body in the IMDS 2018-02-01 shape.
func imdsJSON(w http.ResponseWriter, expiresOn string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"refresh_token":"","expires_in":"3599","expires_on":%q,"not_before":"1506480273","resource":"api://AzureADTokenExchange","token_type":"Bearer"}`, testToken, expiresOn)
}

// waits makes src record its retry delays instead of sleeping.
func waits(t *testing.T, src Source) func() []time.Duration {
	t.Helper()
	m := msiOf(src)
	if m == nil {
		t.Fatalf("waits: %T is not an HTTP source", src)
	}
	var mu sync.Mutex
	var got []time.Duration
	m.now = func() time.Time { return testNow }
	m.wait = func(d time.Duration) time.Duration {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		return 0
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), got...)
	}
}

// checkNoSecret fails if s holds a test secret, without printing s.
func checkNoSecret(t *testing.T, what, s string) {
	t.Helper()
	if where := leak.Find(s, testToken); where != "" {
		t.Errorf("%s contains %s", what, where)
	}
	if strings.Contains(s, testHeader) {
		t.Errorf("%s contains the identity header value", what)
	}
}

// logRecorder collects log entries.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) log(e log.Event, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(e)+": "+msg)
}

func (l *logRecorder) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// httpSource builds the named protocol's source against url.
type httpSource struct {
	name   string
	newSrc func(endpoint string, c policy.Transporter, maxRetries int, maxDelay time.Duration, logger func(log.Event, string)) (Source, error)
	// path is where the fake must be mounted for the source to reach it.
	retried map[int]bool
}

var httpSources = []httpSource{
	{
		name: appServiceName,
		newSrc: func(endpoint string, c policy.Transporter, maxRetries int, maxDelay time.Duration, logger func(log.Event, string)) (Source, error) {
			return AppService(&AppServiceOptions{Endpoint: endpoint + "/msi/token", IdentityHeader: testHeader, Transport: c, MaxRetries: maxRetries, MaxRetryDelay: maxDelay, Logger: logger})
		},
		retried: map[int]bool{408: true, 429: true, 500: true, 502: true, 503: true},
	},
	{
		name: imdsName,
		newSrc: func(endpoint string, c policy.Transporter, maxRetries int, maxDelay time.Duration, logger func(log.Event, string)) (Source, error) {
			return IMDS(&IMDSOptions{Endpoint: endpoint, Transport: c, MaxRetries: maxRetries, MaxRetryDelay: maxDelay, Logger: logger})
		},
		retried: map[int]bool{404: true, 410: true, 429: true, 500: true, 502: true, 503: true},
	},
}

func TestErrorStatuses(t *testing.T) {
	const maxRetries = 2
	cases := []struct {
		status   int
		body     string
		wantCode string
		wantDesc string
		wantHint string // a fragment of the hint, per source; empty = any
	}{
		{400, `{"error":"invalid_request","error_description":"Identity not found"}`, "invalid_request", "Identity not found", "no system-assigned identity"},
		{401, `{"statusCode":401,"message":"Unauthorized"}`, "401", "Unauthorized", ""},
		// App Service knows a header value and must scrub it if echoed; IMDS
		// has none, so $SECRET stands for an ordinary word there.
		{403, `{"error":"forbidden","error_description":"header $SECRET rejected"}`, "forbidden", "header $SCRUBBED rejected", ""},
		{404, `not json at all`, "", "", ""},
		{410, `{"error":"gone","error_description":"IMDS is updating"}`, "gone", "IMDS is updating", ""},
		{429, `{"error":"throttled"}`, "throttled", "", "throttling"},
		{500, `{"statusCode":500,"message":"boom"}`, "500", "boom", "retries were exhausted"},
		{503, ``, "", "", "retries were exhausted"},
	}
	for _, hs := range httpSources {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d", hs.name, tc.status), func(t *testing.T) {
				secret, scrubbed := testHeader, "[redacted]"
				if hs.name == imdsName {
					secret, scrubbed = "value", "value"
				}
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
					w.WriteHeader(tc.status)
					fmt.Fprint(w, strings.ReplaceAll(tc.body, "$SECRET", secret))
				})
				logs := &logRecorder{}
				src, err := hs.newSrc(fake.URL, fake.Client(), maxRetries, 0, logs.log)
				if err != nil {
					t.Fatal(err)
				}
				delays := waits(t, src)
				_, err = src.Assertion(context.Background())
				var re *ResponseError
				if !errors.As(err, &re) {
					t.Fatalf("error %v is not a *ResponseError", err)
				}
				want := &ResponseError{Source: hs.name, StatusCode: tc.status, Code: tc.wantCode, Message: strings.ReplaceAll(tc.wantDesc, "$SCRUBBED", scrubbed), Identity: systemAssigned, Hint: re.Hint}
				if diff := cmp.Diff(want, re); diff != "" {
					t.Errorf("ResponseError (-want +got):\n%s", diff)
				}
				if !strings.Contains(re.Hint, tc.wantHint) {
					t.Errorf("hint %q does not mention %q", re.Hint, tc.wantHint)
				}
				wantAttempts := 1
				if hs.retried[tc.status] {
					wantAttempts = 1 + maxRetries
				}
				if got := len(fake.requests()); got != wantAttempts {
					t.Errorf("server saw %d requests, want %d", got, wantAttempts)
				}
				if got := len(delays()); got != wantAttempts-1 {
					t.Errorf("waited %d times, want %d", got, wantAttempts-1)
				}
				if !strings.HasPrefix(err.Error(), "assertion: "+hs.name+": ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				checkNoSecret(t, "error", err.Error())
				checkNoSecret(t, "log", logs.all())
			})
		}
	}
}

func TestMalformedResponses(t *testing.T) {
	cases := []struct {
		name string
		body string
		want string
	}{
		{"not JSON", `{"access_token":"` + testToken + `",`, "malformed token response"},
		{"wrong type", `{"access_token":12}`, "malformed token response"},
		{"no token", `{"expires_on":"1506484173"}`, "no access_token"},
		{"bad expires_on", `{"access_token":"` + testToken + `","expires_on":"soon"}`, "unreadable expires_on"},
	}
	for _, hs := range httpSources {
		for _, tc := range cases {
			t.Run(hs.name+"/"+tc.name, func(t *testing.T) {
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { fmt.Fprint(w, tc.body) })
				src, err := hs.newSrc(fake.URL, fake.Client(), 0, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				waits(t, src)
				_, err = src.Assertion(context.Background())
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want one containing %q", err, tc.want)
				}
				checkNoSecret(t, "error", err.Error())
				if got := len(fake.requests()); got != 1 {
					t.Errorf("server saw %d requests, want 1 (a malformed answer is not retried)", got)
				}
			})
		}
	}
}

func TestHugeBody(t *testing.T) {
	const size = 10 << 20
	for _, hs := range httpSources {
		for _, declared := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/content-length=%v", hs.name, declared), func(t *testing.T) {
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
					if declared {
						w.Header().Set("Content-Length", fmt.Sprint(size))
					}
					chunk := strings.Repeat("x", 64<<10)
					fmt.Fprint(w, `{"access_token":"`)
					for i := 0; i < size/len(chunk); i++ {
						if _, err := fmt.Fprint(w, chunk); err != nil {
							return // the client hung up, as it should
						}
					}
				})
				src, err := hs.newSrc(fake.URL, fake.Client(), 0, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = src.Assertion(context.Background())
				if !errors.Is(err, bodylimit.ErrTooLarge) {
					t.Fatalf("error = %v, want bodylimit.ErrTooLarge", err)
				}
			})
		}
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	for _, hs := range httpSources {
		t.Run(hs.name, func(t *testing.T) {
			target := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Header.Get("X-Identity-Header") != "" || r.Header.Get("Metadata") != "" {
					t.Error("the redirect target received the identity headers")
				}
				tokenJSON(w, "1506484173")
			})
			origin := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				http.Redirect(w, r, target.URL+"/steal", http.StatusFound)
			})
			client := origin.Client()
			src, err := hs.newSrc(origin.URL, client, 0, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Assertion(context.Background())
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusFound || !strings.Contains(re.Hint, "redirect") {
				t.Fatalf("error = %v, want a *ResponseError for 302 with a redirect hint", err)
			}
			if n := len(target.requests()); n != 0 {
				t.Errorf("the redirect target received %d requests, want 0", n)
			}
			if client.CheckRedirect != nil {
				t.Error("the caller's http.Client was modified")
			}
		})
	}
}

// countingTransporter is a policy.Transporter that is not an *http.Client:
// it sends each request once through rt and never follows a redirect itself.
type countingTransporter struct {
	rt http.RoundTripper
	mu sync.Mutex
	n  int
}

func (c *countingTransporter) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.rt.RoundTrip(req)
}

func TestTransporterIsUsedAndRedirectRefused(t *testing.T) {
	for _, hs := range httpSources {
		t.Run(hs.name, func(t *testing.T) {
			target := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { tokenJSON(w, "1506484173") })
			origin := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 0 {
					tokenJSON(w, "1506484173")
					return
				}
				http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
			})
			tr := &countingTransporter{rt: origin.Client().Transport}
			src, err := hs.newSrc(origin.URL, tr, -1, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a, err := src.Assertion(context.Background()); err != nil || a.Token != testToken {
				t.Fatalf("first Assertion: err = %v, token served = %v", err, a.Token == testToken)
			}
			_, err = src.Assertion(context.Background())
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusTemporaryRedirect {
				t.Fatalf("error = %v, want a *ResponseError for 307", err)
			}
			tr.mu.Lock()
			n := tr.n
			tr.mu.Unlock()
			if n != 2 {
				t.Errorf("the Transporter sent %d requests, want 2 (one per Assertion, no redirect followed)", n)
			}
			if n := len(target.requests()); n != 0 {
				t.Errorf("the redirect target received %d requests, want 0", n)
			}
		})
	}
}

func TestNilHTTPClientTransportMeansDefault(t *testing.T) {
	var c *http.Client
	if hc := noredirect.Client(c, msiHTTP); hc.Timeout != msiHTTP.Timeout || hc.CheckRedirect == nil {
		t.Errorf("noredirect.Client((*http.Client)(nil), msiHTTP) = timeout %v, CheckRedirect set %v; want the default client", hc.Timeout, hc.CheckRedirect != nil)
	}
}

func TestSlowServerCancelledContext(t *testing.T) {
	for _, hs := range httpSources {
		t.Run(hs.name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			release := make(chan struct{})
			defer close(release)
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				arrived <- struct{}{}
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			src, err := hs.newSrc(fake.URL, fake.Client(), 0, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				testwait.Hold(arrived)
				cancel()
			}()
			_, err = src.Assertion(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error = %v, want context.Canceled", err)
			}
			if n := len(fake.requests()); n != 1 {
				t.Errorf("server saw %d requests, want 1 (no retry after the context ended)", n)
			}
		})
	}
}

func TestContextEndsDuringBackoff(t *testing.T) {
	for _, hs := range httpSources {
		t.Run(hs.name, func(t *testing.T) {
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			src, err := hs.newSrc(fake.URL, fake.Client(), 5, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waits(t, src)
			m := msiOf(src)
			m.wait = func(time.Duration) time.Duration {
				cancel()
				return time.Hour // the context, not the timer, must end the wait
			}
			_, err = src.Assertion(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error = %v, want context.Canceled", err)
			}
			if n := len(fake.requests()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func msiOf(src Source) *msiClient {
	switch s := src.(type) {
	case *appServiceSource:
		return s.msiClient
	case *imdsSource:
		return s.msiClient
	case *gitHubSource:
		return s.msiClient
	case *arcSource:
		return s.msiClient
	}
	return nil
}

func TestRetryDelays(t *testing.T) {
	cases := []struct {
		name       string
		retryAfter []string // per failed attempt; "" = none
		maxDelay   time.Duration
		want       []time.Duration
	}{
		{"exponential from the base, capped", []string{"", "", "", ""}, 5 * time.Second, nil},
		{"Retry-After honoured", []string{"7", "2"}, time.Minute, []time.Duration{7 * time.Second, 2 * time.Second}},
		{"Retry-After capped", []string{"3600"}, 10 * time.Second, []time.Duration{10 * time.Second}},
		{"Retry-After as a date", []string{testNow.Add(20 * time.Second).Format(http.TimeFormat)}, time.Minute, []time.Duration{20 * time.Second}},
		{"Retry-After garbage ignored", []string{"soon"}, time.Minute, nil},
	}
	for _, hs := range httpSources {
		base := 500 * time.Millisecond
		if hs.name == imdsName {
			base = time.Second
		}
		for _, tc := range cases {
			t.Run(hs.name+"/"+tc.name, func(t *testing.T) {
				want := tc.want
				if want == nil {
					for i := range tc.retryAfter {
						want = append(want, min(base<<i, tc.maxDelay))
					}
				}
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
					if n < len(tc.retryAfter) {
						if ra := tc.retryAfter[n]; ra != "" {
							w.Header().Set("Retry-After", ra)
						}
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					tokenJSON(w, "1506484173")
				})
				src, err := hs.newSrc(fake.URL, fake.Client(), 10, tc.maxDelay, nil)
				if err != nil {
					t.Fatal(err)
				}
				delays := waits(t, src)
				a, err := src.Assertion(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if a.Token != testToken {
					t.Error("wrong token after retries")
				}
				if diff := cmp.Diff(want, delays()); diff != "" {
					t.Errorf("delays (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestRetryCountBounded(t *testing.T) {
	// Defaults: App Service retries 3 times, IMDS 5 times; negative disables.
	for _, hs := range httpSources {
		for _, tc := range []struct {
			maxRetries, want int
		}{{0, map[string]int{appServiceName: 4, imdsName: 6}[hs.name]}, {-1, 1}, {1, 2}} {
			t.Run(fmt.Sprintf("%s/%d", hs.name, tc.maxRetries), func(t *testing.T) {
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(500) })
				src, err := hs.newSrc(fake.URL, fake.Client(), tc.maxRetries, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				waits(t, src)
				if _, err := src.Assertion(context.Background()); err == nil {
					t.Fatal("no error")
				}
				if n := len(fake.requests()); n != tc.want {
					t.Errorf("server saw %d requests, want %d", n, tc.want)
				}
			})
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	for _, hs := range httpSources {
		t.Run(hs.name, func(t *testing.T) {
			src, err := hs.newSrc(addr, nil, 0, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			delays := waits(t, src)
			_, err = src.Assertion(context.Background())
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("error = %v, want ECONNREFUSED", err)
			}
			if !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("error %q lacks the unreachable hint", err)
			}
			if n := len(delays()); n != 0 {
				t.Errorf("retried a refused connection %d times", n)
			}
			checkNoSecret(t, "error", err.Error())
		})
	}
}

func TestTransportErrorsAreRetried(t *testing.T) {
	for _, hs := range httpSources {
		t.Run(hs.name, func(t *testing.T) {
			fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 0 {
					// Hang up without an answer.
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				tokenJSON(w, "1506484173")
			})
			src, err := hs.newSrc(fake.URL, fake.Client(), 2, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			delays := waits(t, src)
			if _, err := src.Assertion(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(delays()); n != 1 {
				t.Errorf("retried %d times, want 1", n)
			}
		})
	}
}

func TestJWTHelper(t *testing.T) {
	tok := makeJWT(t, testNow.Add(time.Hour))
	exp, err := jwtpeek.Expiry(tok)
	if err != nil || !exp.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("jwtpeek.Expiry = %v, %v", exp, err)
	}
}

// makeJWT returns an HS256 JWT with the given exp (zero: none). The signature
// does not matter: this package never checks it.
func makeJWT(t testing.TB, exp time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": "https://issuer.example", "sub": "system:serviceaccount:ns:sa", "aud": "api://AzureADTokenExchange"}
	if !exp.IsZero() {
		claims["exp"] = exp.Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdentitySelectors: the typed ID reaches each platform under its own
// query name, the deprecated fields still work, and two selectors are refused.
func TestIdentitySelectors(t *testing.T) {
	type build func(endpoint string, id ManagedIDKind, legacyClientID string) (Source, error)
	sources := []struct {
		name  string
		b     build
		names queryNames
	}{
		{appServiceName, func(e string, id ManagedIDKind, c string) (Source, error) {
			return AppService(&AppServiceOptions{Endpoint: e, IdentityHeader: testHeader, ID: id, ClientID: c})
		}, queryNames{"client_id", "principal_id", "mi_res_id"}},
		{imdsName, func(e string, id ManagedIDKind, c string) (Source, error) {
			return IMDS(&IMDSOptions{Endpoint: e, ID: id, ClientID: c})
		}, queryNames{"client_id", "object_id", "msi_res_id"}},
	}
	for _, s := range sources {
		cases := []struct {
			name      string
			id        ManagedIDKind
			legacy    string
			wantParam string
			wantValue string
		}{
			{"system-assigned", nil, "", "", ""},
			{"ClientID", ClientID("c-1"), "", s.names[0], "c-1"},
			{"ObjectID", ObjectID("o-1"), "", s.names[1], "o-1"},
			{"ResourceID", ResourceID("/subscriptions/s/r"), "", s.names[2], "/subscriptions/s/r"},
			{"deprecated ClientID field", nil, "c-2", s.names[0], "c-2"},
		}
		for _, tc := range cases {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				fake := newFakeEndpoint(t, func(w http.ResponseWriter, r *http.Request, n int) { imdsJSON(w, "1795773600") })
				src, err := s.b(fake.URL, tc.id, tc.legacy)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := src.Assertion(context.Background()); err != nil {
					t.Fatal(err)
				}
				q := fake.requests()[0].Query
				for _, n := range s.names {
					want := ""
					if n == tc.wantParam {
						want = tc.wantValue
					}
					if got := q.Get(n); got != want {
						t.Errorf("%s = %q, want %q", n, got, want)
					}
				}
			})
		}
		t.Run(s.name+"/two selectors", func(t *testing.T) {
			if _, err := s.b("http://127.0.0.1:1", ObjectID("o"), "c"); err == nil || !strings.Contains(err.Error(), "at most one") {
				t.Errorf("error = %v, want one refusing two selectors", err)
			}
		})
		t.Run(s.name+"/empty typed ID", func(t *testing.T) {
			if _, err := s.b("http://127.0.0.1:1", ClientID(""), ""); err == nil {
				t.Error("an empty ClientID was taken for the system-assigned identity")
			}
		})
	}
}
