package armtest_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/armtest"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// redact formats a value for a failure message with tokens hidden.
var redact = leak.Redact

const (
	tenantA = "aaaaaaaa-0000-0000-0000-00000000000a"
	tenantB = "bbbbbbbb-0000-0000-0000-00000000000b"
	subA1   = "a1a1a1a1-0000-0000-0000-000000000001"
	subA2   = "a2a2a2a2-0000-0000-0000-000000000002"
	subA3   = "a3a3a3a3-0000-0000-0000-000000000003"
	subB1   = "b1b1b1b1-0000-0000-0000-000000000001"
	testKid = "test-key"
)

var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// testKey is made once per test binary: RSA generation is slow under -race.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func jwksDoc(k *rsa.PrivateKey) []byte {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "kid": testKid,
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}})
	return b
}

// token signs an ARM token of tenant as Entra issues it (v1); edit changes
// the claims first.
func token(t testing.TB, tenant string, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := jwt.MapClaims{
		"aud": "https://management.core.windows.net/", "iss": "https://sts.windows.net/" + tenant + "/",
		"tid": tenant, "appid": "app", "ver": "1.0", "oid": "sp", "sub": "sp",
		"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = testKid
	s, err := tok.SignedString(testKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newServer(t *testing.T, o *armtest.Options) (*armtest.Server, *clock) {
	t.Helper()
	clk := &clock{t: testNow}
	if o == nil {
		o = &armtest.Options{}
	}
	o.JWKS = jwksDoc(testKey())
	o.Clock = clk.now
	if o.Subscriptions == nil {
		o.Tenants = []armtest.Tenant{{ID: tenantA, DisplayName: "Contoso", DefaultDomain: "contoso.onmicrosoft.com"}}
		o.Subscriptions = []armtest.Subscription{
			{ID: subA1, TenantID: tenantA, DisplayName: "Production", ResourceGroups: []armtest.ResourceGroup{{Name: "rg-web", Location: "northeurope"}, {Name: "rg-data", Tags: map[string]string{"env": "prod"}}}},
			{ID: subA2, TenantID: tenantA, DisplayName: "Test", State: "Disabled"},
			{ID: subA3, TenantID: tenantA, DisplayName: "Sandbox"},
			{ID: subB1, TenantID: tenantB, DisplayName: "Other"},
		}
	}
	s, err := armtest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, clk
}

// client is the server's client with every request bounded in time, so that
// a fake that hangs fails the test instead of hanging it.
func client(s *armtest.Server) *http.Client {
	c := s.Client()
	c.Timeout = testwait.Bound
	return c
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, s *armtest.Server, method, u, tok string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client(s).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("%s %s: status %d, body not JSON: %v", method, req.URL.Path, resp.StatusCode, err)
	}
	return a
}

// armError is the code of ARM's error shape, {"error":{"code","message"}},
// failing the test when the body has another shape.
func armError(t *testing.T, a answer) string {
	t.Helper()
	e, ok := a.body["error"].(map[string]any)
	if !ok || len(e) != 2 || e["code"] == "" || e["message"] == "" {
		t.Fatalf("body %v is not ARM's error shape", redact(a.body))
	}
	return e["code"].(string)
}

func TestListSubscriptions(t *testing.T) {
	s, _ := newServer(t, nil)
	a := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01", token(t, tenantA, nil))
	if a.status != 200 {
		t.Fatalf("status %d: %v", a.status, redact(a.body))
	}
	first := map[string]any{
		"id": "/subscriptions/" + subA1, "subscriptionId": subA1, "tenantId": tenantA, "displayName": "Production", "state": "Enabled",
		"authorizationSource": "RoleBased", "managedByTenants": []any{},
		"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
	}
	value := a.body["value"].([]any)
	if len(value) != 3 {
		t.Fatalf("%d subscriptions, want tenant A's 3: %v", len(value), a.body)
	}
	if diff := cmp.Diff(first, value[0]); diff != "" {
		t.Errorf("first subscription (-want +got):\n%s", diff)
	}
	if st := value[1].(map[string]any)["state"]; st != "Disabled" {
		t.Errorf("second state %v, want Disabled", st)
	}
	if diff := cmp.Diff(map[string]any{"type": "Total", "value": float64(3)}, a.body["count"]); diff != "" {
		t.Errorf("count (-want +got):\n%s", diff)
	}
	if _, ok := a.body["nextLink"]; ok {
		t.Error("nextLink on the only page")
	}
	for _, h := range []string{"x-ms-request-id", "x-ms-correlation-request-id"} {
		if a.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	b := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01", token(t, tenantB, nil))
	if v := b.body["value"].([]any); len(v) != 1 || v[0].(map[string]any)["subscriptionId"] != subB1 {
		t.Errorf("tenant B sees %v, want only its own subscription", b.body["value"])
	}
	c := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01", token(t, "cccccccc-0000-0000-0000-00000000000c", nil))
	if v := c.body["value"].([]any); c.status != 200 || len(v) != 0 {
		t.Errorf("a tenant without subscriptions: status %d, value %v; want 200 and an empty list", c.status, v)
	}
}

func TestPaging(t *testing.T) {
	s, _ := newServer(t, &armtest.Options{PageSize: 2})
	tok := token(t, tenantA, nil)
	var ids []string
	u := s.URL() + "/subscriptions?api-version=2022-12-01"
	for pages := 0; u != ""; pages++ {
		if pages == 5 {
			t.Fatal("more than 5 pages for 3 subscriptions")
		}
		a := call(t, s, "GET", u, tok)
		if a.status != 200 {
			t.Fatalf("page %d: status %d: %v", pages, a.status, redact(a.body))
		}
		for _, v := range a.body["value"].([]any) {
			ids = append(ids, v.(map[string]any)["subscriptionId"].(string))
		}
		u, _ = a.body["nextLink"].(string)
		if u != "" && (!strings.HasPrefix(u, s.URL()+"/subscriptions?") || !strings.Contains(u, "api-version=2022-12-01")) {
			t.Errorf("nextLink %q: want this server's /subscriptions with the api-version", u)
		}
	}
	if diff := cmp.Diff([]string{subA1, subA2, subA3}, ids); diff != "" {
		t.Errorf("subscriptions over the pages (-want +got):\n%s", diff)
	}
	if a := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01&$skiptoken=x", tok); a.status != 400 {
		t.Errorf("bad skip token: status %d, want 400", a.status)
	}
}

func TestAPIVersion(t *testing.T) {
	s, _ := newServer(t, nil)
	tests := []struct {
		name, query, tok, code string
		status                 int
	}{
		{"missing, even without a token", "", "", "MissingApiVersionParameter", 400},
		{"missing", "", token(t, tenantA, nil), "MissingApiVersionParameter", 400},
		{"malformed", "?api-version=latest", token(t, tenantA, nil), "InvalidApiVersionParameter", 400},
		{"old", "?api-version=2016-06-01", token(t, tenantA, nil), "", 200},
		{"preview", "?api-version=2020-01-01-preview", token(t, tenantA, nil), "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, "GET", s.URL()+"/subscriptions"+tc.query, tc.tok)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %v", a.status, tc.status, redact(a.body))
			}
			if tc.code != "" {
				if got := armError(t, a); got != tc.code {
					t.Errorf("code %s, want %s", got, tc.code)
				}
			}
		})
	}
}

func TestTokenValidation(t *testing.T) {
	s, clk := newServer(t, nil)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	forged := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"aud": armtest.Audiences()[0], "iss": "https://sts.windows.net/" + tenantA + "/", "tid": tenantA, "exp": testNow.Add(time.Hour).Unix()})
		tok.Header["kid"] = testKid
		s, err := tok.SignedString(other)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	tests := []struct {
		name, auth, code string
	}{
		{"no header", "", "AuthenticationFailed"},
		{"basic scheme", "Basic dXNlcjpwYXNz", "AuthenticationFailed"},
		{"not a JWT", "Bearer abc", "InvalidAuthenticationToken"},
		{"other key", "Bearer " + forged, "InvalidAuthenticationToken"},
		{"Graph audience", "Bearer " + token(t, tenantA, func(c jwt.MapClaims) { c["aud"] = "https://graph.microsoft.com" }), "InvalidAuthenticationTokenAudience"},
		{"ARM's app ID as audience", "Bearer " + token(t, tenantA, func(c jwt.MapClaims) { c["aud"] = "797f4846-ba00-4fd7-ba43-dac1f8f63013" }), "InvalidAuthenticationTokenAudience"},
		{"v2 issuer", "Bearer " + token(t, tenantA, func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/" + tenantA + "/v2.0" }), "InvalidAuthenticationTokenTenant"},
		{"issuer of another tenant", "Bearer " + token(t, tenantA, func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + tenantB + "/" }), "InvalidAuthenticationTokenTenant"},
		{"expired", "Bearer " + token(t, tenantA, func(c jwt.MapClaims) { c["exp"] = testNow.Add(-10 * time.Minute).Unix() }), "ExpiredAuthenticationToken"},
		{"not yet valid", "Bearer " + token(t, tenantA, func(c jwt.MapClaims) { c["nbf"] = testNow.Add(10 * time.Minute).Unix() }), "InvalidAuthenticationToken"},
		{"HS256", "Bearer " + func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": armtest.Audiences()[0]}).SignedString([]byte("k"))
			return s
		}(), "InvalidAuthenticationToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL()+"/subscriptions?api-version=2022-12-01", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := client(s).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 401 || body["error"]["code"] != tc.code {
				t.Errorf("status %d code %q, want 401 %s", resp.StatusCode, body["error"]["code"], tc.code)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer authorization_uri=") || !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q: want ARM's Bearer challenge", ch)
			}
			if tok, ok := strings.CutPrefix(tc.auth, "Bearer "); ok && len(tok) > 20 {
				if where := leak.Find(body["error"]["message"]+resp.Header.Get("WWW-Authenticate"), tok); where != "" {
					t.Errorf("the answer holds %s", where)
				}
			}
		})
	}
	if a := armtest.Audiences(); len(a) != 4 {
		t.Errorf("Audiences() = %v, want ARM's four", a)
	} else {
		a[0] = "changed"
		if armtest.Audiences()[0] == "changed" {
			t.Error("Audiences returns the package's own slice")
		}
	}
	for _, aud := range armtest.Audiences() {
		if a := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01", token(t, tenantA, func(c jwt.MapClaims) { c["aud"] = aud })); a.status != 200 {
			t.Errorf("audience %s: status %d, want 200", aud, a.status)
		}
	}
	// Within five minutes of skew an expired token still passes, as at ARM.
	clk.set(testNow.Add(time.Hour + 4*time.Minute))
	if a := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01", token(t, tenantA, nil)); a.status != 200 {
		t.Errorf("4 minutes past exp: status %d, want 200 (skew)", a.status)
	}
	clk.set(testNow.Add(time.Hour + 6*time.Minute))
	a := call(t, s, "GET", s.URL()+"/subscriptions?api-version=2022-12-01", token(t, tenantA, nil))
	if code := armError(t, a); code != "ExpiredAuthenticationToken" {
		t.Errorf("6 minutes past exp: code %s, want ExpiredAuthenticationToken", code)
	}
}

func TestSubscriptionAndResourceGroups(t *testing.T) {
	s, _ := newServer(t, nil)
	tok := token(t, tenantA, nil)
	q := "?api-version=2021-04-01"
	a := call(t, s, "GET", s.URL()+"/subscriptions/"+subA1+q, tok)
	if a.status != 200 || a.body["subscriptionId"] != subA1 || a.body["id"] != "/subscriptions/"+subA1 {
		t.Errorf("GET subscription: status %d body %v", a.status, a.body)
	}
	a = call(t, s, "GET", s.URL()+"/subscriptions/"+subA1+"/resourcegroups"+q, tok)
	want := []any{
		map[string]any{"id": "/subscriptions/" + subA1 + "/resourceGroups/rg-web", "name": "rg-web", "type": "Microsoft.Resources/resourceGroups",
			"location": "northeurope", "properties": map[string]any{"provisioningState": "Succeeded"}},
		map[string]any{"id": "/subscriptions/" + subA1 + "/resourceGroups/rg-data", "name": "rg-data", "type": "Microsoft.Resources/resourceGroups",
			"location": "westeurope", "properties": map[string]any{"provisioningState": "Succeeded"}, "tags": map[string]any{"env": "prod"}},
	}
	if diff := cmp.Diff(want, a.body["value"]); a.status != 200 || diff != "" {
		t.Errorf("resource groups: status %d (-want +got):\n%s", a.status, diff)
	}
	// ARM's paths are case-insensitive: the SDKs write resourceGroups.
	if a := call(t, s, "GET", s.URL()+"/subscriptions/"+strings.ToUpper(subA1)+"/resourceGroups/RG-WEB"+q, tok); a.status != 200 || a.body["name"] != "rg-web" {
		t.Errorf("GET resource group: status %d body %v", a.status, a.body)
	}
	tests := []struct {
		name, path, code string
		status           int
	}{
		{"unknown group", "/subscriptions/" + subA1 + "/resourceGroups/rg-none", "ResourceGroupNotFound", 404},
		{"unknown subscription", "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", "SubscriptionNotFound", 404},
		{"malformed subscription", "/subscriptions/prod/resourcegroups", "InvalidSubscriptionId", 400},
		{"another tenant's subscription", "/subscriptions/" + subB1 + "/resourcegroups", "InvalidAuthenticationTokenTenant", 401},
		{"unknown route", "/providers/Microsoft.Compute/operations", "InvalidResourceType", 404},
		{"unknown route under a subscription", "/subscriptions/" + subA1 + "/providers/Microsoft.Web/sites", "InvalidResourceType", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, "GET", s.URL()+tc.path+q, tok)
			if code := armError(t, a); a.status != tc.status || code != tc.code {
				t.Errorf("status %d code %s, want %d %s", a.status, code, tc.status, tc.code)
			}
		})
	}
	if a := call(t, s, "DELETE", s.URL()+"/subscriptions/"+subA1+"/resourcegroups/rg-web"+q, tok); a.status != 405 || armError(t, a) != "MethodNotAllowed" {
		t.Errorf("DELETE: status %d, want 405", a.status)
	}
	if a := call(t, s, "GET", s.URL()+"/subscriptions/"+subB1+q, tok); !strings.Contains(a.header.Get("WWW-Authenticate"), "https://login.windows.net/"+tenantB) {
		t.Errorf("another tenant's subscription: challenge %q does not name its tenant", a.header.Get("WWW-Authenticate"))
	}
}

func TestTenants(t *testing.T) {
	s, _ := newServer(t, nil)
	a := call(t, s, "GET", s.URL()+"/tenants?api-version=2022-12-01", token(t, tenantA, nil))
	want := []any{map[string]any{"id": "/tenants/" + tenantA, "tenantId": tenantA, "tenantCategory": "Home", "displayName": "Contoso",
		"defaultDomain": "contoso.onmicrosoft.com", "domains": []any{"contoso.onmicrosoft.com"}}}
	if diff := cmp.Diff(want, a.body["value"]); a.status != 200 || diff != "" {
		t.Errorf("tenants: status %d (-want +got):\n%s", a.status, diff)
	}
	b := call(t, s, "GET", s.URL()+"/tenants?api-version=2022-12-01", token(t, tenantB, nil))
	if diff := cmp.Diff([]any{map[string]any{"id": "/tenants/" + tenantB, "tenantId": tenantB, "tenantCategory": "Home"}}, b.body["value"]); diff != "" {
		t.Errorf("a tenant not in Options.Tenants (-want +got):\n%s", diff)
	}
}

func TestFaultsAndRequestLog(t *testing.T) {
	var logBuf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf, mu: &mu}, nil))
	s, _ := newServer(t, &armtest.Options{Logger: logger})
	tok := token(t, tenantA, nil)
	u := s.URL() + "/subscriptions?api-version=2022-12-01"
	f, err := armtest.ParseFault("arm:429:retry-after=2:count=1")
	if err != nil {
		t.Fatal(err)
	}
	s.AddFault(f)
	a := call(t, s, "GET", u, tok)
	if a.status != 429 || a.header.Get("Retry-After") != "2" || armError(t, a) != "TooManyRequests" {
		t.Errorf("fault: status %d Retry-After %q, want 429 and 2", a.status, a.header.Get("Retry-After"))
	}
	if a := call(t, s, "GET", u, tok); a.status != 200 {
		t.Errorf("after count=1: status %d, want 200", a.status)
	}
	s.AddFault(armtest.Fault{Endpoint: "arm", Status: 503, Path: "/resourcegroups"})
	if a := call(t, s, "GET", u, tok); a.status != 200 {
		t.Errorf("a path fault for another path: status %d", a.status)
	}
	if a := call(t, s, "GET", s.URL()+"/subscriptions/"+subA1+"/resourcegroups?api-version=2022-12-01", tok); a.status != 503 {
		t.Errorf("path fault: status %d, want 503", a.status)
	}
	s.ClearFaults()
	if a := call(t, s, "GET", s.URL()+"/subscriptions/"+subA1+"/resourcegroups?api-version=2022-12-01", tok); a.status != 200 {
		t.Errorf("after ClearFaults: status %d", a.status)
	}
	if _, err := armtest.ParseFault("graph:503"); err == nil {
		t.Error("ParseFault accepted a Graph fault")
	}

	reqs := s.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests recorded, want 5", len(reqs))
	}
	r0 := reqs[0]
	if r0.Listener != armtest.ListenerARM || r0.Status != 429 || r0.Code != "TooManyRequests" || r0.Tenant != tenantA ||
		r0.Header.Get("Authorization") != "[redacted]" || r0.Path != "/subscriptions" || !r0.Time.Equal(testNow) {
		t.Errorf("first record = %+v", redact(r0))
	}
	mu.Lock()
	logged := logBuf.String()
	mu.Unlock()
	if strings.Count(logged, "armtest request") != 5 || !strings.Contains(logged, "error_code=TooManyRequests") {
		t.Errorf("log lines:\n%s", redact(logged))
	}
	if where := leak.Find(logged+redactNothing(reqs), tok); where != "" {
		t.Errorf("the log or the request records hold %s", where)
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests after ResetRequests", n)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]*armtest.Options{
		"duplicate":   {Subscriptions: []armtest.Subscription{{ID: subA1, TenantID: tenantA}, {ID: strings.ToUpper(subA1), TenantID: tenantB}}},
		"no tenant":   {Subscriptions: []armtest.Subscription{{ID: subA1}}},
		"slash in ID": {Subscriptions: []armtest.Subscription{{ID: "a/b", TenantID: tenantA}}},
		"page size":   {PageSize: -1},
		"bad JWKS":    {JWKS: []byte("{")},
	} {
		if s, err := armtest.New(o); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestRequestLogIsBounded: a client's huge or secret-bearing headers and
// query reach the log clipped and redacted.
func TestRequestLogIsBounded(t *testing.T) {
	s, _ := newServer(t, nil)
	tok := token(t, tenantA, nil)
	req, _ := http.NewRequest("GET", s.URL()+"/subscriptions?api-version=2022-12-01&x="+strings.Repeat("q", 100<<10)+"&leak="+tok, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Big", strings.Repeat("b", 200<<10))
	req.Header.Set("X-Echo", tok)
	for i := range 100 {
		req.Header.Add("X-Many", strings.Repeat("m", i))
	}
	resp, err := client(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := s.Requests()[0]
	size := len(r.URL) + len(r.RawQuery) + len(r.Path)
	values := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			size += len(k) + len(v)
			values++
		}
	}
	if size > 20<<10 || values > 32 {
		t.Errorf("the record holds %d bytes in %d header values; want it bounded (at most 32 values, a few KiB)", size, values)
	}
	if where := leak.Find(redactNothing(r), tok); where != "" || r.Header.Get("Authorization") != "[redacted]" {
		t.Errorf("the record holds %s (Authorization %q)", where, r.Header.Get("Authorization"))
	}
	// A token echoed in a small header or the query is hidden too.
	req, _ = http.NewRequest("GET", s.URL()+"/subscriptions?api-version=2022-12-01&leak="+tok, nil)
	req.Header.Set("X-Echo", tok)
	resp, err = client(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r = s.Requests()[1]
	if where := leak.Find(redactNothing(r), tok); where != "" || r.Header.Get("X-Echo") == "" {
		t.Errorf("the record holds %s, or lost the header: X-Echo %q", where, r.Header.Get("X-Echo"))
	}
}

// redactNothing prints a value as is, to look for secrets in it.
func redactNothing(v any) string { b, _ := json.Marshal(v); return string(b) }
