package federated

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

const (
	homeTenant = "11111111-1111-1111-1111-111111111111"
	tenantB    = "22222222-2222-2222-2222-222222222222"
	tenantC    = "contoso.onmicrosoft.com"
	testClient = "33333333-3333-3333-3333-333333333333"
	graphScope = "https://graph.microsoft.com/.default"
	armScope   = "https://management.azure.com/.default"
)

// fakeClock is the Credential's clock in tests; nothing here sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// makeJWT builds an unsigned JWT-shaped assertion; the credential never
// verifies it, Entra (or fakeidp) does.
func makeJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

// testAssertion is the assertion tests present: a managed identity's token.
func testAssertion(exp time.Time) string {
	return makeJWT(map[string]any{
		"iss": "https://login.microsoftonline.com/" + homeTenant + "/v2.0",
		"sub": "44444444-4444-4444-4444-444444444444",
		"aud": "api://AzureADTokenExchange",
		"nbf": exp.Add(-24 * time.Hour).Unix(),
		"exp": exp.Unix(),
	})
}

// countingSource yields one assertion and counts the calls.
type countingSource struct {
	token string
	exp   time.Time
	calls atomic.Int64
	err   error
}

func (s *countingSource) Assertion(ctx context.Context) (assertion.Assertion, error) {
	s.calls.Add(1)
	if s.err != nil {
		return assertion.Assertion{}, s.err
	}
	return assertion.Assertion{Token: s.token, ExpiresOn: s.exp}, nil
}

func newCountingSource() *countingSource { return newCountingSourceAt(time.Now()) }

// newCountingSourceAt yields an assertion valid for a day from now.
func newCountingSourceAt(now time.Time) *countingSource {
	exp := now.Add(24 * time.Hour)
	return &countingSource{token: testAssertion(exp), exp: exp}
}

// tokenRequest is what the fake token endpoint saw.
type tokenRequest struct {
	Method string
	Path   string
	Query  string
	CT     string
	Form   url.Values
}

// resetConnection as a reply status closes the connection without an answer.
const resetConnection = -1

// reply is a scripted token endpoint answer.
type reply struct {
	status int
	header map[string]string
	body   string
}

// tokenServer is an in-test Entra token endpoint over TLS. By default it
// issues a token named after the request number with expires_in 3600.
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []tokenRequest
	headers []http.Header // of each request, in order
	count   atomic.Int64
	handler func(n int64, r tokenRequest) reply // nil: success
}

func newTokenServer(t testing.TB) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.count.Add(1)
		_ = r.ParseForm()
		tr := tokenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, CT: r.Header.Get("Content-Type"), Form: r.PostForm}
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, tr)
		ts.headers = append(ts.headers, r.Header.Clone())
		h := ts.handler
		ts.mu.Unlock()
		rp := reply{status: 200, body: fmt.Sprintf(`{"token_type":"Bearer","expires_in":3600,"ext_expires_in":3600,"access_token":"access-token-%d"}`, n)}
		if h != nil {
			rp = h(n, tr)
		}
		if rp.status == resetConnection {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.status)
		_, _ = w.Write([]byte(rp.body))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) setHandler(h func(n int64, r tokenRequest) reply) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.handler = h
}

func (ts *tokenServer) requests() []tokenRequest {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]tokenRequest(nil), ts.reqs...)
}

// requestHeaders returns the headers of each request received, in order.
func (ts *tokenServer) requestHeaders() []http.Header {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]http.Header(nil), ts.headers...)
}

// testCred is a Credential against a tokenServer with a fake clock and a
// FIC propagation wait that records the waits instead of waiting.
type testCred struct {
	*Credential
	clock  *fakeClock
	src    *countingSource
	mu     sync.Mutex
	sleeps []time.Duration
}

func (tc *testCred) slept() []time.Duration {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return append([]time.Duration(nil), tc.sleeps...)
}

// newTestCred builds a testCred for ts. opts.Transport defaults to ts's
// client; opts.Logger to the one captureLog installed for t, if any.
func newTestCred(t *testing.T, ts *tokenServer, opts *Options) *testCred {
	t.Helper()
	opts = testOptions(t, ts, opts)
	clock := newFakeClock()
	tc := &testCred{clock: clock, src: newCountingSourceAt(clock.Now())}
	c, err := NewCredential(homeTenant, testClient, tc.src, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.clock = tc.clock.Now
	c.created = tc.clock.Now()
	c.sleep = func(ctx context.Context, d time.Duration) error {
		tc.mu.Lock()
		tc.sleeps = append(tc.sleeps, d)
		tc.mu.Unlock()
		return ctx.Err()
	}
	tc.Credential = c
	return tc
}

// testOptions completes opts for a Credential against ts: its authority,
// its client unless opts names a transport, and the Logger of captureLog.
func testOptions(t *testing.T, ts *tokenServer, opts *Options) *Options {
	if opts == nil {
		opts = &Options{}
	}
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: ts.URL}
	if opts.Transport == nil {
		opts.Transport = ts.Client()
	}
	if l, ok := testLoggers.Load(t); ok && opts.Logger == nil {
		opts.Logger = l.(func(log.Event, string))
	}
	return opts
}

// testLoggers maps a test to the Logger captureLog installed for it.
var testLoggers sync.Map // *testing.T -> func(log.Event, string)

// captureLog collects, for the test, every entry of azcore's log listener
// (the pipeline's HTTP entries) and of the Logger of the Credentials that
// newTestCred and newRotatingCred build for t afterwards, as "Event: message"
// lines in the order they arrive. azcore's listener is process-wide, so tests
// that use it do not run in parallel.
func captureLog(t *testing.T) func() []string {
	t.Helper()
	var (
		mu   sync.Mutex
		msgs []string
	)
	listener := func(ev log.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, string(ev)+": "+msg)
	}
	log.SetListener(listener)
	testLoggers.Store(t, listener)
	t.Cleanup(func() {
		log.SetListener(nil)
		testLoggers.Delete(t)
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}
}

// redactAssertion replaces client_assertion values so that a failure message
// can print requests without the assertion: "<the assertion>" when it is the
// expected one, "<another value>" otherwise.
func redactAssertion(reqs []tokenRequest, token string) []tokenRequest {
	out := make([]tokenRequest, len(reqs))
	for i, r := range reqs {
		out[i] = r
		out[i].Form = url.Values{}
		for k, v := range r.Form {
			out[i].Form[k] = append([]string(nil), v...)
		}
		for j, v := range out[i].Form["client_assertion"] {
			if v == token {
				out[i].Form["client_assertion"][j] = "<the assertion>"
			} else {
				out[i].Form["client_assertion"][j] = "<another value>"
			}
		}
	}
	return out
}

// redactTokens prepares two tokens for cmp.Diff in a failure message: the
// times stay, the Token fields become labels that say only whether got holds
// the same token as want.
func redactTokens(want, got azcore.AccessToken) (azcore.AccessToken, azcore.AccessToken) {
	same := want.Token == got.Token
	want.Token = "<token 1>"
	if same {
		got.Token = "<token 1>"
	} else {
		got.Token = "<token 2>"
	}
	return want, got
}

// testAccessToken matches the access tokens of newTokenServer's default
// answer, which are not JWT-shaped and so unknown to leak.Redact.
var testAccessToken = regexp.MustCompile(`access-token-[0-9]+`)

// redact returns s through leak.Redact (secrets, JWT-shaped text) with the
// test server's access tokens hidden too, so a failure message can quote an
// error or log lines without quoting a token even when the code under test
// leaks one.
func redact(s string, secrets ...string) string {
	return testAccessToken.ReplaceAllString(leak.Redact(s, secrets...), "[redacted]")
}

// redactErr is err's text through redact, for failure messages.
func redactErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return redact(err.Error())
}
