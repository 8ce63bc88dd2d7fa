package interop

// The tests of this file give the same azcore.ClientOptions to azidentity's
// ClientAssertionCredential and to federated.Credential, against the same
// emulator, and check that each option means the same for both: policies see
// the token POST, Retry governs its retries, azcore's log listener sees it
// without secrets, Telemetry shapes its User-Agent, a TracingProvider gets
// its spans. Each test runs one subtest per credential, with the same
// faults, from a clean fault list and request log.
//
// Where the two legitimately differ, each side's documented behaviour is
// asserted and the difference explained where it is checked:
//   - azidentity (MSAL) GETs the tenant's OpenID configuration through the
//     same pipeline before its first token POST; federated makes the token
//     POST only (one round trip per token, DESIGN.md). Counts here are of
//     token POSTs, and the discovery GETs are checked separately.
//   - azidentity hands Logging to azcore unchanged, so Logging.IncludeBody
//     logs the JSON token response, access token included (azcore documents
//     that IncludeBody "can lead to disclosure of sensitive information");
//     federated never logs a body, whatever IncludeBody says.
//   - With a TracingProvider, azidentity starts its GetToken span on every
//     call, a cached token included, and traces the discovery GET; federated
//     traces token requests only.
//
// None of these tests is parallel: azcore's log listener is process-wide and
// the emulator's faults and request log are shared by the whole binary.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
)

// parityTenant is the tenant every parity test asks a Graph token in: one
// that consented, so that a request the faults leave alone succeeds.
const parityTenant = fakeidp.DefaultConsentedTenantID

// tokenPath is the path of the token POST the tests count.
const tokenPath = "/" + parityTenant + "/oauth2/v2.0/token"

// discoveryPath is the path of the tenant discovery GET azidentity (MSAL)
// sends before its first token POST.
const discoveryPath = "/" + parityTenant + "/v2.0/.well-known/openid-configuration"

// parityCredential is one side of the comparison.
type parityCredential struct {
	name string
	// module is the azsdk-go-{module}/ entry azcore's telemetry policy puts
	// in the User-Agent: the azcore client name each credential registers.
	module string
	// new builds the credential for parityTenant and the default app with
	// the given options (already pointed at the emulator by parityOptions).
	new func(t *testing.T, o azcore.ClientOptions, getAssertion func(context.Context) (string, error)) azcore.TokenCredential
	// status is the HTTP status of a failed token request, read through the
	// credential's documented error type with errors.As.
	status func(err error) (int, bool)
	// discovers: the credential GETs discoveryPath through its pipeline
	// before the first token POST.
	discovers bool
	// logsResponseBody: Logging.IncludeBody makes azcore's log listener
	// receive the token response body.
	logsResponseBody bool
	// getTokenSpan names the span the credential starts for GetToken, and
	// spansCachedTokens says whether a call answered from the cache starts
	// one too.
	getTokenSpan      string
	spansCachedTokens bool
}

var parityCredentials = []parityCredential{
	{
		name:   "azidentity",
		module: "azidentity",
		new: func(t *testing.T, o azcore.ClientOptions, getAssertion func(context.Context) (string, error)) azcore.TokenCredential {
			t.Helper()
			cred, err := azidentity.NewClientAssertionCredential(parityTenant, fakeidp.DefaultAppClientID, getAssertion, &azidentity.ClientAssertionCredentialOptions{
				ClientOptions: o,
				// Instance discovery would go to login.microsoft.com; the
				// tenant's OpenID configuration is still fetched.
				DisableInstanceDiscovery: true,
			})
			if err != nil {
				t.Fatalf("NewClientAssertionCredential: %v", err)
			}
			return cred
		},
		status: func(err error) (int, bool) {
			var e *azidentity.AuthenticationFailedError
			if !errors.As(err, &e) || e.RawResponse == nil {
				return 0, false
			}
			return e.RawResponse.StatusCode, true
		},
		// MSAL resolves the authority's endpoints from its OpenID
		// configuration, with the HTTP client azidentity gives it: the
		// credential's pipeline.
		discovers: true,
		// azidentity passes ClientOptions.Logging to azcore as it is.
		logsResponseBody: true,
		// ClientAssertionCredential.GetToken starts its span before asking
		// MSAL, so a cached token gets one too.
		getTokenSpan:      "ClientAssertionCredential.GetToken",
		spansCachedTokens: true,
	},
	{
		name:   "federated",
		module: "tenantbridge-federated",
		new: func(t *testing.T, o azcore.ClientOptions, getAssertion func(context.Context) (string, error)) azcore.TokenCredential {
			t.Helper()
			src := assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
				tok, err := getAssertion(ctx)
				return assertion.Assertion{Token: tok}, err
			})
			cred, err := federated.NewCredential(parityTenant, fakeidp.DefaultAppClientID, src, &federated.Options{ClientOptions: o})
			if err != nil {
				t.Fatalf("federated.NewCredential: %v", err)
			}
			return cred
		},
		status: func(err error) (int, bool) {
			var e *federated.AuthError
			if !errors.As(err, &e) {
				return 0, false
			}
			return e.StatusCode, true
		},
		// One round trip per token: the token endpoint is built from the
		// authority host, never discovered.
		discovers: false,
		// federated.Options documents that bodies are never logged: the
		// request holds the assertion, the response the access token.
		logsResponseBody: false,
		// federated.Options documents a span per token request, none for a
		// cached token: the warm path allocates nothing.
		getTokenSpan:      "Credential.GetToken",
		spansCachedTokens: false,
	},
}

// parityOptions points o at the emulator (authority host, a transport that
// trusts its CA) and makes azcore's retry waits tiny: its retry policy sleeps
// on the real clock, so the defaults (800 ms, doubling) would make the retry
// tests slow.
func parityOptions(o azcore.ClientOptions) azcore.ClientOptions {
	o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL() + "/"}
	o.Transport = srv.Client()
	if o.Retry.RetryDelay == 0 {
		o.Retry.RetryDelay = time.Millisecond
	}
	if o.Retry.MaxRetryDelay == 0 {
		o.Retry.MaxRetryDelay = 10 * time.Millisecond
	}
	return o
}

// parityAssertion returns an assertion from the emulator's managed identity
// (the Function App's system-assigned identity, through the App Service
// protocol), and the getAssertion callback both credentials are given. It is
// fetched once per test, so both sides present the same one and the log
// checks know what to look for.
func parityAssertion(t *testing.T) (string, func(context.Context) (string, error)) {
	t.Helper()
	src, err := assertion.AppService(&assertion.AppServiceOptions{
		Endpoint:       emu.AppServiceEndpoint(),
		IdentityHeader: emu.IdentityHeader(),
		Transport:      emu.Client(),
	})
	if err != nil {
		t.Fatalf("assertion.AppService: %v", err)
	}
	a, err := src.Assertion(t.Context())
	if err != nil {
		t.Fatalf("managed-identity assertion: %s", redact(err))
	}
	return a.Token, func(context.Context) (string, error) { return a.Token, nil }
}

// parityReset gives a subtest an emulator without faults or recorded
// requests, and leaves none of its faults behind.
func parityReset(t *testing.T) {
	t.Helper()
	emu.ClearFaults()
	emu.ResetRequests()
	t.Cleanup(emu.ClearFaults)
}

// tokenPostsSeen is how many token POSTs for parityTenant the emulator
// received: one per attempt, whoever sent them.
func tokenPostsSeen() int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Listener == fakeidp.ListenerEntra && r.Method == http.MethodPost && r.Path == tokenPath {
			n++
		}
	}
	return n
}

// seenRequest is what recordingPolicy keeps of a request.
type seenRequest struct {
	Method, Path, UserAgent string
}

func (s seenRequest) isTokenPost() bool {
	return s.Method == http.MethodPost && strings.HasSuffix(s.Path, "/oauth2/v2.0/token")
}

// recordingPolicy records every request that passes it. As a per-call
// policy it sees each operation once, after azcore's telemetry policy has set
// the User-Agent; as a per-retry policy, each attempt.
type recordingPolicy struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (p *recordingPolicy) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	p.mu.Lock()
	p.seen = append(p.seen, seenRequest{Method: r.Method, Path: r.URL.Path, UserAgent: r.Header.Get("User-Agent")})
	p.mu.Unlock()
	return req.Next()
}

// split returns the token POSTs recorded and the other requests.
func (p *recordingPolicy) split() (tokenPosts, others []seenRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.seen {
		if s.isTokenPost() {
			tokenPosts = append(tokenPosts, s)
		} else {
			others = append(others, s)
		}
	}
	return tokenPosts, others
}

// TestParityPoliciesSeeTheTokenPost: a PerCallPolicy sees the token POST
// once, a PerRetryPolicy once per attempt (the first is a scripted 503, which
// azcore's default Retry repeats), for both credentials; a cached token makes
// no request, so no policy runs for it.
func TestParityPoliciesSeeTheTokenPost(t *testing.T) {
	for _, pc := range parityCredentials {
		t.Run(pc.name, func(t *testing.T) {
			tok, getAssertion := parityAssertion(t)
			parityReset(t)
			emu.AddFault(fakeidp.Fault{Endpoint: "token", Status: http.StatusServiceUnavailable, Count: 1})
			perCall, perRetry := &recordingPolicy{}, &recordingPolicy{}
			cred := pc.new(t, parityOptions(azcore.ClientOptions{
				PerCallPolicies:  []policy.Policy{perCall},
				PerRetryPolicies: []policy.Policy{perRetry},
			}), getAssertion)
			for range 2 {
				if _, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
					t.Fatalf("GetToken: %s", redact(err, tok))
				}
			}
			callPosts, callOthers := perCall.split()
			retryPosts, retryOthers := perRetry.split()
			if len(callPosts) != 1 {
				t.Errorf("the per-call policy saw %d token POSTs, want 1", len(callPosts))
			}
			if len(retryPosts) != 2 {
				t.Errorf("the per-retry policy saw %d token POSTs, want 2 (the 503 and its retry)", len(retryPosts))
			}
			if n := tokenPostsSeen(); n != 2 {
				t.Errorf("the emulator received %d token POSTs, want 2", n)
			}
			// The documented difference: azidentity's pipeline also carries
			// MSAL's tenant discovery, federated's carries the token POST only.
			for _, p := range []struct {
				name   string
				others []seenRequest
			}{{"per-call", callOthers}, {"per-retry", retryOthers}} {
				if !pc.discovers {
					if len(p.others) != 0 {
						t.Errorf("the %s policy saw requests besides the token POST: %v", p.name, p.others)
					}
					continue
				}
				if len(p.others) == 0 {
					t.Errorf("the %s policy saw no discovery GET, want %s %s first", p.name, http.MethodGet, discoveryPath)
				}
				for _, o := range p.others {
					if o.Method != http.MethodGet || o.Path != discoveryPath {
						t.Errorf("the %s policy saw %s %s, want only the token POST and %s %s", p.name, o.Method, o.Path, http.MethodGet, discoveryPath)
					}
				}
			}
		})
	}
}

// TestParityRetry gives both credentials the same Retry options and the same
// scripted faults on the token endpoint, and checks that both make the same
// number of token POSTs with the same outcome.
func TestParityRetry(t *testing.T) {
	teapot := func(count int) fakeidp.Fault {
		return fakeidp.Fault{Endpoint: "token", Status: http.StatusTeapot, Count: count}
	}
	unavailable := func(count int) fakeidp.Fault {
		return fakeidp.Fault{Endpoint: "token", Status: http.StatusServiceUnavailable, Count: count}
	}
	tests := []struct {
		name  string
		retry policy.RetryOptions
		fault fakeidp.Fault
		// shouldRetry, when set, becomes Retry.ShouldRetry (wrapped to
		// record what it was asked about the token POST).
		shouldRetry func(*http.Response, error) bool
		wantPosts   int
		wantStatus  int // 0: GetToken succeeds
		// wantAsked is the statuses ShouldRetry must have been asked about
		// for the token POST, in order.
		wantAsked []int
	}{
		{
			name:  "default: 418 is not retried",
			fault: teapot(1), wantPosts: 1, wantStatus: http.StatusTeapot,
		},
		{
			name:  "StatusCodes 418: retried and succeeds",
			retry: policy.RetryOptions{StatusCodes: []int{http.StatusTeapot}},
			fault: teapot(1), wantPosts: 2,
		},
		{
			// The control for MaxRetries -1: the same fault is retried
			// MaxRetries (default 3) times.
			name:  "default: 503 is retried until MaxRetries 3 run out",
			fault: unavailable(0), wantPosts: 4, wantStatus: http.StatusServiceUnavailable,
		},
		{
			name:  "MaxRetries -1: one token POST",
			retry: policy.RetryOptions{MaxRetries: -1},
			fault: unavailable(0), wantPosts: 1, wantStatus: http.StatusServiceUnavailable,
		},
		{
			name:        "ShouldRetry false: a 503 is not retried",
			fault:       unavailable(1),
			shouldRetry: func(*http.Response, error) bool { return false },
			wantPosts:   1, wantStatus: http.StatusServiceUnavailable,
			wantAsked: []int{http.StatusServiceUnavailable},
		},
		{
			// ShouldRetry replaces StatusCodes: a 418 it accepts is retried.
			name:  "ShouldRetry true for 418: retried and succeeds",
			fault: teapot(1),
			shouldRetry: func(resp *http.Response, err error) bool {
				return err == nil && resp.StatusCode == http.StatusTeapot
			},
			wantPosts: 2,
			wantAsked: []int{http.StatusTeapot, http.StatusOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pc := range parityCredentials {
				t.Run(pc.name, func(t *testing.T) {
					tok, getAssertion := parityAssertion(t)
					parityReset(t)
					emu.AddFault(tt.fault)
					retry := tt.retry
					var (
						mu    sync.Mutex
						asked []int // statuses of token POST answers ShouldRetry saw; -1 for an error
					)
					if tt.shouldRetry != nil {
						retry.ShouldRetry = func(resp *http.Response, err error) bool {
							// azidentity's discovery GET passes the retry policy
							// too; only the token POST is recorded.
							if resp != nil && resp.Request != nil && resp.Request.Method == http.MethodPost && resp.Request.URL.Path == tokenPath {
								mu.Lock()
								asked = append(asked, resp.StatusCode)
								mu.Unlock()
							} else if resp == nil {
								mu.Lock()
								asked = append(asked, -1)
								mu.Unlock()
							}
							return tt.shouldRetry(resp, err)
						}
					}
					cred := pc.new(t, parityOptions(azcore.ClientOptions{Retry: retry}), getAssertion)
					_, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
					if tt.wantStatus == 0 {
						if err != nil {
							t.Errorf("GetToken: %s", redact(err, tok))
						}
					} else {
						status, ok := pc.status(err)
						switch {
						case err == nil:
							t.Errorf("GetToken succeeded, want an error with status %d", tt.wantStatus)
						case !ok:
							t.Errorf("errors.As found no %s error with a status in %T: %s", pc.name, err, redact(err, tok))
						case status != tt.wantStatus:
							t.Errorf("status %d, want %d", status, tt.wantStatus)
						}
						if err != nil && strings.Contains(err.Error(), tok) {
							t.Error("the error message contains the assertion")
						}
					}
					if n := tokenPostsSeen(); n != tt.wantPosts {
						t.Errorf("the emulator received %d token POSTs, want %d", n, tt.wantPosts)
					}
					mu.Lock()
					defer mu.Unlock()
					if diff := cmp.Diff(tt.wantAsked, asked); diff != "" {
						t.Errorf("statuses ShouldRetry was asked about for the token POST (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// logEntry is one entry azcore's log listener received.
type logEntry struct {
	Event   log.Event
	Message string
}

// captureAzcoreLog installs a listener for every azcore log event until the
// test ends and returns a function that takes the entries received so far
// (and forgets them). Not for parallel tests: the listener is process-wide.
func captureAzcoreLog(t *testing.T) func() []logEntry {
	t.Helper()
	var (
		mu      sync.Mutex
		entries []logEntry
	)
	log.SetListener(func(ev log.Event, msg string) {
		mu.Lock()
		entries = append(entries, logEntry{ev, msg})
		mu.Unlock()
	})
	t.Cleanup(func() { log.SetListener(nil) })
	return func() []logEntry {
		mu.Lock()
		defer mu.Unlock()
		got := entries
		entries = nil
		return got
	}
}

// TestParityLogListener: azcore's log listener sees a Request entry for the
// token POST, and the Response entry of its 200, for both credentials; no
// entry contains the assertion. The access token stays out of the log for
// both with the default Logging; with Logging.IncludeBody azidentity logs the
// token response (azcore logs JSON bodies when asked, and azidentity passes
// the option through), while federated still logs no body: the documented
// difference, asserted for each side.
func TestParityLogListener(t *testing.T) {
	takeLog := captureAzcoreLog(t)
	tokenURL := srv.URL() + tokenPath
	for _, tc := range []struct {
		name    string
		logging policy.LogOptions
	}{
		{name: "default Logging"},
		{name: "Logging.IncludeBody", logging: policy.LogOptions{IncludeBody: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pc := range parityCredentials {
				t.Run(pc.name, func(t *testing.T) {
					assertionTok, getAssertion := parityAssertion(t)
					parityReset(t)
					cred := pc.new(t, parityOptions(azcore.ClientOptions{Logging: tc.logging}), getAssertion)
					takeLog() // the entries of earlier subtests
					tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
					entries := takeLog()
					if err != nil {
						t.Fatalf("GetToken: %s", redact(err, assertionTok))
					}
					var sawRequest, sawResponse, assertionLogged, accessTokenLogged bool
					for _, e := range entries {
						switch {
						case e.Event == log.EventRequest && strings.Contains(e.Message, "POST "+tokenURL):
							sawRequest = true
						case e.Event == log.EventResponse && strings.Contains(e.Message, "POST "+tokenURL) && strings.Contains(e.Message, "RESPONSE Status: 200"):
							sawResponse = true
						}
						assertionLogged = assertionLogged || strings.Contains(e.Message, assertionTok)
						accessTokenLogged = accessTokenLogged || strings.Contains(e.Message, tok.Token)
					}
					if !sawRequest {
						t.Errorf("no %s entry for POST %s among %d entries: %s", log.EventRequest, tokenURL, len(entries), redact(entries, assertionTok, tok.Token))
					}
					if !sawResponse {
						t.Errorf("no %s entry with status 200 for POST %s", log.EventResponse, tokenURL)
					}
					if assertionLogged {
						t.Error("a log entry contains the assertion")
					}
					wantAccessToken := tc.logging.IncludeBody && pc.logsResponseBody
					if accessTokenLogged != wantAccessToken {
						t.Errorf("the access token is in the log: %t, want %t", accessTokenLogged, wantAccessToken)
					}
				})
			}
		})
	}
}

// TestParityTelemetryApplicationID: Telemetry.ApplicationID leads the
// User-Agent of the token POST for both credentials, followed by each
// credential's own azsdk-go entry.
func TestParityTelemetryApplicationID(t *testing.T) {
	const appID = "inventory-func"
	for _, pc := range parityCredentials {
		t.Run(pc.name, func(t *testing.T) {
			tok, getAssertion := parityAssertion(t)
			parityReset(t)
			perCall := &recordingPolicy{}
			cred := pc.new(t, parityOptions(azcore.ClientOptions{
				PerCallPolicies: []policy.Policy{perCall},
				Telemetry:       policy.TelemetryOptions{ApplicationID: appID},
			}), getAssertion)
			if _, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
				t.Fatalf("GetToken: %s", redact(err, tok))
			}
			posts, _ := perCall.split()
			if len(posts) != 1 {
				t.Fatalf("the per-call policy saw %d token POSTs, want 1", len(posts))
			}
			want := appID + " azsdk-go-" + pc.module + "/"
			if ua := posts[0].UserAgent; !strings.HasPrefix(ua, want) {
				t.Errorf("User-Agent of the token POST = %q, want it to start with %q", ua, want)
			}
		})
	}
}

// recordedSpan is what spanRecorder keeps of a span.
type recordedSpan struct {
	Name      string
	Namespace any // the az.namespace attribute
	Ended     bool
}

// spanRecorder is a tracing.Provider that records the spans of every tracer
// it makes.
type spanRecorder struct {
	mu    sync.Mutex
	spans []*recordedSpan
}

func (r *spanRecorder) provider() tracing.Provider {
	return tracing.NewProvider(func(name, version string) tracing.Tracer {
		return tracing.NewTracer(func(ctx context.Context, spanName string, o *tracing.SpanOptions) (context.Context, tracing.Span) {
			s := &recordedSpan{Name: spanName}
			if o != nil {
				for _, a := range o.Attributes {
					if a.Key == "az.namespace" {
						s.Namespace = a.Value
					}
				}
			}
			r.mu.Lock()
			r.spans = append(r.spans, s)
			r.mu.Unlock()
			return ctx, tracing.NewSpan(tracing.SpanImpl{End: func() {
				r.mu.Lock()
				s.Ended = true
				r.mu.Unlock()
			}})
		}, nil)
	}, nil)
}

func (r *spanRecorder) recorded() []recordedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recordedSpan, len(r.spans))
	for i, s := range r.spans {
		out[i] = *s
	}
	return out
}

// TestParityTracingProvider: with a TracingProvider, both credentials start
// a GetToken span and an "HTTP POST" span for the token POST, all in
// namespace Microsoft.Entra and all ended. They differ in what else is
// traced, as each documents: azidentity also traces MSAL's discovery GET and
// starts its GetToken span for a cached token too; federated traces the token
// request only.
func TestParityTracingProvider(t *testing.T) {
	for _, pc := range parityCredentials {
		t.Run(pc.name, func(t *testing.T) {
			tok, getAssertion := parityAssertion(t)
			parityReset(t)
			rec := &spanRecorder{}
			cred := pc.new(t, parityOptions(azcore.ClientOptions{TracingProvider: rec.provider()}), getAssertion)
			for range 2 { // the second is cached
				if _, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
					t.Fatalf("GetToken: %s", redact(err, tok))
				}
			}
			count := map[string]int{}
			for _, s := range rec.recorded() {
				count[s.Name]++
				if !s.Ended {
					t.Errorf("span %s was not ended", s.Name)
				}
				if s.Namespace != "Microsoft.Entra" {
					t.Errorf("span %s: az.namespace = %v, want Microsoft.Entra", s.Name, s.Namespace)
				}
			}
			want := map[string]int{pc.getTokenSpan: 1, "HTTP POST": 1}
			if pc.spansCachedTokens {
				want[pc.getTokenSpan] = 2
			}
			if pc.discovers {
				if count["HTTP GET"] == 0 {
					t.Error("no HTTP GET span for the discovery request")
				}
				want["HTTP GET"] = count["HTTP GET"]
			}
			if diff := cmp.Diff(want, count); diff != "" {
				t.Errorf("spans by name (-want +got):\n%s", diff)
			}
		})
	}
}
