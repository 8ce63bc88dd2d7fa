package federated

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// Without refresh_in, a token is refreshed refreshBeforeExpiry (the
// documented 5 minutes) before it expires, and not a moment earlier: one
// request at expiry minus 5 minutes and a nanosecond, two at expiry minus 5
// minutes. This pins the margin end to end, through the cache, rather than
// only the function that computes it.
func TestDefaultRefreshStartsAtExpiryMinusTheMargin(t *testing.T) {
	if refreshBeforeExpiry != 5*time.Minute {
		t.Fatalf("refreshBeforeExpiry = %v, but the package documents 5 minutes", refreshBeforeExpiry)
	}
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		return reply{status: 200, body: fmt.Sprintf(`{"expires_in":3600,"access_token":"t%d"}`, n)}
	})
	ctx := context.Background()
	opts := policy.TokenRequestOptions{Scopes: []string{graphScope}}
	get := func() string {
		t.Helper()
		tok, err := c.GetToken(ctx, opts)
		if err != nil {
			t.Fatal(redactErr(err))
		}
		return tok.Token
	}
	get()
	c.clock.Advance(55*time.Minute - time.Nanosecond)
	if got := get(); got != "t1" {
		t.Fatalf("just before the refresh point got %s, want t1", got)
	}
	testwait.Wait(t, &c.Credential.tokens, "a background refresh (none should have started)")
	if n := ts.count.Load(); n != 1 {
		t.Fatalf("token requests = %d one nanosecond before expiry minus 5 minutes, want 1 (no refresh yet)", n)
	}
	c.clock.Advance(time.Nanosecond)
	if got := get(); got != "t1" {
		t.Fatalf("the caller at the refresh point got %s, want the still-valid t1", got)
	}
	testwait.Wait(t, &c.Credential.tokens, "the background refresh at expiry minus 5 minutes")
	if n := ts.count.Load(); n != 2 {
		t.Fatalf("token requests = %d at expiry minus 5 minutes, want 2 (one refresh)", n)
	}
	if got := get(); got != "t2" {
		t.Errorf("after the refresh got %s, want t2", got)
	}
}
