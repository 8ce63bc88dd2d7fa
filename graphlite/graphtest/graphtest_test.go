package graphtest_test

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	now := e.clock.Now()
	good := testKeys()[0]
	other := testKeys()[1]
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := claims(tenantA, now, "Device.Read.All")
		mod(c)
		return c
	}
	noneToken := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(tenantA, now, "Device.Read.All"))
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hs256 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(tenantA, now, "Device.Read.All"))
		tok.Header["kid"] = "k1"
		s, _ := tok.SignedString([]byte("a shared secret that is long enough"))
		return s
	}()
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"valid", sign(t, "k1", good, claims(tenantA, now, "Device.Read.All")), 200, "", ""},
		{"Graph app ID audience", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["aud"] = "00000003-0000-0000-c000-000000000000" })), 200, "", ""},
		{"Directory.Read.All", sign(t, "k1", good, claims(tenantA, now, "Directory.Read.All")), 200, "", ""},
		{"Device.ReadWrite.All", sign(t, "k1", good, claims(tenantA, now, "Device.ReadWrite.All")), 200, "", ""},
		{"skew tolerated", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-30 * time.Second).Unix() })), 200, "", ""},
		{"no token", "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"not a JWT", "opaque", 401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.)."},
		{"bad signature", sign(t, "k1", other, claims(tenantA, now, "Device.Read.All")), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature."},
		{"unknown kid", sign(t, "nope", good, claims(tenantA, now, "Device.Read.All")), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature."},
		{"alg none", noneToken, 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature."},
		{"alg HS256", hs256, 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature."},
		{"wrong audience", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["aud"] = "https://management.azure.com" })), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."},
		{"ARM audience with its slash", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["aud"] = "https://management.azure.com/" })), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."},
		{"a managed-identity assertion's audience", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["aud"] = "api://AzureADTokenExchange" })), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."},
		{"expired", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Minute).Unix() })), 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."},
		{"no exp", sign(t, "k1", good, with(func(c jwt.MapClaims) { delete(c, "exp") })), 401, "InvalidAuthenticationToken", "Access token validation failure."},
		{"not yet valid", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Minute).Unix() })), 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is not yet valid."},
		{"issuer of another tenant", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["iss"] = "https://sts.windows.net/" + tenantB + "/" })), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer."},
		{"v2 issuer", sign(t, "k1", good, with(func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/" + tenantA + "/v2.0" })), 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer."},
		{"no role", sign(t, "k1", good, claims(tenantA, now)), 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{"unrelated role", sign(t, "k1", good, claims(tenantA, now, "User.Read.All")), 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "GET", "/v1.0/devices", tt.token, nil, "")
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %.300s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantStatus == 200 {
				return
			}
			code, msg := r.errorCode(t)
			if diff := cmp.Diff([]string{tt.wantCode, tt.wantMsg}, []string{code, msg}); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.wantStatus == 401 && !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
			}
			inner := r.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
			if inner["request-id"] != r.header.Get("request-id") || inner["request-id"] == "" {
				t.Errorf("innerError.request-id = %v, header %q", inner["request-id"], r.header.Get("request-id"))
			}
		})
	}
}

func TestTokenNotInRecordedRequests(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tok := e.token(t, tenantA)
	e.do(t, "GET", "/v1.0/devices?$top=5", tok, map[string]string{"client-request-id": "cr-1"}, "")
	reqs := e.srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("recorded %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if strings.Contains(fmt.Sprintf("%#v", got), tok) {
		t.Error("recorded request contains the token")
	}
	want := graphtest.Request{Time: e.clock.Now(), Listener: "graph", Method: "GET", Path: "/v1.0/devices", RawQuery: "$top=5", Status: 200, Tenant: tenantA}
	if diff := cmp.Diff(want, got, cmpIgnore("URL", "Header")); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got.Header.Get("Authorization") != "[redacted]" || got.Header.Get("client-request-id") != "cr-1" {
		// If the redaction regressed, the recorded Authorization value is the
		// bearer token itself: print it only through redact.
		t.Errorf("headers: Authorization %q, client-request-id %q", redact(got.Header.Get("Authorization"), tok), got.Header.Get("client-request-id"))
	}
}

func cmpIgnore(fields ...string) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		for _, f := range fields {
			if p.Last().String() == "."+f {
				return true
			}
		}
		return false
	}, cmp.Ignore())
}

func TestKeyRefetchOnUnknownKid(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	if r := e.do(t, "GET", "/v1.0/devices", e.token(t, tenantA), nil, ""); r.status != 200 {
		t.Fatalf("first request: %d %s", r.status, r.body)
	}
	if n := e.is.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
	// The issuer rotates to k2; a token signed with it names an unknown kid.
	e.is.publish("k2", testKeys()[2])
	rotated := sign(t, "k2", testKeys()[2], claims(tenantA, e.clock.Now(), "Device.Read.All"))
	e.clock.Advance(graphtest.KeysRefetchInterval / 2)
	if r := e.do(t, "GET", "/v1.0/devices", rotated, nil, ""); r.status != 401 {
		t.Fatalf("within the refetch interval: status %d, want 401", r.status)
	}
	if n := e.is.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times within the interval, want 1", n)
	}
	e.clock.Advance(graphtest.KeysRefetchInterval)
	if r := e.do(t, "GET", "/v1.0/devices", rotated, nil, ""); r.status != 200 {
		t.Fatalf("after the interval: status %d %s, want 200", r.status, r.body)
	}
	if n := e.is.fetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
	// Known kids do not refetch.
	e.clock.Advance(time.Hour)
	e.do(t, "GET", "/v1.0/devices", sign(t, "k1", testKeys()[0], claims(tenantA, e.clock.Now(), "Device.Read.All")), nil, "")
	if n := e.is.fetches.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times after a known kid, want 2", n)
	}
}

// names lists the displayName of each device in a list response.
func names(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	vals, _ := r.json(t)["value"].([]any)
	for _, v := range vals {
		out = append(out, fmt.Sprint(v.(map[string]any)["displayName"]))
	}
	sort.Strings(out)
	return out
}

func TestFilter(t *testing.T) {
	e := newEnv(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	tok := e.token(t, tenantA)
	eventual := map[string]string{"ConsistencyLevel": "eventual"}
	tests := []struct {
		name     string
		filter   string
		count    bool
		header   map[string]string
		want     []string
		wantCode string
	}{
		{"eq", "operatingSystem eq 'Windows'", false, nil, []string{"Alice's Laptop", "Bob's Laptop"}, ""},
		{"eq ignores case", "operatingSystem eq 'windows'", false, nil, []string{"Alice's Laptop", "Bob's Laptop"}, ""},
		{"quote escaping", "displayName eq 'Alice''s Laptop'", false, nil, []string{"Alice's Laptop"}, ""},
		{"startswith", "startswith(displayName,'alice')", false, nil, []string{"Alice's Laptop", "alice phone"}, ""},
		{"bool", "accountEnabled eq false", false, nil, []string{"Bob's Laptop"}, ""},
		{"and", "operatingSystem eq 'Windows' and accountEnabled eq true", false, nil, []string{"Alice's Laptop"}, ""},
		{"parentheses", "(trustType eq 'AzureAd') and (isManaged eq true)", false, nil, []string{"Alice's Laptop"}, ""},
		{"null", "isCompliant eq null", false, nil, []string{"Bob's Laptop", "Build agent"}, ""},
		{"deviceId", "deviceId eq 'dev-2'", false, nil, []string{"alice phone"}, ""},
		{"ne with advanced query", "operatingSystem ne 'Windows'", true, eventual, []string{"Build agent", "alice phone"}, ""},
		{"ne without header", "operatingSystem ne 'Windows'", true, nil, nil, "Request_UnsupportedQuery"},
		{"ne without count", "operatingSystem ne 'Windows'", false, eventual, nil, "Request_UnsupportedQuery"},
		{"unsupported property", "model eq 'x'", false, nil, nil, "Request_UnsupportedQuery"},
		{"unknown property", "colour eq 'red'", false, nil, nil, "Request_BadRequest"},
		{"or", "trustType eq 'AzureAd' or trustType eq 'ServerAd'", false, nil, nil, "Request_UnsupportedQuery"},
		{"syntax", "displayName eq", false, nil, nil, "BadRequest"},
		{"unterminated", "displayName eq 'x", false, nil, nil, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"$filter": {tt.filter}}
			if tt.count {
				q.Set("$count", "true")
			}
			r := e.do(t, "GET", "/v1.0/devices?"+q.Encode(), tok, tt.header, "")
			if tt.wantCode != "" {
				code, _ := r.errorCode(t)
				if r.status != 400 || code != tt.wantCode {
					t.Fatalf("got %d %s, want 400 %s", r.status, code, tt.wantCode)
				}
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if diff := cmp.Diff(tt.want, names(t, r)); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectAndGet(t *testing.T) {
	e := newEnv(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}, Generated: map[string]int{tenantA: 10}})
	tok := e.token(t, tenantA)

	r := e.do(t, "GET", "/v1.0/devices?$select=id,DisplayName&$top=1", tok, nil, "")
	want := map[string]any{"id": "d-1", "displayName": "Alice's Laptop"}
	if diff := cmp.Diff(want, r.json(t)["value"].([]any)[0]); diff != "" {
		t.Errorf("selected device (-want +got):\n%s", diff)
	}
	if got := r.json(t)["@odata.context"]; got != e.srv.URL()+"/v1.0/$metadata#devices(id,displayName)" {
		t.Errorf("@odata.context = %v", got)
	}
	if r := e.do(t, "GET", "/v1.0/devices?$select=colour", tok, nil, ""); r.status != 400 {
		t.Errorf("unknown $select property: status %d, want 400", r.status)
	}

	r = e.do(t, "GET", "/beta/devices/d-3?$select=displayName,isCompliant", tok, nil, "")
	want = map[string]any{"@odata.context": e.srv.URL() + "/beta/$metadata#devices(displayName,isCompliant)/$entity", "displayName": "Bob's Laptop", "isCompliant": nil}
	if diff := cmp.Diff(want, r.json(t)); diff != "" {
		t.Errorf("device by id (-want +got):\n%s", diff)
	}

	// A generated device can be fetched by the id it was listed with.
	list := e.do(t, "GET", "/v1.0/devices?$filter="+url.QueryEscape("displayName eq 'DEVICE-000007'"), tok, nil, "")
	dev := list.json(t)["value"].([]any)[0].(map[string]any)
	one := e.do(t, "GET", "/v1.0/devices/"+dev["id"].(string), tok, nil, "").json(t)
	delete(one, "@odata.context")
	if diff := cmp.Diff(dev, one); diff != "" {
		t.Errorf("generated device by id (-want +got):\n%s", diff)
	}
	for _, id := range []string{"d-404", strings.Replace(dev["id"].(string), "000000000007", "000000000999", 1)} {
		r := e.do(t, "GET", "/v1.0/devices/"+id, tok, nil, "")
		if code, _ := r.errorCode(t); r.status != 404 || code != "Request_ResourceNotFound" {
			t.Errorf("GET /devices/%s: %d %s, want 404 Request_ResourceNotFound", id, r.status, code)
		}
	}
	// Another tenant's token sees none of these.
	if r := e.do(t, "GET", "/v1.0/devices/d-1", e.token(t, tenantB), nil, ""); r.status != 404 {
		t.Errorf("other tenant: status %d, want 404", r.status)
	}
}

func TestPaging(t *testing.T) {
	const n = 2500
	e := newEnv(t, graphtest.Options{Generated: map[string]int{tenantA: n, tenantB: n}})
	tok := e.token(t, tenantA)
	seen := map[string]bool{}
	next := "/v1.0/devices?$top=999&$select=id,displayName"
	pages := 0
	var firstLink string
	for next != "" {
		r := e.do(t, "GET", next, tok, nil, "")
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		m := r.json(t)
		for _, v := range m["value"].([]any) {
			seen[v.(map[string]any)["id"].(string)] = true
		}
		next, _ = m["@odata.nextLink"].(string)
		if pages == 0 {
			firstLink = next
		}
		pages++
	}
	if pages != 3 || len(seen) != n {
		t.Fatalf("%d pages, %d distinct devices; want 3 and %d", pages, len(seen), n)
	}
	if !strings.HasPrefix(firstLink, e.srv.URL()+"/v1.0/devices?$top=999&$select=id,displayName&$skiptoken=") {
		t.Errorf("nextLink %q does not keep the query as sent", firstLink)
	}
	if got := e.srv.Requests()[0].NextLink; got != firstLink {
		t.Errorf("Requests()[0].NextLink = %q, want %q", got, firstLink)
	}

	// A skip token is bound to its tenant and cannot be forged.
	u, _ := url.Parse(firstLink)
	skip := u.Query().Get("$skiptoken")
	for name, tc := range map[string]struct{ tok, skip string }{
		"other tenant": {e.token(t, tenantB), skip},
		"garbage":      {tok, "RFNwdAoAgarbage"},
		"not ours":     {tok, "abc"},
	} {
		r := e.do(t, "GET", "/v1.0/devices?$skiptoken="+url.QueryEscape(tc.skip), tc.tok, nil, "")
		if code, _ := r.errorCode(t); r.status != 400 || code != "Directory_ExpiredPageToken" {
			t.Errorf("%s: %d %s, want 400 Directory_ExpiredPageToken", name, r.status, code)
		}
	}
	for _, top := range []string{"0", "1000", "x"} {
		if r := e.do(t, "GET", "/v1.0/devices?$top="+top, tok, nil, ""); r.status != 400 {
			t.Errorf("$top=%s: status %d, want 400", top, r.status)
		}
	}
	// Default page size is 100.
	if got := len(e.do(t, "GET", "/v1.0/devices", tok, nil, "").json(t)["value"].([]any)); got != 100 {
		t.Errorf("default page: %d devices, want 100", got)
	}
}

func TestGeneratedDevicesAreDeterministic(t *testing.T) {
	first := func() []any {
		e := newEnv(t, graphtest.Options{Generated: map[string]int{tenantA: 5}})
		return e.do(t, "GET", "/v1.0/devices", e.token(t, tenantA), nil, "").json(t)["value"].([]any)
	}
	a, b := first(), first()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two servers generate different devices (-first +second):\n%s", diff)
	}
	if len(a) != 5 || a[0].(map[string]any)["displayName"] != "DEVICE-000000" {
		t.Errorf("generated devices: %v", a)
	}
}

func TestCount(t *testing.T) {
	e := newEnv(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}, Generated: map[string]int{tenantA: 1000}})
	tok := e.token(t, tenantA)
	eventual := map[string]string{"ConsistencyLevel": "eventual"}

	r := e.do(t, "GET", "/v1.0/devices?$count=true&$top=1", tok, nil, "")
	if code, _ := r.errorCode(t); r.status != 400 || code != "Request_UnsupportedQuery" {
		t.Errorf("$count without ConsistencyLevel: %d %s", r.status, code)
	}
	r = e.do(t, "GET", "/v1.0/devices?$count=true&$top=1", tok, eventual, "")
	if got := r.json(t)["@odata.count"]; got != float64(1004) {
		t.Errorf("@odata.count = %v, want 1004", got)
	}
	r = e.do(t, "GET", "/v1.0/devices/$count?$filter="+url.QueryEscape("operatingSystem eq 'Linux'"), tok, eventual, "")
	// 1 scenario device and every fifth generated one.
	if string(r.body) != "201" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("/devices/$count = %q (%s), want 201 text/plain", r.body, r.header.Get("Content-Type"))
	}
	if r := e.do(t, "GET", "/v1.0/devices/$count", tok, nil, ""); r.status != 400 {
		t.Errorf("/devices/$count without ConsistencyLevel: %d, want 400", r.status)
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	tok := e.token(t, tenantA)
	body := `{"requests":[
		{"id":"1","method":"GET","url":"/devices/d-1?$select=displayName"},
		{"id":"2","method":"GET","url":"/devices/nope"},
		{"id":"3","method":"GET","url":"devices/$count","headers":{"ConsistencyLevel":"eventual"}}]}`
	r := e.do(t, "POST", "/v1.0/$batch", tok, map[string]string{"Content-Type": "application/json"}, body)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := map[string]string{}
	for _, v := range r.json(t)["responses"].([]any) {
		m := v.(map[string]any)
		got[m["id"].(string)] = fmt.Sprint(m["status"])
		if m["id"] == "1" && m["body"].(map[string]any)["displayName"] != "Alice's Laptop" {
			t.Errorf("response 1 body: %v", m["body"])
		}
		if m["id"] == "3" && m["body"] != "4" {
			t.Errorf("response 3 body: %v", m["body"])
		}
	}
	if diff := cmp.Diff(map[string]string{"1": "200", "2": "404", "3": "200"}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	var reqs []string
	for _, rq := range e.srv.Requests() {
		reqs = append(reqs, fmt.Sprint(rq.Method, " ", rq.Path, " ", rq.InBatch, " ", rq.Status))
	}
	if diff := cmp.Diff([]string{"GET /v1.0/devices/$count true 200", "GET /v1.0/devices/nope true 404", "GET /v1.0/devices/d-1 true 200", "POST /v1.0/$batch false 200"}, reqs); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}

	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/devices"}`, i))
	}
	for name, b := range map[string]string{
		"21 requests":  `{"requests":[` + strings.Join(many, ",") + `]}`,
		"duplicate id": `{"requests":[{"id":"1","url":"/devices"},{"id":"1","url":"/devices"}]}`,
		"not JSON":     `{`,
		"too large":    `{"requests":[{"id":"` + strings.Repeat("x", 2<<20) + `"}]}`,
	} {
		if r := e.do(t, "POST", "/v1.0/$batch", tok, nil, b); r.status != 400 {
			t.Errorf("%s: status %d, want 400", name, r.status)
		}
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tok := e.token(t, tenantA)
	e.srv.AddFault(graphtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Count: 2, Path: "/devices"})
	e.srv.AddFault(graphtest.Fault{Status: http.StatusServiceUnavailable, Count: 1})
	e.srv.AddFault(graphtest.Fault{Status: http.StatusUnauthorized, Claims: `{"access_token":{"nbf":{"essential":true,"value":"1"}}}`, Count: 1})

	var got []string
	for range 5 {
		r := e.do(t, "GET", "/v1.0/devices", tok, nil, "")
		code := ""
		if r.status != 200 {
			code, _ = r.errorCode(t)
		}
		got = append(got, fmt.Sprint(r.status, " ", code, " ", r.header.Get("Retry-After")))
		if r.status == 401 {
			h := r.header.Get("WWW-Authenticate")
			_, claims, ok := strings.Cut(h, `claims="`)
			dec, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(claims, `"`))
			if !ok || err != nil || string(dec) != `{"access_token":{"nbf":{"essential":true,"value":"1"}}}` || !strings.Contains(h, `error="insufficient_claims"`) {
				t.Errorf("claims challenge %q", h)
			}
		}
	}
	want := []string{"429 TooManyRequests 7", "429 TooManyRequests 7", "503 ServiceUnavailable ", "401 InvalidAuthenticationToken ", "200  "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tok := e.token(t, tenantA)
	for path, status := range map[string]int{"/v2.0/devices": 400, "/v1.0/users": 400, "/v1.0/devices/a/b": 400} {
		if r := e.do(t, "GET", path, tok, nil, ""); r.status != status {
			t.Errorf("GET %s: %d, want %d", path, r.status, status)
		}
	}
	if r := e.do(t, "DELETE", "/v1.0/devices/x", tok, nil, ""); r.status != 405 {
		t.Errorf("DELETE: %d, want 405", r.status)
	}
}

func TestServerBasics(t *testing.T) {
	srv, err := graphtest.New(&graphtest.Options{JWKS: []byte(`{"keys":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL(), "https://127.0.0.1:") {
		t.Errorf("URL() = %q", srv.URL())
	}
	if b, _ := pem.Decode(srv.CAPEM()); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("CAPEM() is not a PEM certificate")
	}
	if _, err := graphtest.New(&graphtest.Options{JWKS: []byte(`{`)}); err == nil {
		t.Error("New accepted a malformed JWKS")
	}
}

func TestStaticJWKSAndEscaping(t *testing.T) {
	// A static key set instead of KeysURL, and names that need JSON escaping.
	k := testKeys()[1]
	jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"static","n":%q,"e":"AQAB"}]}`, base64.RawURLEncoding.EncodeToString(k.N.Bytes()))
	name := "Café \"quoted\" <&> \\ \u2028 tab\t"
	srv, err := graphtest.New(&graphtest.Options{
		JWKS:    []byte(jwks),
		Devices: map[string][]map[string]any{tenantA: {{"id": "d-1", "displayName": name}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := &env{srv: srv}
	r := e.do(t, "GET", "/v1.0/devices/d-1?$select=displayName", sign(t, "static", k, claims(tenantA, time.Now(), "Device.Read.All")), nil, "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := r.json(t)["displayName"]; got != name {
		t.Errorf("displayName = %q, want %q", got, name)
	}
}
