package federated

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// entraError renders an Entra-style error body.
func entraError(status int, oauthErr string, code int, msg string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"error":%q,"error_description":"AADSTS%d: %s\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2026-11-27 02:00:00Z","error_codes":[%d],"timestamp":"2026-11-27 02:00:00Z","trace_id":"trace-1","correlation_id":"corr-1"}`,
		oauthErr, code, msg, code)}
}

func TestAuthErrorHints(t *testing.T) {
	tests := []struct {
		name     string
		reply    reply
		tenant   string
		scope    string
		wantCode int
		wantHint []string // substrings of Hint
	}{
		{name: "700016 not consented", reply: entraError(400, "unauthorized_client", 700016, "Application with identifier 'x' was not found in the directory 'y'."), tenant: tenantB,
			wantCode: 700016, wantHint: []string{"consent", "/" + tenantB + "/adminconsent?client_id=" + testClient}},
		{name: "70021 no match", reply: entraError(400, "invalid_request", 70021, "No matching federated identity record found for presented assertion."),
			wantCode: 70021, wantHint: []string{`issuer "https://login.microsoftonline.com/` + homeTenant + `/v2.0"`, `subject "44444444-4444-4444-4444-444444444444"`, `audience "api://AzureADTokenExchange"`, "propagating"}},
		{name: "700211 issuer", reply: entraError(400, "invalid_request", 700211, "No matching federated identity record found for presented assertion issuer."),
			wantCode: 700211, wantHint: []string{"issuer", `issuer "https://login.microsoftonline.com/` + homeTenant + `/v2.0"`}},
		{name: "700212 audience", reply: entraError(400, "invalid_request", 700212, "No matching federated identity record found for presented assertion audience."),
			wantCode: 700212, wantHint: []string{"api://AzureADTokenExchange", `audience "api://AzureADTokenExchange"`}},
		{name: "700213 subject", reply: entraError(400, "invalid_request", 700213, "No matching federated identity record found for presented assertion subject."),
			wantCode: 700213, wantHint: []string{"object (principal) ID", `subject "44444444-4444-4444-4444-444444444444"`}},
		{name: "700024 time", reply: entraError(400, "invalid_client", 700024, "Client assertion is not within its valid time range."),
			wantCode: 700024, wantHint: []string{"clock", "2026-11-28T02:00:00Z"}},
		{name: "700027 signature", reply: entraError(401, "invalid_client", 700027, "Client assertion failed signature validation."),
			wantCode: 700027, wantHint: []string{"signature", "rotated", "new assertion once"}},
		{name: "50027 not a JWT", reply: entraError(400, "invalid_request", 50027, "JWT token is invalid or malformed."),
			wantCode: 50027, wantHint: []string{"not a valid JWT"}},
		{name: "90002 tenant", reply: entraError(400, "invalid_request", 90002, "Tenant 'x' not found."), tenant: tenantC,
			wantCode: 90002, wantHint: []string{tenantC, "typo", "cloud"}},
		{name: "7000215 secret", reply: entraError(401, "invalid_client", 7000215, "Invalid client secret provided."),
			wantCode: 7000215, wantHint: []string{"client_assertion"}},
		{name: "7000216 missing assertion", reply: entraError(400, "invalid_request", 7000216, "'client_assertion', 'client_secret' or 'request' is required."),
			wantCode: 7000216, wantHint: []string{"empty"}},
		{name: "70011 scope", reply: entraError(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."), scope: "https://graph.microsoft.com/User.Read",
			wantCode: 70011, wantHint: []string{"/.default", "https://graph.microsoft.com/User.Read"}},
		{name: "500011 unknown resource", reply: entraError(400, "invalid_resource", 500011, "The resource principal named api://no-such-api was not found in the tenant named y."), scope: "api://no-such-api/.default",
			wantCode: 500011, wantHint: []string{"api://no-such-api/.default", "spelling", "service principal"}},
		{name: "unknown code", reply: entraError(400, "invalid_request", 12345, "Something."), wantCode: 12345},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{"*"}})
			ts.setHandler(func(int64, tokenRequest) reply { return tt.reply })
			scope := graphScope
			if tt.scope != "" {
				scope = tt.scope
			}
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: tt.tenant})
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *AuthError", redactErr(err))
			}
			tenant := tt.tenant
			if tenant == "" {
				tenant = homeTenant
			}
			if diff := cmp.Diff([]int{tt.wantCode}, ae.ErrorCodes); diff != "" {
				t.Errorf("ErrorCodes (-want +got):\n%s", diff)
			}
			if !ae.HasCode(tt.wantCode) || ae.TraceID != "trace-1" || ae.CorrelationID != "corr-1" || ae.Tenant != tenant || ae.ClientID != testClient || ae.StatusCode != tt.reply.status {
				t.Errorf("AuthError fields: %s", redact(fmt.Sprintf("%+v", ae), c.src.token))
			}
			if strings.ContainsAny(ae.Message, "\r\n") || !strings.HasPrefix(ae.Message, fmt.Sprintf("AADSTS%d:", tt.wantCode)) {
				t.Errorf("Message = %q, want the first line of error_description", ae.Message)
			}
			for _, s := range tt.wantHint {
				if !strings.Contains(ae.Hint, s) {
					t.Errorf("Hint %q lacks %q", ae.Hint, s)
				}
			}
			if len(tt.wantHint) == 0 && ae.Hint != "" {
				t.Errorf("Hint = %q for an unknown code, want none", ae.Hint)
			}
			msg := err.Error()
			if !strings.Contains(msg, ae.Hint) || !strings.HasPrefix(msg, "federated: ") {
				t.Errorf("Error() does not start with the package or lacks the hint")
			}
			if where := leak.Find(msg+fmt.Sprintf(" %+v %#v", ae, ae), c.src.token); where != "" {
				t.Errorf("error text contains %s", where)
			}
		})
	}
}

func TestAuthErrorScrubsEchoedAssertionAndBoundsBody(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	tok := c.src.token
	ts.setHandler(func(int64, tokenRequest) reply {
		// A misbehaving proxy that echoes the request body.
		// The assertion straddles the cut at maxMessage.
		return reply{status: 400, body: "bad request: " + strings.Repeat("x", maxMessage-100) + "client_assertion=" + tok}
	})
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *AuthError", redactErr(err))
	}
	if strings.Contains(err.Error(), tok[:20]) {
		t.Error("error message contains (part of) the assertion")
	}
	if len(ae.Message) > maxMessage+len("…") {
		t.Errorf("Message is %d bytes, want at most %d", len(ae.Message), maxMessage)
	}
}

// The short fields come from the network too: a proxy in between can put
// anything in them. Each is clipped, on one line, without the assertion.
func TestAuthErrorClipsEveryField(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	tok := c.src.token
	long := strings.Repeat("y", 10_000)
	ts.setHandler(func(int64, tokenRequest) reply {
		body, _ := json.Marshal(map[string]any{
			"error":             "invalid_client\nforged: " + tok + long,
			"error_description": "AADSTS700016: x",
			"error_codes":       []int{700016},
			"trace_id":          "trace\r\n" + tok + long,
			"correlation_id":    "corr\x1b[31m" + long,
			"timestamp":         "2026\u2028" + tok + long,
		})
		return reply{status: 400, body: string(body)}
	})
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *AuthError", redactErr(err))
	}
	for name, v := range map[string]string{"Code": ae.Code, "TraceID": ae.TraceID, "CorrelationID": ae.CorrelationID, "Timestamp": ae.Timestamp} {
		if len(v) > maxField+len("…") || strings.ContainsAny(v, "\r\n\x1b\u2028") || strings.Contains(v, tok[:20]) {
			t.Errorf("%s = %.60q (%d bytes), want it clipped to %d bytes, on one line, without the assertion", name, redact(v, tok), len(v), maxField)
		}
	}
	if !strings.HasPrefix(ae.Code, "invalid_client forged: [redacted]") {
		t.Errorf("Code = %.60q, want the code with the assertion redacted", redact(ae.Code, tok))
	}
	if strings.Contains(err.Error(), tok[:20]) || len(err.Error()) > 2000+len(ae.Hint) {
		t.Errorf("error text of %d bytes holds the assertion or the unbounded fields", len(err.Error()))
	}
}

func TestMalformedSuccessBodies(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", `<html>`},
		{"no token", `{"expires_in":3600}`},
		{"no expiry", `{"access_token":"secret-token"}`},
		{"bad refresh_in", `{"access_token":"secret-token","expires_in":3600,"refresh_in":"soon"}`},
		{"huge expires_in", `{"access_token":"secret-token","expires_in":1` + strings.Repeat("0", 100_000) + `}`},
		{"fractional refresh_in", `{"access_token":"secret-token","expires_in":3600,"refresh_in":1.` + strings.Repeat("5", 100_000) + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, nil)
			ts.setHandler(func(int64, tokenRequest) reply { return reply{status: 200, body: tt.body} })
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if err == nil {
				t.Fatal("GetToken succeeded")
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Error("error message contains the access token")
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message of %d bytes quotes the body unbounded", len(err.Error()))
			}
		})
	}
}

func TestStringExpiresInAccepted(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ts.setHandler(func(int64, tokenRequest) reply {
		return reply{status: 200, body: `{"access_token":"tok","expires_in":"600","refresh_in":"300"}`}
	})
	tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if got := tok.ExpiresOn.Sub(c.clock.Now()); got != 600*time.Second {
		t.Errorf("expires in %v, want 10m", got)
	}
	if got := tok.RefreshOn.Sub(c.clock.Now()); got != 300*time.Second {
		t.Errorf("refresh in %v, want 5m", got)
	}
}

// sourceError stands for a typed error of an assertion source, like
// *assertion.ResponseError.
type sourceError struct{ status int }

func (e *sourceError) Error() string {
	return fmt.Sprintf("managed identity endpoint answered %d", e.status)
}

func TestAssertionErrorIsWrapped(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	c.src.err = &sourceError{status: 500}
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var se *sourceError
	if !errors.As(err, &se) || se.status != 500 {
		t.Errorf("err = %v, want it to wrap *sourceError", redactErr(err))
	}
	if !strings.HasPrefix(err.Error(), "federated: ") {
		t.Errorf("err = %q, want the package prefix", redactErr(err))
	}
	if n := ts.count.Load(); n != 0 {
		t.Errorf("token requests = %d without an assertion, want 0", n)
	}
}

// issue 11, finding 6: expires_in 18446744074 wrapped to a 284 ms lifetime
// and 10000000000 to a negative one. Huge values are clamped to
// maxExpiresIn (and refresh_in with them), zero and negatives are invalid.
func TestExpiresInIsBounded(t *testing.T) {
	tests := []struct {
		name             string
		expiresIn        string
		refreshIn        string
		wantLife         time.Duration // 0: an error
		wantRefreshAfter time.Duration
	}{
		{"wraps to 284ms", `18446744074`, ``, maxExpiresIn, maxExpiresIn - refreshBeforeExpiry},
		{"wraps negative", `10000000000`, ``, maxExpiresIn, maxExpiresIn - refreshBeforeExpiry},
		{"max int64", `9223372036854775807`, ``, maxExpiresIn, maxExpiresIn - refreshBeforeExpiry},
		{"huge refresh_in", `3600`, `18446744074`, time.Hour, time.Hour - refreshBeforeExpiry},
		{"negative refresh_in", `3600`, `-5`, time.Hour, time.Hour - refreshBeforeExpiry},
		{"zero", `0`, ``, 0, 0},
		{"negative", `-3600`, ``, 0, 0},
		{"beyond uint64", `99999999999999999999999`, ``, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, nil)
			body := `{"access_token":"tok","expires_in":` + tt.expiresIn
			if tt.refreshIn != "" {
				body += `,"refresh_in":` + tt.refreshIn
			}
			ts.setHandler(func(int64, tokenRequest) reply { return reply{status: 200, body: body + `}`} })
			tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if tt.wantLife == 0 {
				if err == nil || !strings.Contains(err.Error(), "invalid expires_in") {
					t.Fatalf("err = %v, want invalid expires_in", redactErr(err))
				}
				return
			}
			if err != nil {
				t.Fatal(redactErr(err))
			}
			now := c.clock.Now()
			if got := tok.ExpiresOn.Sub(now); got != tt.wantLife {
				t.Errorf("expires in %v, want %v", got, tt.wantLife)
			}
			if got := tok.RefreshOn.Sub(now); got != tt.wantRefreshAfter {
				t.Errorf("refresh in %v, want %v", got, tt.wantRefreshAfter)
			}
		})
	}
}

// issue 11, finding 3: an endpoint that echoes only the assertion's
// signature part, in any field, does not get it into the error; a hostile
// list of AADSTS codes is bounded too.
func TestAuthErrorScrubsTheSignatureInEveryField(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	sig := "SIGNATURE_" + strings.Repeat("s1G", 100)
	c.src.token = c.src.token[:strings.LastIndexByte(c.src.token, '.')+1] + sig
	codes := make([]int, 10_000)
	for i := range codes {
		codes[i] = 700016
	}
	ts.setHandler(func(int64, tokenRequest) reply {
		body, _ := json.Marshal(map[string]any{
			"error":             "invalid_client " + sig,
			"error_description": "AADSTS700016: " + sig,
			"error_codes":       codes,
			"trace_id":          sig,
			"correlation_id":    sig,
			"timestamp":         sig,
		})
		return reply{status: 400, header: map[string]string{"X-Ms-Request-Id": sig}, body: string(body)}
	})
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *AuthError", redactErr(err))
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", *ae)} {
		if strings.Contains(s, sig[:20]) {
			t.Errorf("the error's text holds the assertion's signature part (%d bytes)", len(s))
		}
	}
	if len(ae.ErrorCodes) > maxErrorCodes {
		t.Errorf("ErrorCodes holds %d codes, want at most %d", len(ae.ErrorCodes), maxErrorCodes)
	}
	if !ae.HasCode(700016) {
		t.Error("the bounded ErrorCodes lost the first code")
	}
}

// issue 11, finding 6: azcore's retry policy multiplies Retry-After into a
// time.Duration; 18446744074 seconds wrapped to a 290 ms wait and a retry.
// The credential hands azcore the clamped value (a day): longer than
// MaxRetryDelay, so the 429 is returned at once, as for any long wait.
func TestOverflowingRetryAfterIsNotAShortWait(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2, MaxRetryDelay: 10 * time.Second}}})
	ts.setHandler(func(n int64, _ tokenRequest) reply {
		if n == 1 {
			return reply{status: 429, header: map[string]string{"Retry-After": "18446744074"}, body: `{"error":"temporarily_unavailable"}`}
		}
		return reply{status: 200, body: `{"token_type":"Bearer","expires_in":3600,"access_token":"tok"}`}
	})
	_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.StatusCode != 429 {
		t.Errorf("err = %v, want the 429 as *AuthError", redactErr(err))
	}
	if n := len(ts.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (no retry after a wait longer than MaxRetryDelay)", n)
	}
}
