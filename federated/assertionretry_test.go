package federated

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// rotatingSource issues a new assertion per call (or, when same is set, the
// first one again), and records the rejections the Credential reports: the
// Credential's assertion.Cached wrapper passes Invalidate on to the source it
// wraps. Tests name assertions by labels ("assertion-N", the N-th issued), so
// no failure message prints one.
type rotatingSource struct {
	exp       time.Time
	same      bool // every call returns the first assertion again
	failAfter int  // calls after this many fail; 0: never

	mu          sync.Mutex
	calls       int
	issued      []string
	invalidated []string // labels
}

var errSourceDown = errors.New("managed identity endpoint unavailable")

func (s *rotatingSource) Assertion(ctx context.Context) (assertion.Assertion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failAfter > 0 && s.calls > s.failAfter {
		return assertion.Assertion{}, errSourceDown
	}
	tok := makeJWT(map[string]any{
		"iss": "https://login.microsoftonline.com/" + homeTenant + "/v2.0",
		"sub": "44444444-4444-4444-4444-444444444444",
		"aud": "api://AzureADTokenExchange",
		"exp": s.exp.Unix(),
		"uti": fmt.Sprint(s.calls),
	})
	if s.same && len(s.issued) > 0 {
		tok = s.issued[0]
	}
	s.issued = append(s.issued, tok)
	return assertion.Assertion{Token: tok, ExpiresOn: s.exp}, nil
}

func (s *rotatingSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, s.labelLocked(token))
}

// label names an assertion by when it was first issued.
func (s *rotatingSource) label(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labelLocked(token)
}

func (s *rotatingSource) labelLocked(token string) string {
	if i := slices.Index(s.issued, token); i >= 0 {
		return fmt.Sprintf("assertion-%d", i+1)
	}
	return "unknown"
}

func (s *rotatingSource) stats() (calls int, issued, invalidated []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, slices.Clone(s.issued), slices.Clone(s.invalidated)
}

// newRotatingCred is newTestCred with src as the assertion source.
func newRotatingCred(t *testing.T, ts *tokenServer, src *rotatingSource, opts *Options) *Credential {
	t.Helper()
	opts = testOptions(t, ts, opts)
	clock := newFakeClock()
	src.exp = clock.Now().Add(24 * time.Hour)
	c, err := NewCredential(homeTenant, testClient, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.clock = clock.Now
	c.created = clock.Now()
	c.sleep = func(ctx context.Context, d time.Duration) error {
		t.Errorf("unexpected wait of %s", d)
		return ctx.Err()
	}
	return c
}

// rejection is an Entra error body whose trace ID names the request, so a
// test can tell which attempt's error it got.
func rejection(status int, code int, n int64) reply {
	return reply{status: status, body: fmt.Sprintf(`{"error":"invalid_client","error_description":"AADSTS%d: rejected.","error_codes":[%d],"trace_id":"trace-%d","correlation_id":"corr-%d"}`, code, code, n, n)}
}

func TestRejectedAssertionIsRefetchedOnce(t *testing.T) {
	type outcome struct {
		AssertionFetches int
		Sent             []string // the assertion of each token request, by label
		Invalidated      []string // reports that reached the source, by label
		ErrCode          int      // first AADSTS code of the *AuthError; 0: success
		ErrTrace         string   // its trace ID: which attempt's error it is
	}
	tests := []struct {
		name   string
		same   bool                   // the source answers the same assertion every time
		reject func(label string) int // AADSTS code to answer for this assertion; 0: a token
		status int                    // HTTP status of rejections
		want   outcome
	}{
		{
			name:   "700027 signature: refetched and retried",
			reject: onlyFirst(700027), status: 401,
			want: outcome{AssertionFetches: 2, Sent: []string{"assertion-1", "assertion-2"}, Invalidated: []string{"assertion-1"}},
		},
		{
			name:   "700024 validity period: refetched and retried",
			reject: onlyFirst(700024), status: 400,
			want: outcome{AssertionFetches: 2, Sent: []string{"assertion-1", "assertion-2"}, Invalidated: []string{"assertion-1"}},
		},
		{
			name:   "7000215 invalid client assertion: refetched and retried",
			reject: onlyFirst(7000215), status: 401,
			want: outcome{AssertionFetches: 2, Sent: []string{"assertion-1", "assertion-2"}, Invalidated: []string{"assertion-1"}},
		},
		{
			name:   "50027 invalid JWT: refetched and retried",
			reject: onlyFirst(50027), status: 400,
			want: outcome{AssertionFetches: 2, Sent: []string{"assertion-1", "assertion-2"}, Invalidated: []string{"assertion-1"}},
		},
		{
			name:   "the source answers the same assertion: no retry",
			same:   true,
			reject: onlyFirst(700027), status: 401,
			want: outcome{AssertionFetches: 2, Sent: []string{"assertion-1"}, Invalidated: []string{"assertion-1"}, ErrCode: 700027, ErrTrace: "trace-1"},
		},
		{
			name:   "the fresh assertion is rejected too: only once, last error",
			reject: always(700024), status: 400,
			want: outcome{AssertionFetches: 2, Sent: []string{"assertion-1", "assertion-2"}, Invalidated: []string{"assertion-1"}, ErrCode: 700024, ErrTrace: "trace-2"},
		},
		{
			name:   "700016 not consented: not refetched",
			reject: always(700016), status: 400,
			want: outcome{AssertionFetches: 1, Sent: []string{"assertion-1"}, ErrCode: 700016, ErrTrace: "trace-1"},
		},
		{
			name:   "70021 no matching federated credential: not refetched",
			reject: always(70021), status: 400,
			want: outcome{AssertionFetches: 1, Sent: []string{"assertion-1"}, ErrCode: 70021, ErrTrace: "trace-1"},
		},
		{
			name:   "90002 unknown tenant: not refetched",
			reject: always(90002), status: 400,
			want: outcome{AssertionFetches: 1, Sent: []string{"assertion-1"}, ErrCode: 90002, ErrTrace: "trace-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			src := &rotatingSource{same: tt.same}
			c := newRotatingCred(t, ts, src, nil)
			ts.setHandler(func(n int64, r tokenRequest) reply {
				if code := tt.reject(src.label(r.Form.Get("client_assertion"))); code != 0 {
					return rejection(tt.status, code, n)
				}
				return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"access-token-%d"}`, n)}
			})
			tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			var got outcome
			got.AssertionFetches, _, got.Invalidated = src.stats()
			for _, r := range ts.requests() {
				got.Sent = append(got.Sent, src.label(r.Form.Get("client_assertion")))
			}
			if err != nil {
				var ae *AuthError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %s, want *AuthError", redactErr(err))
				}
				got.ErrCode, got.ErrTrace = ae.firstCode(), ae.TraceID
			} else if tok.Token == "" {
				t.Error("no error and no token")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

func onlyFirst(code int) func(string) int {
	return func(label string) int {
		if label == "assertion-1" {
			return code
		}
		return 0
	}
}

func always(code int) func(string) int { return func(string) int { return code } }

func TestRejectedAssertionRefetchFails(t *testing.T) {
	ts := newTokenServer(t)
	src := &rotatingSource{failAfter: 1}
	c := newRotatingCred(t, ts, src, nil)
	ts.setHandler(func(n int64, r tokenRequest) reply { return rejection(401, 700027, n) })
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var ae *AuthError
	if !errors.As(err, &ae) || !ae.HasCode(700027) {
		t.Errorf("err = %s, want the *AuthError with 700027", redactErr(err))
	}
	if !errors.Is(err, errSourceDown) {
		t.Errorf("err = %s, want it to wrap the source's error too", redactErr(err))
	}
	if n := ts.count.Load(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}

// After one request had its assertion rejected and refetched, the other
// tenants and scopes use the fresh assertion at once: the credential is not
// left re-sending the rejected one until it expires.
func TestRejectedAssertionFreshOneServesEveryTenant(t *testing.T) {
	ts := newTokenServer(t)
	src := &rotatingSource{}
	c := newRotatingCred(t, ts, src, &Options{AdditionallyAllowedTenants: []string{"*"}})
	ctx := context.Background()
	if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	// Now the issuer rotates its keys: assertion-1 no longer verifies.
	ts.setHandler(func(n int64, r tokenRequest) reply {
		if src.label(r.Form.Get("client_assertion")) == "assertion-1" {
			return rejection(401, 700027, n)
		}
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"access-token-%d"}`, n)}
	})
	for _, req := range []policy.TokenRequestOptions{
		{Scopes: []string{graphScope}, TenantID: tenantB},
		{Scopes: []string{armScope}, TenantID: tenantB},
		{Scopes: []string{graphScope}, TenantID: tenantC},
	} {
		if _, err := c.GetToken(ctx, req); err != nil {
			t.Fatalf("tenant %s scope %v: %s", req.TenantID, req.Scopes, redactErr(err))
		}
	}
	var sent []string
	for _, r := range ts.requests() {
		sent = append(sent, src.label(r.Form.Get("client_assertion")))
	}
	want := []string{"assertion-1", "assertion-1", "assertion-2", "assertion-2", "assertion-2"}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("assertions sent (-want +got):\n%s", diff)
	}
}

// Many tenants' requests are rejected at once with the same assertion: their
// reports share one new fetch, and a late report about the old assertion
// never discards the new one.
func TestRejectedAssertionManyTenantsAtOnce(t *testing.T) {
	ts := newTokenServer(t)
	src := &rotatingSource{}
	c := newRotatingCred(t, ts, src, &Options{AdditionallyAllowedTenants: []string{"*"}})
	ts.setHandler(func(n int64, r tokenRequest) reply {
		if src.label(r.Form.Get("client_assertion")) == "assertion-1" {
			return rejection(401, 700027, n)
		}
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"access-token-%d"}`, n)}
	})
	const tenants = 16
	var wg sync.WaitGroup
	for i := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant := fmt.Sprintf("tenant-%d.example.com", i)
			if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant}); err != nil {
				t.Errorf("tenant %s: %s", tenant, redactErr(err))
			}
		}()
	}
	testwait.Wait(t, &wg, "every tenant's GetToken returning")
	calls, _, invalidated := src.stats()
	if calls != 2 {
		t.Errorf("%d assertion fetches, want 2 (the rejected one and one replacement)", calls)
	}
	for _, l := range invalidated {
		if l != "assertion-1" {
			t.Errorf("%s was reported rejected; only assertion-1 was", l)
		}
	}
	if n := ts.count.Load(); n < tenants+1 || n > 2*tenants {
		t.Errorf("%d token requests, want between %d and %d", n, tenants+1, 2*tenants)
	}
}

func TestRejectedAssertionIsLoggedWithoutTokens(t *testing.T) {
	for _, same := range []bool{false, true} {
		t.Run(fmt.Sprintf("same assertion again %t", same), func(t *testing.T) {
			logs := captureLog(t)
			ts := newTokenServer(t)
			src := &rotatingSource{same: same}
			c := newRotatingCred(t, ts, src, nil)
			ts.setHandler(func(n int64, r tokenRequest) reply {
				if src.label(r.Form.Get("client_assertion")) == "assertion-1" {
					return rejection(401, 700027, n)
				}
				return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"access-token-%d"}`, n)}
			})
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if (err != nil) != same {
				t.Fatalf("err = %s, want an error only when the source repeats itself", redactErr(err))
			}
			want := "fetched a new assertion, retrying once"
			if same {
				want = "returned the same assertion again; not retrying"
			}
			_, issued, _ := src.stats()
			found := false
			for _, m := range logs() {
				if strings.HasPrefix(m, string(EventAuthentication)+": ") && strings.Contains(m, "AADSTS700027: Entra rejected the client assertion for tenant "+homeTenant) && strings.Contains(m, want) {
					found = true
				}
				for _, tok := range issued {
					if where := leak.Find(m, tok); where != "" {
						t.Errorf("a log line contains %s", where)
					}
				}
				if strings.Contains(m, "access-token-") {
					t.Error("a log line contains an access token")
				}
			}
			if !found {
				t.Errorf("no %s log line saying the assertion was rejected and %q", EventAuthentication, want)
			}
		})
	}
}

// NewCredential caches its source, and a source the caller cached already is
// kept as it is, so that credentials sharing it share one assertion. That
// cache keeps the Logger the caller gave it: Options.Logger receives the
// Credential's entries and, only for a source the Credential cached itself,
// the assertion cache's.
func TestAssertionCacheEntriesGoToTheLoggerOfWhoCachedTheSource(t *testing.T) {
	const rejected = "Assertion: Cached: the cached assertion was reported rejected"
	for _, callerCached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached by the caller %t", callerCached), func(t *testing.T) {
			ts := newTokenServer(t)
			src := &rotatingSource{exp: time.Now().Add(24 * time.Hour)}
			ts.setHandler(func(n int64, r tokenRequest) reply {
				if src.label(r.Form.Get("client_assertion")) == "assertion-1" {
					return rejection(401, 700027, n)
				}
				return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"access-token-%d"}`, n)}
			})
			var credLog, cacheLog logLines
			var given assertion.Source = src
			if callerCached {
				given = assertion.CachedWithOptions(src, &assertion.CacheOptions{Logger: cacheLog.add})
			}
			c, err := NewCredential(homeTenant, testClient, given, testOptions(t, ts, &Options{Logger: credLog.add}))
			if err != nil {
				t.Fatal(err)
			}
			if callerCached && c.src != given {
				t.Fatal("the Credential did not keep the caller's cached source")
			}
			if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
				t.Fatal(redactErr(err))
			}
			if !slices.ContainsFunc(credLog.get(), func(m string) bool { return strings.HasPrefix(m, string(EventAuthentication)+": ") }) {
				t.Errorf("Options.Logger got no %s entry: %q", EventAuthentication, credLog.get())
			}
			wantCred, wantCache := 1, 0
			if callerCached {
				wantCred, wantCache = 0, 1
			}
			if n := count(credLog.get(), rejected); n != wantCred {
				t.Errorf("Options.Logger got %d %q entries, want %d", n, rejected, wantCred)
			}
			if n := count(cacheLog.get(), rejected); n != wantCache {
				t.Errorf("the caller's cache Logger got %d %q entries, want %d", n, rejected, wantCache)
			}
		})
	}
}

// logLines is a Logger that keeps "Event: message" lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(ev log.Event, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(ev)+": "+msg)
}

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
