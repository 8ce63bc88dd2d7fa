package federated

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/recovered"
	"github.com/tenantbridge/tenantbridge/internal/refresh"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

func TestColdCacheThousandCallersOneRequest(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	release := make(chan struct{})
	ts.setHandler(func(n int64, r tokenRequest) reply {
		testwait.Hold(release) // hold the first request so callers pile up behind it
		return reply{status: 200, body: `{"token_type":"Bearer","expires_in":3600,"access_token":"shared"}`}
	})
	const callers = 1000
	var wg sync.WaitGroup
	var started sync.WaitGroup
	errs := make(chan error, callers)
	toks := make(chan string, callers)
	started.Add(callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			errs <- err
			toks <- tok.Token
		}()
	}
	testwait.Wait(t, &started, "every caller starting")
	close(release)
	testwait.Wait(t, &wg, "every caller returning")
	close(errs)
	close(toks)
	for err := range errs {
		if err != nil {
			t.Fatal(redactErr(err))
		}
	}
	for tok := range toks {
		if tok != "shared" {
			t.Fatalf("a caller got a different token than the server issued")
		}
	}
	if n := ts.count.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
	if n := c.src.calls.Load(); n != 1 {
		t.Errorf("assertion fetches = %d, want 1", n)
	}
}

func TestDifferentKeysProceedInParallel(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{tenantB}})
	blockedArrived := make(chan struct{})
	unblock := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	defer release() // a failing test must not leave the server handler stuck
	ts.setHandler(func(n int64, r tokenRequest) reply {
		if r.Path == "/"+homeTenant+"/oauth2/v2.0/token" && r.Form.Get("scope") == graphScope {
			close(blockedArrived)
			testwait.Hold(unblock)
		}
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"t%d"}`, n)}
	})
	done := make(chan error, 1)
	go func() {
		_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
		done <- err
	}()
	testwait.Receive(t, blockedArrived, "the home tenant's request reaching the server")
	// The home tenant's request is stuck in the server. Tenant B must not
	// wait for it; the deadline only keeps a regression from hanging the run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenantB}); err != nil {
		t.Fatalf("tenant B waited for the home tenant's request: %v", redactErr(err))
	}
	// Another scope in the blocked tenant is another key too.
	if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{armScope}}); err != nil {
		t.Fatalf("another scope waited for the blocked request: %v", redactErr(err))
	}
	release()
	if err := testwait.Receive(t, done, "the home tenant's caller returning"); err != nil {
		t.Fatal(redactErr(err))
	}
}

func TestRefreshOn(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name                 string
		expiresIn, refreshIn time.Duration
		want                 time.Duration
	}{
		{name: "refresh_in wins", expiresIn: 24 * time.Hour, refreshIn: 12 * time.Hour, want: 12 * time.Hour},
		{name: "hour token: 5 minutes early", expiresIn: time.Hour, want: 55 * time.Minute},
		{name: "10 minute token: 5 minutes early", expiresIn: 10 * time.Minute, want: 5 * time.Minute},
		{name: "short token: half-life", expiresIn: 4 * time.Minute, want: 2 * time.Minute},
		{name: "refresh_in beyond expiry ignored", expiresIn: time.Hour, refreshIn: 2 * time.Hour, want: 55 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refreshOn(now, tt.expiresIn, tt.refreshIn).Sub(now); got != tt.want {
				t.Errorf("refresh after %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRefreshAheadOneRefresherOthersKeepToken(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":86399,"refresh_in":43199,"access_token":"t%d"}`, n)}
	})
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	first, err := c.GetToken(ctx, opts)
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if want := c.clock.Now().Add(43199 * time.Second); !first.RefreshOn.Equal(want) {
		t.Errorf("RefreshOn = %v, want refresh_in %v", first.RefreshOn, want)
	}

	// Past refresh_in, the refresh request hangs in the server; every caller
	// must still get the current token at once.
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	ts.setHandler(func(n int64, r tokenRequest) reply {
		arrived <- struct{}{}
		testwait.Hold(release)
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":86399,"refresh_in":43199,"access_token":"t%d"}`, n)}
	})
	c.clock.Advance(43200 * time.Second)
	for range 50 {
		got, err := c.GetToken(ctx, opts)
		if err != nil {
			t.Fatal(redactErr(err))
		}
		if got.Token != first.Token {
			t.Fatalf("got a new token while the refresh is blocked")
		}
	}
	testwait.Receive(t, arrived, "the refresh reaching the server")
	if n := ts.count.Load(); n != 2 {
		t.Errorf("requests = %d during the refresh, want 2 (first token + one refresh)", n)
	}
	close(release)
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	got, err := c.GetToken(ctx, opts)
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if got.Token != "t2" {
		t.Errorf("after the refresh got a different token than the refresh issued (t2)")
	}
	if want := c.clock.Now().Add(43199 * time.Second); !got.RefreshOn.Equal(want) {
		t.Errorf("refreshed RefreshOn = %v, want %v", got.RefreshOn, want)
	}
	if n := ts.count.Load(); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

// A background refresh runs for the Credential, not for the caller that
// happened to start it: azcore's per-call context values (a response to
// capture, extra headers) must not ride along. With the caller's values, the
// refresh would write the new token's response into the caller's variable
// after GetToken returned: a data race (-race reports it at the first read
// below) and a token response where the caller expects none.
func TestBackgroundRefreshLeavesTheCallersContextValuesAlone(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	var first *http.Response
	if _, err := c.GetToken(runtime.WithCaptureResponse(context.Background(), &first), opts); err != nil {
		t.Fatal(redactErr(err))
	}
	if first == nil || first.StatusCode != http.StatusOK {
		t.Fatalf("the caller's own token request captured %v, want its 200", first)
	}

	c.clock.Advance(56 * time.Minute) // past RefreshAt (55m), before expiry
	var captured *http.Response
	ctx := runtime.WithCaptureResponse(context.Background(), &captured)
	ctx = policy.WithHTTPHeader(ctx, http.Header{"X-Caller-Header": {"yes"}})
	if _, err := c.GetToken(ctx, opts); err != nil {
		t.Fatal(redactErr(err))
	}
	if captured != nil {
		t.Errorf("GetToken served from the cache captured a response")
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if captured != nil {
		t.Errorf("the background refresh wrote its response (status %d) into the caller's variable", captured.StatusCode)
	}
	hs := ts.requestHeaders()
	if len(hs) != 2 {
		t.Fatalf("requests = %d, want 2 (first token, one refresh)", len(hs))
	}
	if v := hs[1].Get("X-Caller-Header"); v != "" {
		t.Errorf("the background refresh sent the caller's header X-Caller-Header: %q", v)
	}
	if got, err := c.GetToken(context.Background(), opts); err != nil || got.Token != "access-token-2" {
		t.Errorf("after the refresh: err %v, refreshed token served %t", redactErr(err), err == nil && got.Token == "access-token-2")
	}
}

func TestFailedRefreshKeepsTokenUntilExpiry(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	first, err := c.GetToken(ctx, opts) // expires in 1h, refresh at 55m
	if err != nil {
		t.Fatal(redactErr(err))
	}
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 503, body: `{"error":"temporarily_unavailable","error_codes":[90033]}`}
	})
	c.clock.Advance(56 * time.Minute)
	got, err := c.GetToken(ctx, opts)
	if err != nil || got != first {
		t.Fatalf("during a failing refresh got (%v, %v), want the current token", got.Token == first.Token, redactErr(err))
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if n := ts.count.Load(); n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
	// The failure is not retried on every call, only after refresh.DefaultRetryInterval.
	for range 10 {
		if got, err := c.GetToken(ctx, opts); err != nil || got != first {
			t.Fatalf("after the failed refresh: err %v, same token %t", redactErr(err), got == first)
		}
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if n := ts.count.Load(); n != 2 {
		t.Errorf("requests = %d right after the failure, want 2", n)
	}
	c.clock.Advance(refresh.DefaultRetryInterval)
	if got, err := c.GetToken(ctx, opts); err != nil || got != first {
		t.Fatalf("second attempt: err %v, same token %t", redactErr(err), got == first)
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if n := ts.count.Load(); n != 3 {
		t.Errorf("requests = %d after refresh.DefaultRetryInterval, want 3", n)
	}
	// Once the token really expires, callers get the error.
	c.clock.Advance(5 * time.Minute)
	_, err = c.GetToken(ctx, opts)
	var ae *AuthError
	if !asAuthError(err, &ae) || ae.StatusCode != 503 {
		t.Errorf("after expiry err = %v, want an *AuthError with status 503", redactErr(err))
	}
	// And a working endpoint heals it with one request.
	ts.setHandler(nil)
	if _, err := c.GetToken(ctx, opts); err != nil {
		t.Fatal(redactErr(err))
	}
	if n := ts.count.Load(); n != 5 {
		t.Errorf("requests = %d, want 5", n)
	}
}

func TestCAEAndClaims(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ctx := context.Background()
	get := func(o policy.TokenRequestOptions) azcore.AccessToken {
		t.Helper()
		o.Scopes = []string{graphScope}
		tok, err := c.GetToken(ctx, o)
		if err != nil {
			t.Fatal(redactErr(err))
		}
		return tok
	}
	challenge := `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`

	plain := get(policy.TokenRequestOptions{})
	cae := get(policy.TokenRequestOptions{EnableCAE: true})
	if plain.Token == cae.Token {
		t.Errorf("CAE and non-CAE requests shared a token")
	}
	if again := get(policy.TokenRequestOptions{EnableCAE: true}); again != cae {
		t.Errorf("second CAE request was not served from the cache")
	}
	claimed := get(policy.TokenRequestOptions{EnableCAE: true, Claims: challenge})
	claimedAgain := get(policy.TokenRequestOptions{EnableCAE: true, Claims: challenge})
	if claimed == claimedAgain {
		t.Errorf("claims requests were served from the cache")
	}
	if after := get(policy.TokenRequestOptions{EnableCAE: true}); after != cae {
		t.Errorf("a claims token was served to a caller without claims")
	}
	plainClaims := get(policy.TokenRequestOptions{Claims: challenge})
	if after := get(policy.TokenRequestOptions{}); after != plain || after == plainClaims {
		t.Errorf("non-CAE cache changed by a claims request")
	}

	var got []string
	for _, r := range ts.requests() {
		got = append(got, r.Form.Get("claims"))
	}
	want := []string{
		"",
		`{"access_token":{"xms_cc":{"values":["cp1"]}}}`,
		`{"access_token":{"nbf":{"essential":true,"value":"1700000000"},"xms_cc":{"values":["cp1"]}}}`,
		`{"access_token":{"nbf":{"essential":true,"value":"1700000000"},"xms_cc":{"values":["cp1"]}}}`,
		challenge,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims sent (-want +got):\n%s", diff)
	}
}

func TestRequestClaims(t *testing.T) {
	tests := []struct {
		name      string
		cae       bool
		challenge string
		want      string
		wantErr   bool
	}{
		{name: "neither", want: ""},
		{name: "cae only", cae: true, want: cp1Claims},
		{name: "challenge only", challenge: `{"id_token":{"x":1}}`, want: `{"id_token":{"x":1}}`},
		{name: "merge into existing xms_cc", cae: true, challenge: `{"access_token":{"xms_cc":{"values":["cp2"]}}}`, want: `{"access_token":{"xms_cc":{"values":["cp2","cp1"]}}}`},
		{name: "cp1 present once", cae: true, challenge: `{"access_token":{"xms_cc":{"values":["cp1"]}}}`, want: cp1Claims},
		{name: "other top-level claims kept", cae: true, challenge: `{"id_token":{"x":1}}`, want: `{"access_token":{"xms_cc":{"values":["cp1"]}},"id_token":{"x":1}}`},
		{name: "not JSON", challenge: `eyJhY2Nlc3NfdG9rZW4iOnt9fQ==`, wantErr: true},
		{name: "not JSON with cae", cae: true, challenge: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := requestClaims(tt.cae, tt.challenge)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", redactErr(err), tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("claims = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestWarmPathAllocatesNothing(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{tenantB}})
	ctx := context.Background()
	scopes := []string{graphScope}
	view := c.ForTenant(tenantB)
	for _, o := range []policy.TokenRequestOptions{{Scopes: scopes}, {Scopes: scopes, TenantID: tenantB}, {Scopes: scopes, EnableCAE: true}} {
		if _, err := c.GetToken(ctx, o); err != nil {
			t.Fatal(redactErr(err))
		}
	}
	tests := []struct {
		name string
		call func()
	}{
		{"default tenant", func() { _, _ = c.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes}) }},
		{"other tenant", func() { _, _ = c.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes, TenantID: tenantB}) }},
		{"CAE", func() { _, _ = c.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes, EnableCAE: true}) }},
		{"view", func() { _, _ = view.GetToken(ctx, policy.TokenRequestOptions{Scopes: scopes}) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.call); n != 0 {
			t.Errorf("%s: %v allocations per warm GetToken, want 0", tt.name, n)
		}
	}
	if n := ts.count.Load(); n != 3 {
		t.Errorf("requests = %d, want 3", n)
	}
}

func TestManyKeysStayCached(t *testing.T) {
	// More keys than the engine's linear table holds (8): the cache moves
	// them to maps, rebuilt as keys arrive, without losing or duplicating an
	// entry.
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{"*"}})
	ctx := context.Background()
	const tenants = 100
	first := map[string]string{}
	for round := range 2 {
		for i := range tenants {
			tenant := fmt.Sprintf("tenant-%02d", i)
			tok, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant})
			if err != nil {
				t.Fatal(redactErr(err))
			}
			if round == 0 {
				first[tenant] = tok.Token
			} else if first[tenant] != tok.Token {
				t.Errorf("tenant %s: the second round got a different token than the first", tenant)
			}
		}
	}
	if n := ts.count.Load(); n != tenants {
		t.Errorf("token requests = %d, want %d", n, tenants)
	}
	if n := c.src.calls.Load(); n != 1 {
		t.Errorf("assertion fetches = %d, want 1", n)
	}
}

func TestWaiterOutlivesCancelledLeader(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	ts.setHandler(func(n int64, r tokenRequest) reply {
		if n == 1 {
			arrived <- struct{}{}
			testwait.Hold(release) // the leader's request hangs until its caller gives up
			return reply{status: 503, body: `{}`}
		}
		return reply{status: 200, body: `{"expires_in":3600,"access_token":"second"}`}
	})
	joined := make(chan struct{}, 4)
	c.onJoin = func() { joined <- struct{}{} }
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := c.GetToken(leaderCtx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
		leaderDone <- err
	}()
	testwait.Receive(t, arrived, "the leader's request reaching the server")
	waiterDone := make(chan azcore.AccessToken, 1)
	waiterErr := make(chan error, 1)
	go func() {
		tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
		waiterDone <- tok
		waiterErr <- err
	}()
	testwait.Receive(t, joined, "the waiter joining the leader's request")
	cancelLeader()
	if err := testwait.Receive(t, leaderDone, "the cancelled leader returning"); !errors.Is(err, context.Canceled) {
		t.Errorf("leader err = %v, want context.Canceled", redactErr(err))
	}
	close(release)
	if err := testwait.Receive(t, waiterErr, "the waiter returning"); err != nil {
		t.Fatalf("waiter got %v, want a token from a new request", redactErr(err))
	}
	if tok := testwait.Receive(t, waiterDone, "the waiter's token"); tok.Token != "second" {
		t.Errorf("the waiter got a different token than its own request issued (second)")
	}
	if n := ts.count.Load(); n != 2 {
		t.Errorf("requests = %d, want 2 (the cancelled one and the waiter's own)", n)
	}
}

func TestBackgroundRefreshIsBounded(t *testing.T) {
	logs := captureLog(t)
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	first, err := c.GetToken(ctx, opts)
	if err != nil {
		t.Fatal(redactErr(err))
	}
	// A refresh budget that is already spent when the refresh starts: the
	// refresh gives up without reaching the server, the token stays.
	c.tokens.Options.RefreshBudget = time.Nanosecond
	c.clock.Advance(56 * time.Minute)
	if got, err := c.GetToken(ctx, opts); err != nil || got != first {
		t.Fatalf("got (same token %t, %v), want the current token", got == first, redactErr(err))
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if n := ts.count.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
	found := false
	for _, m := range logs() {
		found = found || strings.Contains(m, "refreshing token for tenant "+homeTenant+" scope "+graphScope+" failed")
	}
	if !found {
		t.Errorf("no log line reports the failed refresh: %s", redact(fmt.Sprintf("%q", logs()), first.Token, c.src.token))
	}
}

// timeoutTransport answers every token request with the error an
// http.Client returns when its Timeout expires: it matches
// context.DeadlineExceeded although no caller's context ended. The first
// request signals arrived and waits for release.
type timeoutTransport struct {
	calls   atomic.Int64
	arrived chan struct{}
	release chan struct{}
}

type clientTimeoutError struct{}

func (clientTimeoutError) Error() string        { return "net/http: timeout awaiting response headers" }
func (clientTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

func (tt *timeoutTransport) Do(req *http.Request) (*http.Response, error) {
	if tt.calls.Add(1) == 1 {
		tt.arrived <- struct{}{}
		testwait.Hold(tt.release)
	}
	return nil, &url.Error{Op: req.Method, URL: req.URL.String(), Err: clientTimeoutError{}}
}

// A leader whose request timed out (its own context still live) failed; its
// waiters share that failure. Mistaking the timeout for the leader's
// cancellation would make each waiter, one after another, repeat the whole
// request against an endpoint that is not answering.
func TestWaiterSharesLeadersRequestTimeout(t *testing.T) {
	ts := newTokenServer(t)
	tt := &timeoutTransport{arrived: make(chan struct{}), release: make(chan struct{})}
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}, Transport: tt}})
	joined := make(chan struct{}, 4)
	c.onJoin = func() { joined <- struct{}{} }
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}

	errs := make(chan error, 2)
	go func() {
		_, err := c.GetToken(context.Background(), opts)
		errs <- err
	}()
	testwait.Receive(t, tt.arrived, "the leader's request reaching the transport")
	go func() {
		_, err := c.GetToken(context.Background(), opts)
		errs <- err
	}()
	testwait.Receive(t, joined, "the second caller joining the request")
	close(tt.release)
	for range 2 {
		if err := testwait.Receive(t, errs, "a caller returning"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the request's timeout", redactErr(err))
		}
	}
	if n := tt.calls.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 (the waiter shares the leader's)", n)
	}
}

// panickyTransport sends through next, but panics on request number panicOn.
type panickyTransport struct {
	next    policy.Transporter
	calls   atomic.Int64
	panicOn int64
}

func (p *panickyTransport) Do(req *http.Request) (*http.Response, error) {
	if p.calls.Add(1) == p.panicOn {
		panic("transport boom")
	}
	return p.next.Do(req)
}

// issue 11: a panic during a background refresh killed the process. It is
// recovered: the current token is served until it expires, the failure is
// logged, and after expiry the caller gets an error saying what panicked.
func TestPanicInABackgroundRefreshIsAFailedRefresh(t *testing.T) {
	logs := captureLog(t)
	ts := newTokenServer(t)
	tr := &panickyTransport{next: ts.Client(), panicOn: 2}
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: -1}}})
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	first, err := c.GetToken(ctx, opts)
	if err != nil {
		t.Fatal(redactErr(err))
	}
	c.clock.Advance(56 * time.Minute)
	if got, err := c.GetToken(ctx, opts); err != nil || got != first {
		t.Fatalf("past the refresh time got (same token %t, %v), want the current token", got == first, redactErr(err))
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if got, err := c.GetToken(ctx, opts); err != nil || got != first {
		t.Fatalf("after the panicking refresh got (same token %t, %v), want the current token", got == first, redactErr(err))
	}
	found := false
	for _, m := range logs() {
		found = found || strings.Contains(m, "failed; the current token is served until it expires at") && strings.Contains(m, "federated: token request panicked: transport boom")
	}
	if !found {
		t.Errorf("no log line reports the panicking refresh: %s", redact(fmt.Sprintf("%q", logs()), first.Token, c.src.token))
	}
	// The next request panics too once the token has expired: an error, not
	// a crash.
	tr.panicOn = 3
	c.clock.Advance(5 * time.Minute)
	_, err = c.GetToken(ctx, opts)
	if !errors.Is(err, recovered.ErrPanicked) {
		t.Errorf("after expiry err = %v, want the panic as an error", redactErr(err))
	}
}

// issue 11's reproduction: an assertion source that panics on its second
// call, reached when the assertion (no expiry given: reused for a minute)
// must be fetched again for a token refresh in the background.
func TestAssertionSourcePanicDuringABackgroundRefresh(t *testing.T) {
	logs := captureLog(t)
	ts := newTokenServer(t)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":240,"access_token":"t%d"}`, n)}
	})
	c := newTestCred(t, ts, nil)
	var calls atomic.Int32
	c.Credential.src = assertion.CachedWithOptions(assertion.Func(func(context.Context) (assertion.Assertion, error) {
		if calls.Add(1) == 2 {
			panic("source boom")
		}
		return assertion.Assertion{Token: "opaque-assertion"}, nil
	}), &assertion.CacheOptions{Clock: c.clock.Now})
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	first, err := c.GetToken(ctx, opts) // a 4-minute token: refreshed at 2 minutes
	if err != nil {
		t.Fatal(redactErr(err))
	}
	c.clock.Advance(2 * time.Minute)
	if got, err := c.GetToken(ctx, opts); err != nil || got != first {
		t.Fatalf("got (same token %t, %v), want the current token", got == first, redactErr(err))
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if n := calls.Load(); n != 2 {
		t.Fatalf("assertion source calls = %d, want 2 (the refresh reached the panicking call)", n)
	}
	if got, err := c.GetToken(ctx, opts); err != nil || got != first {
		t.Errorf("after the panic got (same token %t, %v), want the current token", got == first, redactErr(err))
	}
	found := false
	for _, m := range logs() {
		found = found || strings.Contains(m, "assertion: Cached: the source panicked: source boom")
	}
	if !found {
		t.Errorf("no log line reports the panicking source: %s", redact(fmt.Sprintf("%q", logs()), first.Token))
	}
	// The retry after refresh.DefaultRetryInterval gets a fresh assertion and token.
	c.clock.Advance(refresh.DefaultRetryInterval)
	c.GetToken(ctx, opts)
	testwait.Wait(t, &c.Credential.tokens, "the background refresh")
	if got, err := c.GetToken(ctx, opts); err != nil || got.Token != "t2" {
		t.Errorf("after the retry got (%t, %v), want the refreshed token t2", got.Token == "t2", redactErr(err))
	}
}

// A claims challenge bypasses the cache but not its panic rule.
func TestPanicInAClaimsRequestIsAnError(t *testing.T) {
	ts := newTokenServer(t)
	tr := &panickyTransport{next: ts.Client(), panicOn: 1}
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Transport: tr, Retry: policy.RetryOptions{MaxRetries: -1}}})
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}, Claims: `{"access_token":{}}`})
	if !errors.Is(err, recovered.ErrPanicked) || !strings.Contains(err.Error(), "federated: token request panicked: transport boom") {
		t.Errorf("err = %v, want the panic as an error", redactErr(err))
	}
}
