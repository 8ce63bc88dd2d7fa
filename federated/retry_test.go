package federated

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

func asAuthError(err error, target **AuthError) bool { return errors.As(err, target) }

func TestRetries(t *testing.T) {
	ok := reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
	throttled := func(h map[string]string) reply {
		return reply{status: 429, header: h, body: `{"error":"temporarily_unavailable","error_codes":[50196]}`}
	}
	unavailable := func(h map[string]string) reply {
		return reply{status: 503, header: h, body: `{"error":"temporarily_unavailable","error_codes":[90033]}`}
	}
	tests := []struct {
		name       string
		retry      policy.RetryOptions
		replies    []reply // the last one repeats
		wantStatus int     // 0: success
		wantReqs   int64
		wantSleeps []time.Duration
	}{
		{name: "429 Retry-After seconds", replies: []reply{throttled(map[string]string{"Retry-After": "5"}), ok}, wantReqs: 2, wantSleeps: []time.Duration{5 * time.Second}},
		{name: "503 Retry-After capped", replies: []reply{unavailable(map[string]string{"Retry-After": "100000"}), ok}, wantReqs: 2, wantSleeps: []time.Duration{defaultMaxRetryDelay}},
		{name: "Retry-After capped by option", retry: policy.RetryOptions{MaxRetryDelay: 2 * time.Second}, replies: []reply{unavailable(map[string]string{"Retry-After": "30"}), ok}, wantReqs: 2, wantSleeps: []time.Duration{2 * time.Second}},
		{name: "retry-after-ms", replies: []reply{throttled(map[string]string{"Retry-After-Ms": "250"}), ok}, wantReqs: 2, wantSleeps: []time.Duration{250 * time.Millisecond}},
		{name: "exponential backoff then give up", replies: []reply{unavailable(nil)}, wantStatus: 503, wantReqs: 4,
			wantSleeps: []time.Duration{800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond}},
		{name: "backoff capped", retry: policy.RetryOptions{MaxRetries: 4, RetryDelay: time.Second, MaxRetryDelay: 3 * time.Second}, replies: []reply{{status: 500, body: "oops"}}, wantStatus: 500, wantReqs: 5,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "connection reset retried", replies: []reply{{status: resetConnection}, ok}, wantReqs: 2, wantSleeps: []time.Duration{800 * time.Millisecond}},
		{name: "connection resets until retries run out", retry: policy.RetryOptions{MaxRetries: 1}, replies: []reply{{status: resetConnection}}, wantStatus: -1, wantReqs: 2,
			wantSleeps: []time.Duration{800 * time.Millisecond}},
		{name: "no retries", retry: policy.RetryOptions{MaxRetries: -1}, replies: []reply{unavailable(nil)}, wantStatus: 503, wantReqs: 1},
		{name: "400 never retried", replies: []reply{{status: 400, body: `{"error":"invalid_request","error_codes":[90002]}`}}, wantStatus: 400, wantReqs: 1},
		{name: "401 never retried", replies: []reply{{status: 401, body: `{"error":"invalid_client","error_codes":[7000215]}`}}, wantStatus: 401, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Retry: tt.retry}})
			ts.setHandler(func(n int64, r tokenRequest) reply {
				return tt.replies[min(int(n), len(tt.replies))-1]
			})
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			switch tt.wantStatus {
			case 0:
				if err != nil {
					t.Fatal(redactErr(err))
				}
			case -1: // a transport error, not an answer from Entra
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
			if diff := cmp.Diff(tt.wantSleeps, c.slept()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 503, body: `{"error":"temporarily_unavailable"}`}
	})
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(context.Context, time.Duration) error { cancel(); return ctx.Err() }
	_, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", redactErr(err))
	}
	var ae *AuthError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
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

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		wantOK bool
	}{
		{name: "none", header: http.Header{}},
		{name: "seconds", header: http.Header{"Retry-After": {"7"}}, want: 7 * time.Second, wantOK: true},
		{name: "date", header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, want: 90 * time.Second, wantOK: true},
		{name: "ms", header: http.Header{"X-Ms-Retry-After-Ms": {"1500"}}, want: 1500 * time.Millisecond, wantOK: true},
		{name: "garbage", header: http.Header{"Retry-After": {"soon"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := retryAfter(tt.header, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("retryAfter = (%v, %t), want (%v, %t)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
