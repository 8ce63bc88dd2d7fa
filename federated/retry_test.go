package federated

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

func asAuthError(err error, target **AuthError) bool { return errors.As(err, target) }

// fastRetry is Options.Retry with waits short enough for a test: azcore's
// retry policy sleeps on the real clock.
func fastRetry(o policy.RetryOptions) policy.RetryOptions {
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Millisecond
	}
	if o.MaxRetryDelay == 0 {
		o.MaxRetryDelay = 20 * time.Millisecond
	}
	return o
}

// TestRetries shows that Options.Retry governs the token request's retries
// with azcore's semantics: its default status codes (408, 429, 500, 502, 503,
// 504), StatusCodes and ShouldRetry replacing them, MaxRetries (-1: one
// attempt), a Retry-After beyond MaxRetryDelay ending the retries, transport
// errors retried.
func TestRetries(t *testing.T) {
	ok := reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
	throttled := func(h map[string]string) reply {
		return reply{status: 429, header: h, body: `{"error":"temporarily_unavailable","error_codes":[50196]}`}
	}
	unavailable := func(h map[string]string) reply {
		return reply{status: 503, header: h, body: `{"error":"temporarily_unavailable","error_codes":[90033]}`}
	}
	teapot := reply{status: 418, body: `{"error":"teapot"}`}
	unknownTenant := reply{status: 400, body: `{"error":"invalid_request","error_codes":[90002]}`}
	tests := []struct {
		name       string
		retry      policy.RetryOptions
		replies    []reply // the last one repeats
		wantStatus int     // 0: success; -1: a transport error
		wantReqs   int64
	}{
		{name: "429 retried", replies: []reply{throttled(map[string]string{"Retry-After-Ms": "1"}), ok}, wantReqs: 2},
		{name: "503 retried", replies: []reply{unavailable(nil), ok}, wantReqs: 2},
		{name: "502 retried", replies: []reply{{status: 502, body: "bad gateway"}, ok}, wantReqs: 2},
		{name: "retries run out after MaxRetries 3", replies: []reply{unavailable(nil)}, wantStatus: 503, wantReqs: 4},
		{name: "MaxRetries 1", retry: policy.RetryOptions{MaxRetries: 1}, replies: []reply{unavailable(nil)}, wantStatus: 503, wantReqs: 2},
		{name: "MaxRetries -1: one attempt", retry: policy.RetryOptions{MaxRetries: -1}, replies: []reply{unavailable(nil), ok}, wantStatus: 503, wantReqs: 1},
		{name: "Retry-After beyond MaxRetryDelay: answer returned", replies: []reply{unavailable(map[string]string{"Retry-After": "100000"}), ok}, wantStatus: 503, wantReqs: 1},
		{name: "Retry-After-Ms beyond MaxRetryDelay: answer returned", retry: policy.RetryOptions{MaxRetryDelay: 5 * time.Millisecond}, replies: []reply{throttled(map[string]string{"Retry-After-Ms": "500"}), ok}, wantStatus: 429, wantReqs: 1},
		{name: "418 not retried by default", replies: []reply{teapot, ok}, wantStatus: 418, wantReqs: 1},
		{name: "StatusCodes 418: retried", retry: policy.RetryOptions{StatusCodes: []int{418}}, replies: []reply{teapot, ok}, wantReqs: 2},
		{name: "StatusCodes 418: 503 no longer retried", retry: policy.RetryOptions{StatusCodes: []int{418}}, replies: []reply{unavailable(nil), ok}, wantStatus: 503, wantReqs: 1},
		{
			name: "ShouldRetry retries a 400", replies: []reply{unknownTenant, ok}, wantReqs: 2,
			retry: policy.RetryOptions{ShouldRetry: func(resp *http.Response, err error) bool { return resp != nil && resp.StatusCode == 400 }},
		},
		{
			name: "ShouldRetry refuses a 503", replies: []reply{unavailable(nil), ok}, wantStatus: 503, wantReqs: 1,
			retry: policy.RetryOptions{ShouldRetry: func(*http.Response, error) bool { return false }},
		},
		{name: "connection reset retried", replies: []reply{{status: resetConnection}, ok}, wantReqs: 2},
		{name: "connection resets until retries run out", retry: policy.RetryOptions{MaxRetries: 1}, replies: []reply{{status: resetConnection}}, wantStatus: -1, wantReqs: 2},
		{name: "400 never retried", replies: []reply{unknownTenant, ok}, wantStatus: 400, wantReqs: 1},
		{name: "401 never retried", replies: []reply{{status: 401, body: `{"error":"invalid_client","error_codes":[7000215]}`}}, wantStatus: 401, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Retry: fastRetry(tt.retry)}})
			ts.setHandler(func(n int64, r tokenRequest) reply {
				return tt.replies[min(int(n), len(tt.replies))-1]
			})
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			switch tt.wantStatus {
			case 0:
				if err != nil {
					t.Fatal(redactErr(err))
				}
			case -1:
				var ae *AuthError
				if err == nil || errors.As(err, &ae) {
					t.Fatalf("err = %v, want a transport error", redactErr(err))
				}
			default:
				var ae *AuthError
				if !errors.As(err, &ae) || ae.StatusCode != tt.wantStatus {
					t.Fatalf("err = %v, want *AuthError with status %d", redactErr(err), tt.wantStatus)
				}
			}
			if n := ts.count.Load(); n != tt.wantReqs {
				t.Errorf("requests = %d, want %d", n, tt.wantReqs)
			}
			if s := c.slept(); len(s) != 0 {
				t.Errorf("FIC propagation waits %v, want none", s)
			}
		})
	}
}

// TestRetryAfterIsHonoured: azcore's retry policy waits what Retry-After-Ms
// says, not RetryDelay. The wait is 40 ms of real time (azcore's clock is not
// injectable); the test checks only that at least that much passed between
// the two attempts, which no scheduling delay can make fail.
func TestRetryAfterIsHonoured(t *testing.T) {
	ts := newTokenServer(t)
	var (
		mu      sync.Mutex
		arrived []time.Time
	)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
		if n == 1 {
			return reply{status: 429, header: map[string]string{"Retry-After-Ms": "40"}, body: `{"error":"temporarily_unavailable"}`}
		}
		return reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
	})
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Retry: policy.RetryOptions{RetryDelay: time.Microsecond, MaxRetryDelay: time.Second}}})
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrived) != 2 {
		t.Fatalf("requests = %d, want 2", len(arrived))
	}
	if gap := arrived[1].Sub(arrived[0]); gap < 40*time.Millisecond {
		t.Errorf("retried %v after the 429, want at least the 40ms of Retry-After-Ms", gap)
	}
}

// cancelAfterAnswer is a per-retry policy that ends the request's context
// once the first answer arrives, as a caller giving up while azcore waits to
// retry.
type cancelAfterAnswer struct{ cancel context.CancelFunc }

func (p cancelAfterAnswer) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	p.cancel()
	return resp, err
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ts := newTokenServer(t)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 503, body: `{"error":"temporarily_unavailable","error_codes":[90033]}`}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{
		Retry:            policy.RetryOptions{RetryDelay: time.Hour, MaxRetryDelay: time.Hour}, // ended by the context, not waited for
		PerRetryPolicies: []policy.Policy{cancelAfterAnswer{cancel}},
	}})
	_, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", redactErr(err))
	}
	var ae *AuthError
	if !errors.As(err, &ae) || ae.StatusCode != 503 || !ae.HasCode(90033) {
		t.Errorf("err = %v, want it to keep the last *AuthError", redactErr(err))
	}
	if n := ts.count.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestFICPropagationRetry(t *testing.T) {
	mismatch := reply{status: 401, body: `{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject.","error_codes":[700213]}`}
	ok := reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
	tests := []struct {
		name       string
		option     bool
		age        time.Duration
		replies    []reply
		wantErr    bool
		wantReqs   int64
		wantSleeps []time.Duration
	}{
		{name: "retried once when asked", option: true, replies: []reply{mismatch, ok}, wantReqs: 2, wantSleeps: []time.Duration{ficPropagationWait}},
		{name: "only once", option: true, replies: []reply{mismatch, mismatch, ok}, wantErr: true, wantReqs: 2, wantSleeps: []time.Duration{ficPropagationWait}},
		{name: "not without the option", replies: []reply{mismatch, ok}, wantErr: true, wantReqs: 1},
		{name: "not after the window", option: true, age: ficPropagationWindow + time.Second, replies: []reply{mismatch, ok}, wantErr: true, wantReqs: 1},
		{name: "not for other codes", option: true, replies: []reply{{status: 400, body: `{"error":"invalid_request","error_codes":[90002]}`}, ok}, wantErr: true, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{RetryFederatedCredentialPropagation: tt.option})
			c.clock.Advance(tt.age)
			ts.setHandler(func(n int64, r tokenRequest) reply { return tt.replies[min(int(n), len(tt.replies))-1] })
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", redactErr(err), tt.wantErr)
			}
			if n := ts.count.Load(); n != tt.wantReqs {
				t.Errorf("requests = %d, want %d", n, tt.wantReqs)
			}
			if diff := cmp.Diff(tt.wantSleeps, c.slept()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

// A propagation wait that the caller's context ends returns the mismatch
// joined with the context's error, without another request.
func TestFICPropagationWaitEndsWithContext(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{RetryFederatedCredentialPropagation: true})
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 400, body: `{"error":"invalid_request","error_codes":[70021]}`}
	})
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	_, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var ae *AuthError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ae) || !ae.HasCode(70021) {
		t.Errorf("err = %v, want context.Canceled and the *AuthError with 70021", redactErr(err))
	}
	if n := ts.count.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

// The two recoveries are independent: a rejected assertion replaced, then a
// FIC mismatch of the fresh one waited for, then a token; three requests.
func TestRecoveriesCombine(t *testing.T) {
	ts := newTokenServer(t)
	src := &rotatingSource{}
	c := newRotatingCred(t, ts, src, &Options{RetryFederatedCredentialPropagation: true})
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	ts.setHandler(func(n int64, r tokenRequest) reply {
		switch n {
		case 1:
			return rejection(401, 700027, n)
		case 2:
			return rejection(400, 700213, n)
		}
		return reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
	})
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	var sent []string
	for _, r := range ts.requests() {
		sent = append(sent, src.label(r.Form.Get("client_assertion")))
	}
	if diff := cmp.Diff([]string{"assertion-1", "assertion-2", "assertion-2"}, sent); diff != "" {
		t.Errorf("assertions sent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{ficPropagationWait}, waits); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}
