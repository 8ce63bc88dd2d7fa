package graphtest_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

func TestLimitsPerTenantBySize(t *testing.T) {
	// Scaled down: 2 / 3 / 4 units per 10 s by size, a large app bucket.
	e := newEnv(t, graphtest.Options{
		Generated: map[string]int{tenantA: 3, tenantB: 3},
		Limits: &graphtest.Limits{SmallTenantUnits: 2, MediumTenantUnits: 3, LargeTenantUnits: 4, TenantWindow: 10 * time.Second,
			AppUnits: 100, AppWindow: 20 * time.Second, TenantUsers: map[string]int{tenantB: 501}},
	})
	type answer struct {
		Status                            int
		Units, Percent, Scope, RetryAfter string
	}
	get := func(tid, path string) answer {
		r := e.do(t, "GET", path, e.token(t, tid), nil, "")
		scope, _, _ := strings.Cut(r.header.Get("x-ms-throttle-scope"), "/")
		return answer{r.status, r.header.Get("x-ms-resource-unit"), r.header.Get("x-ms-throttle-limit-percentage"), scope, r.header.Get("Retry-After")}
	}
	var got []answer
	for range 3 {
		got = append(got, get(tenantA, "/v1.0/devices?$select=id"))
	}
	for range 5 {
		got = append(got, get(tenantB, "/v1.0/devices"))
	}
	want := []answer{
		{200, "1", "", "", ""},
		{200, "1", "1.00", "Tenant_Application", ""},
		{429, "1", "1.00", "Tenant_Application", "10"},
		// Tenant B is large: four units.
		{200, "1", "", "", ""},
		{200, "1", "", "", ""},
		{200, "1", "", "", ""}, // 75 %: not yet reported
		{200, "1", "1.00", "Tenant_Application", ""},
		{429, "1", "1.00", "Tenant_Application", "10"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	// The next window serves again.
	e.clock.Advance(10 * time.Second)
	if a := get(tenantA, "/v1.0/devices"); a.Status != 200 {
		t.Errorf("next window: %+v", a)
	}
	reqs := e.srv.Requests()
	if reqs[2].Code != "TooManyRequests" {
		t.Errorf("the throttled request's code %q", reqs[2].Code)
	}
}

func TestLimitsAppWideAndInBatch(t *testing.T) {
	e := newEnv(t, graphtest.Options{
		Generated: map[string]int{tenantA: 3, tenantB: 3},
		Limits:    &graphtest.Limits{AppUnits: 3, AppWindow: 20 * time.Second},
	})
	if r := e.do(t, "GET", "/v1.0/devices", e.token(t, tenantA), nil, ""); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	// Three items in one batch of tenant B: the app has two units left.
	body := `{"requests":[{"id":"1","method":"GET","url":"/devices"},{"id":"2","method":"GET","url":"/devices"},{"id":"3","method":"GET","url":"/devices"}]}`
	r := e.do(t, "POST", "/v1.0/$batch", e.token(t, tenantB), map[string]string{"Content-Type": "application/json"}, body)
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var statuses []int
	var scope, after string
	for _, item := range r.json(t)["responses"].([]any) {
		m := item.(map[string]any)
		statuses = append(statuses, int(m["status"].(float64)))
		if h, _ := m["headers"].(map[string]any); m["status"].(float64) == 429 {
			scope, _ = h["x-ms-throttle-scope"].(string)
			after, _ = h["Retry-After"].(string)
		}
	}
	n429 := 0
	for _, st := range statuses {
		if st == 429 {
			n429++
		}
	}
	if len(statuses) != 3 || n429 != 1 || !strings.HasPrefix(scope, "Application/") || after != "20" {
		t.Errorf("batch items %v, throttled scope %q Retry-After %q; want one 429 of the Application scope after 20 s", statuses, scope, after)
	}
}

func TestHTTP2(t *testing.T) {
	e := newEnv(t, graphtest.Options{HTTP2: true, Generated: map[string]int{tenantA: 1}})
	req, _ := http.NewRequestWithContext(context.Background(), "GET", e.srv.URL()+"/v1.0/devices", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(t, tenantA))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("%s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	// A client that offers only http/1.1 still gets it.
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	resp, err = (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 {
		t.Errorf("%s for an HTTP/1.1 client", resp.Proto)
	}
}

func TestDeltaTokenOfAnotherServerIsGone(t *testing.T) {
	e := newEnv(t, graphtest.Options{Generated: map[string]int{tenantA: 2}})
	r := e.do(t, "GET", "/v1.0/devices/delta", e.token(t, tenantA), nil, "")
	link, _ := r.json(t)["@odata.deltaLink"].(string)
	if r.status != 200 || link == "" {
		t.Fatalf("first round: %d, link %q", r.status, link)
	}
	other := newEnv(t, graphtest.Options{Generated: map[string]int{tenantA: 2}})
	_, query, _ := strings.Cut(link, "?")
	r = other.do(t, "GET", "/v1.0/devices/delta?"+query, other.token(t, tenantA), nil, "")
	if code, _ := r.errorCode(t); r.status != http.StatusGone || code != "resyncRequired" {
		t.Errorf("another server's link: %d %s, want 410 resyncRequired", r.status, code)
	}
	// Another tenant's link on the same server is refused too.
	r = e.do(t, "GET", "/v1.0/devices/delta?"+query, e.token(t, tenantB), nil, "")
	if r.status != http.StatusGone {
		t.Errorf("another tenant's link: %d, want 410", r.status)
	}
	if err := e.srv.AddDevice(tenantB, map[string]any{"id": "x"}); err == nil {
		t.Error("AddDevice to a tenant the server does not hold succeeded")
	}
	if err := e.srv.RemoveDevice(tenantA, "nope"); err == nil {
		t.Error("RemoveDevice of an unknown device succeeded")
	}
}

func TestDeltaSkipTokenPastTheEnd(t *testing.T) {
	e := newEnv(t, graphtest.Options{Generated: map[string]int{tenantA: 150}})
	r := e.do(t, "GET", "/v1.0/devices/delta", e.token(t, tenantA), nil, "")
	next, _ := r.json(t)["@odata.nextLink"].(string)
	if next == "" {
		t.Fatal("no nextLink for 150 devices")
	}
	// Rewrite the skip of the token to the largest uint64: the server must
	// answer, not index out of range.
	_, tok, _ := strings.Cut(next, "$skiptoken=")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 29 {
		t.Fatalf("token shape changed: %v", err)
	}
	for i := 21; i < 29; i++ {
		raw[i] = 0xff
	}
	r = e.do(t, "GET", "/v1.0/devices/delta?$skiptoken="+base64.RawURLEncoding.EncodeToString(raw), e.token(t, tenantA), nil, "")
	if r.status != 200 || len(r.json(t)["value"].([]any)) != 0 {
		t.Errorf("skip past the end: %d %.200s, want 200 with no devices", r.status, r.body)
	}
}
