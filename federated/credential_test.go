package federated

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/noredirect"
)

func TestFirstTokenIsOneRequestWithExactForm(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)

	tok, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if tok.Token != "access-token-1" {
		t.Errorf("got a different token than the server issued (access-token-1)")
	}
	now := c.clock.Now()
	if want := now.Add(3600 * 1e9); !tok.ExpiresOn.Equal(want) {
		t.Errorf("ExpiresOn = %v, want %v", tok.ExpiresOn, want)
	}
	if want := now.Add(55 * 60 * 1e9); !tok.RefreshOn.Equal(want) {
		t.Errorf("RefreshOn = %v, want %v (5 minutes before expiry)", tok.RefreshOn, want)
	}
	want := []tokenRequest{{
		Method: "POST",
		Path:   "/" + homeTenant + "/oauth2/v2.0/token",
		CT:     "application/x-www-form-urlencoded",
		Form: url.Values{
			"client_id":             {testClient},
			"scope":                 {graphScope},
			"grant_type":            {"client_credentials"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {c.src.token},
		},
	}}
	if diff := cmp.Diff(redactAssertion(want, c.src.token), redactAssertion(ts.requests(), c.src.token)); diff != "" {
		t.Errorf("token requests (-want +got):\n%s", redact(diff, c.src.token))
	}
}

func TestCachedTokenMakesNoRequest(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	ctx := context.Background()
	first, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	for range 5 {
		c.clock.Advance(10 * 60 * 1e9 / 5) // 10 minutes in all: well before refresh
		got, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
		if err != nil {
			t.Fatal(redactErr(err))
		}
		if diff := cmp.Diff(redactTokens(first, got)); diff != "" {
			t.Errorf("cached token differs (-want +got):\n%s", diff)
		}
	}
	if n := ts.count.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestTenantSelection(t *testing.T) {
	tests := []struct {
		name      string
		allowed   []string
		env       string
		requested string
		wantPath  string // "" means an error before any request
		wantIs    error
	}{
		{name: "default tenant", requested: "", wantPath: "/" + homeTenant + "/oauth2/v2.0/token"},
		{name: "home tenant named", requested: homeTenant, wantPath: "/" + homeTenant + "/oauth2/v2.0/token"},
		{name: "allowed tenant", allowed: []string{tenantB}, requested: tenantB, wantPath: "/" + tenantB + "/oauth2/v2.0/token"},
		{name: "allowed domain", allowed: []string{tenantB, tenantC}, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "allowed case-insensitively", allowed: []string{strings.ToUpper(tenantC)}, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "not allowed", allowed: []string{tenantB}, requested: tenantC, wantIs: ErrTenantNotAllowed},
		{name: "nothing additional allowed", requested: tenantB, wantIs: ErrTenantNotAllowed},
		{name: "star allows any", allowed: []string{"*"}, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "env list", env: tenantB + ";" + tenantC, requested: tenantC, wantPath: "/" + tenantC + "/oauth2/v2.0/token"},
		{name: "env star", env: "*", requested: tenantB, wantPath: "/" + tenantB + "/oauth2/v2.0/token"},
		{name: "option wins over env", allowed: []string{tenantB}, env: tenantC, requested: tenantC, wantIs: ErrTenantNotAllowed},
		{name: "path injection", allowed: []string{"*"}, requested: "x/../common"},
		{name: "query injection", allowed: []string{"*"}, requested: "x?a=b"},
		{name: "space", allowed: []string{"*"}, requested: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envAllowedTenants, tt.env)
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: tt.allowed})
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tt.requested})
			reqs := ts.requests()
			if tt.wantPath == "" {
				if err == nil {
					t.Fatal("GetToken succeeded, want an error")
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v is not %v", redactErr(err), tt.wantIs)
				}
				if errors.Is(err, ErrTenantNotAllowed) && !strings.Contains(err.Error(), "AdditionallyAllowedTenants") {
					t.Errorf("error %q does not say how to allow the tenant", redactErr(err))
				}
				if len(reqs) != 0 {
					t.Errorf("%d requests made, want none", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatal(redactErr(err))
			}
			if len(reqs) != 1 || reqs[0].Path != tt.wantPath {
				t.Errorf("requests = %+v, want one to %s", len(reqs), tt.wantPath)
			}
		})
	}
}

func TestForTenantSharesCacheAndAssertion(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{tenantB}})
	ctx := context.Background()
	viaOpts, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenantB})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	view := c.ForTenant(tenantB)
	viaView, err := view.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(redactErr(err))
	}
	if diff := cmp.Diff(redactTokens(viaOpts, viaView)); diff != "" {
		t.Errorf("view did not reuse the cached token (-want +got):\n%s", diff)
	}
	if _, err := view.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{armScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	reqs := ts.requests()
	if len(reqs) != 2 || reqs[1].Path != "/"+tenantB+"/oauth2/v2.0/token" {
		t.Errorf("got %d requests, want 2, the second to tenant B", len(reqs))
	}
	if n := c.src.calls.Load(); n != 1 {
		t.Errorf("assertion fetched %d times, want 1", n)
	}

	notAllowed := c.ForTenant(tenantC)
	if _, err := notAllowed.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}}); !errors.Is(err, ErrTenantNotAllowed) {
		t.Errorf("view for a tenant not allowed: err = %v, want ErrTenantNotAllowed", redactErr(err))
	}
	if n := ts.count.Load(); n != 2 {
		t.Errorf("requests = %d after the refused view, want 2", n)
	}
}

func TestOneAssertionServesAllTenantsAndScopes(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{AdditionallyAllowedTenants: []string{"*"}})
	ctx := context.Background()
	for _, tenant := range []string{homeTenant, tenantB, tenantC} {
		for _, scope := range []string{graphScope, armScope} {
			for range 3 {
				if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: tenant}); err != nil {
					t.Fatal(redactErr(err))
				}
			}
		}
	}
	if n := ts.count.Load(); n != 6 {
		t.Errorf("token requests = %d, want 6 (3 tenants x 2 scopes)", n)
	}
	if n := c.src.calls.Load(); n != 1 {
		t.Errorf("assertion fetched %d times, want 1", n)
	}
}

func TestAuthorityHost(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		env        string
		want       string
		wantErr    bool
	}{
		{name: "default public cloud", want: "https://login.microsoftonline.com"},
		{name: "public", configured: cloud.AzurePublic.ActiveDirectoryAuthorityHost, want: "https://login.microsoftonline.com"},
		{name: "US Government", configured: cloud.AzureGovernment.ActiveDirectoryAuthorityHost, want: "https://login.microsoftonline.us"},
		{name: "China", configured: cloud.AzureChina.ActiveDirectoryAuthorityHost, want: "https://login.chinacloudapi.cn"},
		{name: "custom with port", configured: "https://127.0.0.1:8443/", want: "https://127.0.0.1:8443"},
		{name: "custom with path", configured: "https://login.example.com/idp/", want: "https://login.example.com/idp"},
		{name: "env", env: "https://login.microsoftonline.us/", want: "https://login.microsoftonline.us"},
		{name: "option wins over env", configured: "https://login.chinacloudapi.cn/", env: "https://login.microsoftonline.us/", want: "https://login.chinacloudapi.cn"},
		{name: "http refused", configured: "http://127.0.0.1:8080/", wantErr: true},
		{name: "http env refused", env: "http://login.example.com", wantErr: true},
		{name: "query refused", configured: "https://login.example.com/?x=1", wantErr: true},
		{name: "no host", configured: "https:///path", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envAuthorityHost, tt.env)
			_, err := NewCredential(homeTenant, testClient, newCountingSource(), &Options{ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: tt.configured}}})
			got, err2 := authorityHost(tt.configured)
			if tt.wantErr {
				if err == nil || err2 == nil {
					t.Errorf("NewCredential error = %v, authorityHost error = %v; want errors", redactErr(err), redactErr(err2))
				}
				return
			}
			if err != nil || err2 != nil {
				t.Fatalf("errors: %v, %v", redactErr(err), redactErr(err2))
			}
			if got != tt.want {
				t.Errorf("authority = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSovereignCloudTokenURL(t *testing.T) {
	// Each cloud's token URL is {authority}/{tenant}/oauth2/v2.0/token; the
	// fake serves them all on a path-prefixed custom host to observe it.
	ts := newTokenServer(t)
	c := newTestCred(t, ts, nil)
	c.authority = ts.URL + "/usgov"
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.us/.default"}}); err != nil {
		t.Fatal(redactErr(err))
	}
	if got, want := ts.requests()[0].Path, "/usgov/"+homeTenant+"/oauth2/v2.0/token"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

func TestNewCredentialValidates(t *testing.T) {
	src := newCountingSource()
	tests := []struct {
		name     string
		tenant   string
		client   string
		opts     *Options
		nilSrc   bool
		wantFail bool
	}{
		{name: "ok", tenant: homeTenant, client: testClient, opts: &Options{}},
		{name: "nil options", tenant: homeTenant, client: testClient},
		{name: "empty tenant", tenant: "", client: testClient, wantFail: true},
		{name: "bad tenant", tenant: "a/b", client: testClient, wantFail: true},
		{name: "empty client", tenant: homeTenant, client: "", wantFail: true},
		{name: "nil source", tenant: homeTenant, client: testClient, nilSrc: true, wantFail: true},
		{name: "bad allowed tenant", tenant: homeTenant, client: testClient, opts: &Options{AdditionallyAllowedTenants: []string{"x/y"}}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.nilSrc {
				_, err = NewCredential(tt.tenant, tt.client, nil, tt.opts)
			} else {
				_, err = NewCredential(tt.tenant, tt.client, src, tt.opts)
			}
			if (err != nil) != tt.wantFail {
				t.Errorf("err = %v, want failure %t", redactErr(err), tt.wantFail)
			}
		})
	}
}

func TestNewFromEnvironmentRequiresIDs(t *testing.T) {
	tests := []struct {
		name, tenant, client, functionsClient string
		wantInErr                             string
	}{
		{name: "no tenant", client: testClient, wantInErr: "AZURE_TENANT_ID"},
		{name: "no client", tenant: homeTenant, wantInErr: "AZURE_CLIENT_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envTenantID, tt.tenant)
			t.Setenv(envClientID, tt.client)
			t.Setenv(envClientIDFunctions, tt.functionsClient)
			_, err := NewFromEnvironment(nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("err = %v, want one naming %s", redactErr(err), tt.wantInErr)
			}
		})
	}
}

// countingPolicy counts the requests it sees and keeps their method, path
// and headers.
type countingPolicy struct {
	mu   sync.Mutex
	seen []string      // "METHOD path"
	hdrs []http.Header // of each request
}

func (p *countingPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.mu.Lock()
	p.seen = append(p.seen, req.Raw().Method+" "+req.Raw().URL.Path)
	p.hdrs = append(p.hdrs, req.Raw().Header.Clone())
	p.mu.Unlock()
	return req.Next()
}

func (p *countingPolicy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// PerCallPolicies run once per token request, PerRetryPolicies once per
// attempt, as in every azcore client.
func TestPoliciesSeeTheTokenRequest(t *testing.T) {
	ts := newTokenServer(t)
	ts.setHandler(func(n int64, r tokenRequest) reply {
		if n == 1 {
			return reply{status: 503, body: `{"error":"temporarily_unavailable"}`}
		}
		return reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
	})
	perCall, perRetry := &countingPolicy{}, &countingPolicy{}
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{
		PerCallPolicies:  []policy.Policy{perCall},
		PerRetryPolicies: []policy.Policy{perRetry},
		Retry:            fastRetry(policy.RetryOptions{}),
	}})
	for range 3 { // the second and third are cached: no request, no policy
		if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
			t.Fatal(redactErr(err))
		}
	}
	post := "POST /" + homeTenant + "/oauth2/v2.0/token"
	if diff := cmp.Diff([]string{post}, perCall.requests()); diff != "" {
		t.Errorf("per-call policy saw (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{post, post}, perRetry.requests()); diff != "" {
		t.Errorf("per-retry policy saw (-want +got):\n%s", diff)
	}
	// No header carries the assertion: it belongs in the body only, which
	// no logging policy prints.
	for _, h := range append(perRetry.hdrs, ts.requestHeaders()...) {
		for k, vs := range h {
			for _, v := range vs {
				if where := leak.Find(v, c.src.token); where != "" {
					t.Errorf("header %s carries %s", k, where)
				}
			}
		}
	}
}

// azcore's log listener sees the token request (Request and Response
// entries) but never a body, even with Logging.IncludeBody; the Logger sees
// our own entries; neither sees a token. Not parallel: the listener is
// process-wide.
func TestLoggingWithoutSecrets(t *testing.T) {
	logs := captureLog(t)
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{
		AdditionallyAllowedTenants: []string{tenantB},
		ClientOptions:              policy.ClientOptions{Logging: policy.LogOptions{IncludeBody: true}},
	})
	ctx := context.Background()
	if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	ts.setHandler(func(int64, tokenRequest) reply {
		return entraError(400, "unauthorized_client", 700016, "not found")
	})
	if _, err := c.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenantB}); err == nil {
		t.Fatal("want an error")
	}
	got := logs()
	byEvent := map[log.Event][]string{}
	for _, m := range got {
		ev, msg, _ := strings.Cut(m, ": ")
		byEvent[log.Event(ev)] = append(byEvent[log.Event(ev)], msg)
		if where := leak.Find(m, c.src.token); where != "" || strings.Contains(m, "client_assertion=") {
			t.Errorf("a log entry contains the assertion (%s) or the request body", where)
		}
		if strings.Contains(m, "access-token-1") || strings.Contains(m, `"access_token"`) {
			t.Error("a log entry contains the access token or the response body")
		}
	}
	contains := func(ev log.Event, want string) {
		t.Helper()
		for _, m := range byEvent[ev] {
			if strings.Contains(m, want) {
				return
			}
		}
		t.Errorf("no %s entry contains %q; %s entries: %s", ev, want, ev, redact(fmt.Sprintf("%q", byEvent[ev]), c.src.token))
	}
	contains(log.EventRequest, "POST "+ts.URL+"/"+homeTenant+"/oauth2/v2.0/token")
	contains(log.EventRequest, "POST "+ts.URL+"/"+tenantB+"/oauth2/v2.0/token")
	contains(log.EventResponse, "RESPONSE Status: 200")
	contains(log.EventResponse, "RESPONSE Status: 400")
	contains(EventAuthentication, "cache miss for tenant "+homeTenant+" scope "+graphScope)
	contains(EventAuthentication, "got token for tenant "+homeTenant)
	contains(EventAuthentication, "token request for tenant "+tenantB+" scope "+graphScope+" failed")
}

// With no Logger, no entry of ours is written anywhere; azcore's listener
// still sees the HTTP entries.
func TestNoLoggerNoEntries(t *testing.T) {
	logs := captureLog(t)
	ts := newTokenServer(t)
	// Not newTestCred: it would give the credential captureLog's Logger.
	c, err := NewCredential(homeTenant, testClient, newCountingSource(), &Options{ClientOptions: policy.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ts.URL},
		Transport: ts.Client(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	requests := 0
	for _, m := range logs() {
		if strings.HasPrefix(m, string(EventAuthentication)+": ") {
			t.Errorf("entry without a Logger: %s", redact(m))
		}
		if strings.HasPrefix(m, string(log.EventRequest)+": ") {
			requests++
		}
	}
	if requests != 1 {
		t.Errorf("%d Request entries, want 1", requests)
	}
}

// ClientOptions.APIVersion, meant for a service client sharing the options,
// does not reach (or break) the token request.
func TestAPIVersionIgnored(t *testing.T) {
	ts := newTokenServer(t)
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{APIVersion: "2099-01-01"}})
	if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
		t.Fatal(redactErr(err))
	}
	if q := ts.requests()[0].Query; q != "" {
		t.Errorf("query = %q, want none", q)
	}
}

// span is what fakeTracer records of a span.
type span struct {
	Name  string
	Kind  tracing.SpanKind
	Attrs map[string]any
	Ended bool
}

// fakeTracer records the spans of the tracers its provider makes.
type fakeTracer struct {
	mu    sync.Mutex
	spans []*span
}

func (ft *fakeTracer) provider() tracing.Provider {
	return tracing.NewProvider(func(name, version string) tracing.Tracer {
		return tracing.NewTracer(func(ctx context.Context, spanName string, o *tracing.SpanOptions) (context.Context, tracing.Span) {
			s := &span{Name: spanName, Kind: o.Kind, Attrs: map[string]any{}}
			for _, a := range o.Attributes {
				s.Attrs[a.Key] = a.Value
			}
			ft.mu.Lock()
			ft.spans = append(ft.spans, s)
			ft.mu.Unlock()
			return ctx, tracing.NewSpan(tracing.SpanImpl{End: func() {
				ft.mu.Lock()
				s.Ended = true
				ft.mu.Unlock()
			}})
		}, nil)
	}, nil)
}

func (ft *fakeTracer) recorded() []span {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	out := make([]span, len(ft.spans))
	for i, s := range ft.spans {
		out[i] = *s
	}
	return out
}

// A TracingProvider gets a span for the token request and one for its HTTP
// attempt, in azidentity's namespace; a cached token makes none.
func TestTracingProviderGetsSpans(t *testing.T) {
	ts := newTokenServer(t)
	ft := &fakeTracer{}
	c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{TracingProvider: ft.provider()}})
	for range 2 {
		if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
			t.Fatal(redactErr(err))
		}
	}
	var names []string
	for _, s := range ft.recorded() {
		names = append(names, s.Name)
		if !s.Ended {
			t.Errorf("span %s was not ended", s.Name)
		}
		if s.Attrs["az.namespace"] != traceNamespace {
			t.Errorf("span %s: az.namespace = %v, want %s", s.Name, s.Attrs["az.namespace"], traceNamespace)
		}
	}
	if diff := cmp.Diff([]string{spanGetToken, "HTTP POST"}, names); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

// Telemetry shapes the User-Agent through azcore's telemetry policy.
func TestTelemetryUserAgent(t *testing.T) {
	tests := []struct {
		name       string
		telemetry  policy.TelemetryOptions
		wantPrefix string
		wantSDK    bool
	}{
		{name: "default", wantPrefix: "azsdk-go-" + moduleName + "/" + moduleVersion + " (", wantSDK: true},
		{name: "ApplicationID", telemetry: policy.TelemetryOptions{ApplicationID: "inventory-func"}, wantPrefix: "inventory-func azsdk-go-" + moduleName + "/", wantSDK: true},
		{name: "Disabled", telemetry: policy.TelemetryOptions{ApplicationID: "inventory-func", Disabled: true}, wantPrefix: "Go-http-client/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Telemetry: tt.telemetry}})
			if _, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}}); err != nil {
				t.Fatal(redactErr(err))
			}
			ua := ts.requestHeaders()[0].Get("User-Agent")
			if !strings.HasPrefix(ua, tt.wantPrefix) || strings.Contains(ua, "azsdk-go-") != tt.wantSDK {
				t.Errorf("User-Agent = %q, want it to start with %q (azsdk-go entry %t)", ua, tt.wantPrefix, tt.wantSDK)
			}
		})
	}
}

// A redirect of the token POST is returned as the answer, not followed: the
// assertion is posted once, to the token endpoint. An *http.Client given as
// Transport is used through a copy, so the caller's stays as it was.
func TestRedirectIsNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			ts := newTokenServer(t)
			ts.setHandler(func(n int64, r tokenRequest) reply {
				if r.Path == "/elsewhere" {
					return reply{status: 200, body: `{"expires_in":3600,"access_token":"tok"}`}
				}
				return reply{status: status, header: map[string]string{"Location": ts.URL + "/elsewhere"}}
			})
			client := ts.Client()
			c := newTestCred(t, ts, &Options{ClientOptions: policy.ClientOptions{Transport: client}})
			_, err := c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			var ae *AuthError
			if !errors.As(err, &ae) || ae.StatusCode != status {
				t.Errorf("err = %v, want *AuthError with status %d", redactErr(err), status)
			}
			var paths []string
			for _, r := range ts.requests() {
				paths = append(paths, r.Path)
			}
			if diff := cmp.Diff([]string{"/" + homeTenant + "/oauth2/v2.0/token"}, paths); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if client.CheckRedirect != nil {
				t.Error("the caller's http.Client was modified")
			}
		})
	}
}

func TestDefaultTransportRefusesRedirects(t *testing.T) {
	hc, ok := noredirect.Transport(nil, tokenHTTP).(*http.Client)
	if !ok {
		t.Fatalf("default transport is %T, want *http.Client", noredirect.Transport(nil, tokenHTTP))
	}
	if hc.CheckRedirect == nil || !errors.Is(hc.CheckRedirect(nil, nil), http.ErrUseLastResponse) {
		t.Error("the default client follows redirects")
	}
	if hc.Timeout <= 0 {
		t.Error("the default client has no timeout")
	}
	// Any other Transporter is the caller's, used as is.
	other := &countingTransport{}
	if got := noredirect.Transport(other, tokenHTTP); got != policy.Transporter(other) {
		t.Errorf("noredirect.Transport(%T) = %T, want it unchanged", other, got)
	}
}

type countingTransport struct{ n atomic.Int64 }

func (ct *countingTransport) Do(*http.Request) (*http.Response, error) {
	ct.n.Add(1)
	return nil, errors.New("not sent")
}

// A response body longer than 1 MiB fails the request after about 1 MiB was
// read: the client stops reading and closes the connection, so the server's
// writes fail long before its 256 MiB are out. Error answers too (azcore
// reads an error body whole before any policy sees it).
func TestHugeResponseIsNotReadWhole(t *testing.T) {
	const total = 256 << 20
	for _, status := range []int{200, 400, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			type outcome struct {
				written int64
				err     error
			}
			done := make(chan outcome, 4)
			var requests atomic.Int64
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				chunk := []byte(`{"error":"` + strings.Repeat("a", 64<<10))
				var o outcome
				for o.written < total {
					n, err := w.Write(chunk)
					o.written += int64(n)
					if err != nil {
						o.err = err
						break
					}
				}
				done <- o
			}))
			defer srv.Close()
			c, err := NewCredential(homeTenant, testClient, newCountingSource(), &Options{ClientOptions: policy.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL},
				Transport: srv.Client(),
				Retry:     fastRetry(policy.RetryOptions{}),
			}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{graphScope}})
			if !errors.Is(err, bodylimit.ErrTooLarge) {
				t.Errorf("err = %v, want bodylimit.ErrTooLarge", redactErr(err))
			}
			select {
			case o := <-done:
				if o.err == nil || o.written >= total {
					t.Errorf("the server wrote %d bytes (write error %v): the client read the whole body", o.written, o.err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the server's handler did not end within 30s of the client giving up")
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("requests = %d, want 1: a body too large is not retried", n)
			}
		})
	}
}
