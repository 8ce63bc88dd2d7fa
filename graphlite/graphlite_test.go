package graphlite_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/fanout"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

func ptr[T any](v T) *T { return &v }

func TestGet(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	cred := newCredential(tenantA, "Device.Read.All")
	c := newClient(t, srv, cred, nil, nil)
	ctx := context.Background()

	var d graphlite.Device
	if err := c.Get(ctx, "/devices/d-1", nil, &d); err != nil {
		t.Fatal(err)
	}
	want := graphlite.Device{
		ID: "d-1", DeviceID: "dev-1", DisplayName: "Alice's Laptop", OperatingSystem: "Windows",
		OperatingSystemVersion: "10.0.26100", AccountEnabled: ptr(true), TrustType: "AzureAd",
		IsCompliant: ptr(true), IsManaged: ptr(true),
		ApproximateLastSignInDateTime: ptr(time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)),
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("device (-want +got):\n%s", diff)
	}

	var n int
	if err := c.Get(graphlite.WithEventualConsistency(ctx), "devices/$count", nil, &n); err != nil || n != 4 {
		t.Errorf("$count = %d, %v; want 4", n, redact(err))
	}
	if got := cred.requests()[0].Scopes; !slices.Equal(got, []string{"https://graph.microsoft.com/.default"}) {
		t.Errorf("scopes %v", got)
	}
	if !cred.requests()[0].EnableCAE {
		t.Error("BearerTokenPolicy did not ask for a CAE token")
	}
}

func TestListFollowsNextLinkVerbatim(t *testing.T) {
	const n = 2345
	srv := startGraph(t, graphtest.Options{Generated: map[string]int{tenantA: n}})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	ctx := graphlite.WithEventualConsistency(context.Background())
	q := url.Values{"$top": {"100"}, "$select": {"id,displayName"}, "$filter": {"startswith(displayName,'DEVICE')"}}

	ids := map[string]bool{}
	for d, err := range graphlite.List[graphlite.Device](ctx, c, "/devices", q) {
		if err != nil {
			t.Fatal(err)
		}
		if d.DisplayName == "" || d.OperatingSystem != "" {
			t.Fatalf("device %+v does not honour $select", d)
		}
		ids[d.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("listed %d distinct devices, want %d", len(ids), n)
	}
	reqs := srv.Requests()
	if len(reqs) != 24 {
		t.Fatalf("%d requests, want 24 pages", len(reqs))
	}
	crids := map[string]bool{}
	for i, r := range reqs {
		if i > 0 && r.URL != reqs[i-1].NextLink {
			t.Errorf("page %d requested %q, but the nextLink was %q", i, r.URL, reqs[i-1].NextLink)
		}
		if got := r.Header.Get("ConsistencyLevel"); got != "eventual" {
			t.Errorf("page %d: ConsistencyLevel %q", i, got)
		}
		crids[r.Header.Get("client-request-id")] = true
	}
	if !strings.Contains(reqs[1].URL, "$skiptoken=") || !strings.Contains(reqs[1].URL, "$top=100") {
		t.Errorf("second page URL %q", reqs[1].URL)
	}
	if len(crids) != len(reqs) {
		t.Errorf("%d distinct client-request-ids for %d requests", len(crids), len(reqs))
	}
	if reqs[len(reqs)-1].NextLink != "" {
		t.Error("last page has a nextLink")
	}
}

func TestListStopsWhenTheLoopStops(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Generated: map[string]int{tenantA: 1000}})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	seen := 0
	for _, err := range c.Devices(context.Background(), &graphlite.DevicesOptions{Top: 100}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen++; seen == 150 {
			break
		}
	}
	if got := len(srv.Requests()); got != 2 {
		t.Errorf("%d requests after stopping at device 150, want 2", got)
	}
}

func TestDevices(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	tests := []struct {
		name      string
		opts      *graphlite.DevicesOptions
		want      []graphlite.Device
		wantQuery url.Values
		wantCL    string
	}{
		{
			name: "select and filter",
			opts: &graphlite.DevicesOptions{Select: []string{"id", "displayName", "isCompliant"}, Filter: "operatingSystem eq 'Windows'"},
			want: []graphlite.Device{
				{ID: "d-1", DisplayName: "Alice's Laptop", IsCompliant: ptr(true)},
				{ID: "d-3", DisplayName: "Bob's Laptop"},
			},
			wantQuery: url.Values{"$select": {"id,displayName,isCompliant"}, "$filter": {"operatingSystem eq 'Windows'"}},
		},
		{
			name:      "top pages",
			opts:      &graphlite.DevicesOptions{Select: []string{"id"}, Top: 3},
			want:      []graphlite.Device{{ID: "d-1"}, {ID: "d-2"}, {ID: "d-3"}, {ID: "d-4"}},
			wantQuery: url.Values{"$select": {"id"}, "$top": {"3"}},
		},
		{
			name:      "count makes ne an advanced query",
			opts:      &graphlite.DevicesOptions{Select: []string{"id", "accountEnabled"}, Filter: "operatingSystem ne 'Windows'", Count: true},
			want:      []graphlite.Device{{ID: "d-2", AccountEnabled: ptr(true)}, {ID: "d-4", AccountEnabled: ptr(true)}},
			wantQuery: url.Values{"$select": {"id,accountEnabled"}, "$filter": {"operatingSystem ne 'Windows'"}, "$count": {"true"}},
			wantCL:    "eventual",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Requests())
			var got []graphlite.Device
			for d, err := range c.Devices(context.Background(), tt.opts) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, d)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			first := srv.Requests()[before]
			q, _ := url.ParseQuery(first.RawQuery)
			if diff := cmp.Diff(tt.wantQuery, q); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if got := first.Header.Get("ConsistencyLevel"); got != tt.wantCL {
				t.Errorf("ConsistencyLevel %q, want %q", got, tt.wantCL)
			}
		})
	}

	n, err := c.CountDevices(context.Background(), "trustType eq 'AzureAd'")
	if err != nil || n != 2 {
		t.Errorf("CountDevices = %d, %v; want 2", n, redact(err))
	}
	// Without Count, ne is refused as Graph refuses it.
	for _, err := range c.Devices(context.Background(), &graphlite.DevicesOptions{Filter: "operatingSystem ne 'Windows'"}) {
		var ge *graphlite.Error
		if !errors.As(err, &ge) || ge.StatusCode != 400 || ge.Code != "Request_UnsupportedQuery" {
			t.Errorf("ne without Count: %v", redact(err))
		}
	}
}

func TestBatch(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, nil)
	ctx := context.Background()
	res, err := c.Batch(ctx, []graphlite.BatchRequest{
		{Path: "/devices/d-2", Query: url.Values{"$select": {"displayName"}}},
		{ID: "missing", Path: "/devices/nope"},
		{Path: "devices/$count", Header: map[string]string{"ConsistencyLevel": "eventual"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, fmt.Sprint(r.ID, " ", r.Status))
	}
	if diff := cmp.Diff([]string{"1 200", "missing 404", "3 200"}, got); diff != "" {
		t.Errorf("responses in request order (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(res[0].Body), `"displayName":"alice phone"`) || string(res[2].Body) != `"4"` {
		t.Errorf("bodies %s, %s", res[0].Body, res[2].Body)
	}
	var ge *graphlite.Error
	if res[0].Err() != nil || !errors.As(res[1].Err(), &ge) || ge.Code != "Request_ResourceNotFound" || ge.StatusCode != 404 || ge.RequestID == "" {
		t.Errorf("Err(): %v, %v", redact(res[0].Err()), redact(res[1].Err()))
	}

	for name, reqs := range map[string][]graphlite.BatchRequest{
		"empty":        nil,
		"21":           make([]graphlite.BatchRequest, 21),
		"duplicate id": {{ID: "a", Path: "/devices"}, {ID: "a", Path: "/devices"}},
		"absolute":     {{Path: "https://example.com/devices"}},
	} {
		if _, err := c.Batch(ctx, reqs); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestThrottling(t *testing.T) {
	tests := []struct {
		name      string
		faults    []graphtest.Fault
		wantWaits []time.Duration
		wantErr   int // status of the *Error, 0 for success
	}{
		{
			name:      "Retry-After is honoured",
			faults:    []graphtest.Fault{{Status: 429, RetryAfter: 3 * time.Second, Count: 1}},
			wantWaits: []time.Duration{3 * time.Second},
		},
		{
			name:      "Retry-After is capped",
			faults:    []graphtest.Fault{{Status: 429, RetryAfter: time.Hour, Count: 2}},
			wantWaits: []time.Duration{30 * time.Second, 30 * time.Second},
		},
		{
			name:      "503 without Retry-After backs off exponentially",
			faults:    []graphtest.Fault{{Status: 503, Count: 3}},
			wantWaits: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:      "Retry-After as an HTTP date",
			faults:    []graphtest.Fault{{Status: 503, Header: http.Header{"Retry-After": {"Fri, 27 Nov 2026 12:00:10 GMT"}}, Count: 1}},
			wantWaits: []time.Duration{10 * time.Second},
		},
		{
			name:      "retries run out",
			faults:    []graphtest.Fault{{Status: 429, RetryAfter: time.Second, Count: 10}},
			wantWaits: []time.Duration{time.Second, time.Second, time.Second, time.Second},
			wantErr:   429,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
			for _, f := range tt.faults {
				srv.AddFault(f)
			}
			w := &waits{}
			c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), w, func(o *graphlite.Options) {
				o.Throttle.MaxDelay = 30 * time.Second
				o.Throttle.Clock = func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }
			})
			var d graphlite.Device
			err := c.Get(context.Background(), "/devices/d-1", nil, &d)
			var ge *graphlite.Error
			switch {
			case tt.wantErr == 0 && (err != nil || d.ID != "d-1"):
				t.Errorf("Get: %v, %+v", redact(err), d)
			case tt.wantErr != 0 && (!errors.As(err, &ge) || ge.StatusCode != tt.wantErr || ge.Code != "TooManyRequests"):
				t.Errorf("Get: %v, want *Error %d", redact(err), tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantWaits, w.got()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			// The retries of one call share its client-request-id.
			ids := map[string]bool{}
			for _, r := range srv.Requests() {
				ids[r.Header.Get("client-request-id")] = true
			}
			if len(ids) != 1 {
				t.Errorf("%d client-request-ids across the retries of one call, want 1", len(ids))
			}
		})
	}
}

// Retry.MaxRetries -1 means no retries in every Azure SDK client; the
// throttle policy follows it unless Throttle.MaxRetries says otherwise.
func TestNoRetriesMeansNoThrottleRetries(t *testing.T) {
	tests := []struct {
		name          string
		retries       int32 // Retry.MaxRetries
		throttle      int   // Throttle.MaxRetries
		wantRequests  int
		wantThrottled bool
	}{
		{"Retry.MaxRetries -1", -1, 0, 1, true},
		{"Retry.MaxRetries -1, Throttle.MaxRetries 2", -1, 2, 3, true},
		{"Retry.MaxRetries -1, Throttle.MaxRetries 5", -1, 5, 4, false},
		{"defaults", 0, 0, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
			srv.AddFault(graphtest.Fault{Status: 429, RetryAfter: time.Second, Count: 3})
			c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), &waits{}, func(o *graphlite.Options) {
				o.Retry.MaxRetries = tt.retries
				o.Throttle.MaxRetries = tt.throttle
			})
			err := c.Get(context.Background(), "/devices/d-1", nil, nil)
			var ge *graphlite.Error
			if throttled := errors.As(err, &ge) && ge.StatusCode == 429; throttled != tt.wantThrottled || (!throttled && err != nil) {
				t.Errorf("Get = %v, want throttled %t", redact(err), tt.wantThrottled)
			}
			if n := len(srv.Requests()); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestThrottleWaitHonoursContext(t *testing.T) {
	srv := startGraph(t, graphtest.Options{})
	srv.AddFault(graphtest.Fault{Status: 429, RetryAfter: 5 * time.Second, Count: 5})
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(t, srv, newCredential(tenantA, "Device.Read.All"), nil, func(o *graphlite.Options) {
		o.Throttle.Wait = func(ctx context.Context, d time.Duration) error {
			cancel() // the caller gives up while we wait
			testwait.Hold(ctx.Done())
			return ctx.Err()
		}
	})
	err := c.Get(ctx, "/devices", nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v, want context.Canceled", redact(err))
	}
	if got := len(srv.Requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestClaimsChallenge(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	const claims = `{"access_token":{"nbf":{"essential":true,"value":"1764244800"}}}`
	srv.AddFault(graphtest.Fault{Status: http.StatusUnauthorized, Claims: claims, Count: 1})
	cred := newCredential(tenantA, "Device.Read.All")
	c := newClient(t, srv, cred, nil, nil)
	var d graphlite.Device
	if err := c.Get(context.Background(), "/devices/d-4", nil, &d); err != nil || d.DisplayName != "Build agent" {
		t.Fatalf("Get after a claims challenge: %v, %+v", redact(err), d)
	}
	var got []string
	for _, r := range cred.requests() {
		got = append(got, r.Claims)
	}
	if diff := cmp.Diff([]string{"", claims}, got); diff != "" {
		t.Errorf("claims the credential was asked for (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantB: scenarioDevices()}})
	ctx := context.Background()

	// Tenant B has not consented Device.Read.All: the token has no roles.
	credB := newCredential(tenantB)
	err := newClient(t, srv, credB, nil, nil).Get(ctx, "/devices", url.Values{"$top": {"1"}}, nil)
	var ge *graphlite.Error
	if !errors.As(err, &ge) {
		t.Fatalf("Get = %v, want *graphlite.Error", redact(err))
	}
	rec := srv.Requests()[0]
	want := &graphlite.Error{
		StatusCode: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation.",
		RequestID: rec.Header.Get("request-id"), ClientRequestID: rec.Header.Get("client-request-id"),
		Method: "GET", Path: "/v1.0/devices", TenantID: tenantB,
		Hint: "the app needs Device.Read.All (application) with admin consent in tenant " + tenantB + "; the token's roles: none",
		// graphtest, like Graph, says what every request cost.
		Throttle: graphlite.Throttle{Status: 403, ResourceUnits: 1},
	}
	if diff := cmp.Diff(want, ge, cmpIgnore("Date", "InnerError", "RequestID")); diff != "" {
		t.Errorf("*Error (-want +got):\n%s", diff)
	}
	if ge.Date == "" || ge.RequestID == "" || len(ge.InnerError) == 0 || ge.ClientRequestID == "" {
		t.Errorf("identifiers missing: %s", redact(fmt.Sprintf("%+v", ge)))
	}
	if !strings.HasPrefix(err.Error(), "graphlite: GET /v1.0/devices: 403 Authorization_RequestDenied") ||
		!strings.Contains(err.Error(), "Device.Read.All (application) with admin consent in tenant "+tenantB) {
		t.Errorf("message: %s", redact(err))
	}

	// A token for the wrong audience.
	wrong := newCredential(tenantA, "Device.Read.All")
	wrong.aud = "https://management.azure.com"
	err = newClient(t, srv, wrong, nil, nil).Get(ctx, "/devices", nil, nil)
	if !errors.As(err, &ge) || ge.StatusCode != 401 || ge.Code != "InvalidAuthenticationToken" || !strings.Contains(ge.Hint, tenantA) {
		t.Errorf("wrong audience: %v", redact(err))
	}
	tokens := append(credB.tokens(), wrong.tokens()...)
	if len(tokens) == 0 || containsAny(err.Error(), tokens) || containsAny(fmt.Sprintf("%+v %#v", ge, ge), tokens) {
		t.Error("an error contains an access token")
	}
}

func cmpIgnore(fields ...string) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		return slices.Contains(fields, strings.TrimPrefix(p.Last().String(), "."))
	}, cmp.Ignore())
}

// fakeGraph is a hand-written HTTPS server for responses graphtest does not make.
func fakeGraph(t *testing.T, h http.HandlerFunc) *graphlite.Client {
	t.Helper()
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	opts := &graphlite.Options{BaseURL: s.URL + "/v1.0", MaxPageBytes: 4096}
	opts.Transport = s.Client()
	opts.Retry.MaxRetries = -1
	c, err := graphlite.New(newCredential(tenantA, "Device.Read.All"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorBodies(t *testing.T) {
	tests := []struct {
		name string
		body string
		want graphlite.Error
	}{
		{
			name: "unknown fields",
			body: `{"error":{"code":"Request_BadRequest","message":"m","details":[{"x":1}],"innerError":{"date":"2026-11-27T12:00:00","request-id":"r-1","client-request-id":"c-1","extra":true}},"more":1}`,
			want: graphlite.Error{StatusCode: 400, Code: "Request_BadRequest", Message: "m", Date: "2026-11-27T12:00:00", RequestID: "r-1", ClientRequestID: "c-1"},
		},
		{
			name: "no innerError falls back to headers",
			body: `{"error":{"code":"BadRequest","message":"m"}}`,
			want: graphlite.Error{StatusCode: 400, Code: "BadRequest", Message: "m", Date: "hdr-date", RequestID: "hdr-req", ClientRequestID: "hdr-client"},
		},
		{
			name: "not JSON",
			body: `<html>gateway</html>`,
			want: graphlite.Error{StatusCode: 400, Date: "hdr-date", RequestID: "hdr-req", ClientRequestID: "hdr-client"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("request-id", "hdr-req")
				w.Header().Set("client-request-id", "hdr-client")
				w.Header().Set("Date", "hdr-date")
				w.WriteHeader(400)
				fmt.Fprint(w, tt.body)
			})
			var ge *graphlite.Error
			if err := c.Get(context.Background(), "/x", nil, nil); !errors.As(err, &ge) {
				t.Fatalf("Get = %v", redact(err))
			}
			if diff := cmp.Diff(&tt.want, ge, cmpIgnore("InnerError", "Method", "Path", "TenantID", "Roles")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponseBounds(t *testing.T) {
	c := fakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/big":
			fmt.Fprintf(w, `{"value":[%q]}`, strings.Repeat("x", 8000))
		case "/v1.0/elsewhere":
			fmt.Fprint(w, `{"value":[1],"@odata.nextLink":"https://graph.example.net/v1.0/steal"}`)
		case "/v1.0/loop":
			fmt.Fprintf(w, `{"value":[1],"@odata.nextLink":"https://%s/v1.0/loop"}`, r.Host)
		}
	})
	ctx := context.Background()
	var err error
	for _, err = range graphlite.List[string](ctx, c, "/big", nil) {
	}
	if !errors.Is(err, graphlite.ErrResponseTooLarge) {
		t.Errorf("big page: %v, want ErrResponseTooLarge", redact(err))
	}
	var got []int
	for v, e := range graphlite.List[int](ctx, c, "/elsewhere", nil) {
		got, err = append(got, v), e
	}
	if err == nil || !strings.Contains(err.Error(), "refusing to send a Graph token to https://graph.example.net") || !slices.Equal(got, []int{1, 0}) {
		t.Errorf("nextLink to another host: %v, %v", got, redact(err))
	}
	for _, err = range graphlite.List[int](ctx, c, "/loop", nil) {
	}
	if err == nil || !strings.Contains(err.Error(), "same page") {
		t.Errorf("nextLink loop: %v", redact(err))
	}
	if err := c.Get(ctx, "https://graph.example.net/v1.0/devices", nil, nil); err == nil {
		t.Error("Get sent a token to another host")
	}
}

// ErrResponseTooLarge is graphlite's bound on Graph's answers. A body limit
// that failed elsewhere, such as federated's bound on the token response met
// inside BearerTokenPolicy, keeps its own identity: the caller must not be
// told to raise MaxPageBytes.
func TestErrResponseTooLargeIsOnlyGraphs(t *testing.T) {
	srv := startGraph(t, graphtest.Options{})
	tokenTooLarge := fmt.Errorf("federated: token request to https://login.example/t/oauth2/v2.0/token: %w", &bodylimit.TooLargeError{Limit: 1 << 20})
	c := newClient(t, srv, errCredential{tokenTooLarge}, nil, nil)
	err := c.Get(context.Background(), "/devices", nil, nil)
	if !errors.Is(err, bodylimit.ErrTooLarge) {
		t.Fatalf("Get = %v, want the credential's error wrapped", redact(err))
	}
	if errors.Is(err, graphlite.ErrResponseTooLarge) {
		t.Errorf("Get = %v matches ErrResponseTooLarge, but Graph's answer was never read", redact(err))
	}

	big := fakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q}`, strings.Repeat("x", 8000))
	})
	err = big.Get(context.Background(), "/big", nil, &map[string]any{})
	if !errors.Is(err, graphlite.ErrResponseTooLarge) || !strings.Contains(err.Error(), "graphlite: response larger than MaxPageBytes: body larger than the limit of 4 KiB") {
		t.Errorf("Get of a page over MaxPageBytes = %v, want ErrResponseTooLarge naming the limit", redact(err))
	}
}

// errCredential fails with err.
type errCredential struct{ err error }

func (c errCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, c.err
}

// Graph's fields come from the network: a proxy in between can put anything
// in them. Each is clipped, on one line, with JWT-shaped text redacted.
func TestErrorFieldsAreClipped(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbg"
	long := strings.Repeat("y", 5000)
	c := fakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", "hdr-req")
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"code":"Bad\nRequest%[1]s","message":"echo %[2]s\r\nforged%[1]s","innerError":{"request-id":"r\u2028%[2]s%[1]s","client-request-id":"c%[1]s","date":"d%[1]s"}}}`, long, jwt)
	})
	var ge *graphlite.Error
	if err := c.Get(context.Background(), "/x", nil, nil); !errors.As(err, &ge) {
		t.Fatalf("Get = %v", redact(err))
	}
	fields := map[string]string{"Code": ge.Code, "Message": ge.Message, "RequestID": ge.RequestID, "ClientRequestID": ge.ClientRequestID, "Date": ge.Date}
	for name, v := range fields {
		limit := 128
		if name == "Message" {
			limit = 512
		}
		if len(v) > limit+len("…") || strings.ContainsAny(v, "\r\n\u2028") || strings.Contains(v, "eyJ") {
			t.Errorf("%s = %.60q (%d bytes), want at most %d bytes on one line without the JWT", name, v, len(v), limit)
		}
	}
	if !strings.HasPrefix(ge.Message, "echo [jwt redacted]  forged") || !strings.HasPrefix(ge.Code, "Bad Request") {
		t.Errorf("Code %.40q, Message %.40q: want the text kept, redacted", ge.Code, ge.Message)
	}
}

func TestNew(t *testing.T) {
	cred := newCredential(tenantA)
	for _, base := range []string{"http://graph.microsoft.com/v1.0", "graph.microsoft.com", "https://graph.microsoft.com/v1.0?x=1"} {
		if _, err := graphlite.New(cred, &graphlite.Options{BaseURL: base}); err == nil {
			t.Errorf("New accepted BaseURL %q", base)
		}
	}
	if _, err := graphlite.New(nil, nil); err == nil {
		t.Error("New accepted a nil credential")
	}
	tests := []struct{ base, scope string }{
		{"", "https://graph.microsoft.com/.default"},
		{graphlite.PublicCloud + "/beta", "https://graph.microsoft.com/.default"},
		{graphlite.USGovernmentCloud + "/v1.0", "https://graph.microsoft.us/.default"},
		{graphlite.USGovernmentDoDCloud + "/v1.0", "https://dod-graph.microsoft.us/.default"},
		{graphlite.ChinaCloud + "/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"},
	}
	for _, tt := range tests {
		cred := newCredential(tenantA)
		var gotURL string
		c, err := graphlite.New(cred, &graphlite.Options{BaseURL: tt.base, ClientOptions: azcore.ClientOptions{
			Transport: transportFunc(func(r *http.Request) (*http.Response, error) {
				gotURL = r.URL.String()
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
			}),
		}})
		if err != nil {
			t.Fatal(err)
		}
		c.Get(context.Background(), "/organization", nil, nil)
		base := tt.base
		if base == "" {
			base = graphlite.DefaultBaseURL
		}
		if got := cred.requests()[0].Scopes; gotURL != base+"/organization" || !slices.Equal(got, []string{tt.scope}) {
			t.Errorf("BaseURL %q: requested %q with scopes %v, want scope %s", tt.base, gotURL, got, tt.scope)
		}
	}
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestFanOut runs graphlite clients across tenants with fanout.Run, as a
// multi-tenant inventory does: one tenant's 403 does not stop the others.
func TestFanOut(t *testing.T) {
	srv := startGraph(t, graphtest.Options{
		Devices:   map[string][]map[string]any{tenantA: scenarioDevices(), tenantB: scenarioDevices()},
		Generated: map[string]int{tenantC: 250},
	})
	creds := &multiTenant{roles: map[string][]string{tenantA: {"Device.Read.All"}, tenantC: {"Directory.Read.All"}}}
	var running, peak atomic.Int32
	results := fanout.Run(context.Background(), []string{tenantA, tenantB, tenantC, tenantA}, &fanout.Options{Parallelism: 2},
		func(ctx context.Context, tenant string) (int, error) {
			now := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			c := newClient(t, srv, creds.ForTenant(tenant), nil, nil)
			n := 0
			for _, err := range c.Devices(ctx, &graphlite.DevicesOptions{Select: []string{"id"}}) {
				if err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		})
	var got []string
	for _, r := range results {
		code := ""
		var ge *graphlite.Error
		if errors.As(r.Err, &ge) {
			code = ge.Code
		}
		got = append(got, fmt.Sprint(r.Tenant[:1], " ", r.Value, " ", code))
	}
	if diff := cmp.Diff([]string{"a 4 ", "b 0 Authorization_RequestDenied", "c 250 ", "a 4 "}, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d tenants ran at once, want at most 2", p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	for _, r := range fanout.Run(ctx, []string{tenantA}, nil, func(context.Context, string) (int, error) { ran = true; return 0, nil }) {
		if !errors.Is(r.Err, context.Canceled) || ran {
			t.Errorf("cancelled fanout.Run: %+v, ran %v", r, ran)
		}
	}
}

// failingCredential cannot get a token.
type failingCredential struct{ calls atomic.Int32 }

func (f *failingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls.Add(1)
	return azcore.AccessToken{}, errNoToken
}

var errNoToken = errors.New("federated: AADSTS700016: application not found in the directory")

func TestCredentialFailure(t *testing.T) {
	srv := startGraph(t, graphtest.Options{})
	cred := &failingCredential{}
	c := newClient(t, srv, cred, nil, nil)
	err := c.Get(context.Background(), "/devices", nil, nil)
	if !errors.Is(err, errNoToken) || !strings.HasPrefix(err.Error(), "graphlite: GET /v1.0/devices: ") {
		t.Errorf("Get = %v, want the credential's error wrapped", redact(err))
	}
	if n := cred.calls.Load(); n != 1 {
		t.Errorf("credential called %d times, want 1 (its failure is not retried)", n)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached Graph without a token", n)
	}
}

func TestLogsCarryNoToken(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	azlog.SetListener(func(ev azlog.Event, msg string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, msg)
	})
	defer azlog.SetListener(nil)

	srv := startGraph(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	srv.AddFault(graphtest.Fault{Status: 429, RetryAfter: time.Second, Count: 1})
	credA, credB := newCredential(tenantA, "Device.Read.All"), newCredential(tenantB)
	newClient(t, srv, credA, &waits{}, nil).Get(context.Background(), "/devices", nil, nil)
	newClient(t, srv, credB, nil, nil).Get(context.Background(), "/devices", nil, nil)

	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "Client-Request-Id") {
		t.Errorf("the logs do not show client-request-id; got %d lines", len(lines))
	}
	if containsAny(all, append(credA.tokens(), credB.tokens()...)) {
		t.Error("a log line contains an access token")
	}
}
