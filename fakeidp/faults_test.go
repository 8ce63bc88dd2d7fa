package fakeidp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// TestParseFault checks fakeidp's view of the one spec syntax (the syntax
// itself is tested in internal/fault): the examples of docs/fakemsi.md
// parse, errors carry the package name, and Graph's specs are sent to
// graphtest.
func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want Fault
		err  string
	}{
		{spec: "token:429:retry-after=2:count=3", want: Fault{Endpoint: "token", Status: 429, RetryAfter: 2 * time.Second, Count: 3}},
		{spec: "imds:410:count=2", want: Fault{Endpoint: "imds", Status: 410, Count: 2}},
		{spec: "token:latency=200ms", want: Fault{Endpoint: "token", Latency: 200 * time.Millisecond}},
		{spec: "msi:reset:count=1", want: Fault{Endpoint: "msi", Body: fault.BodyReset, Count: 1}},
		{spec: "token:body=malformed", want: Fault{Endpoint: "token", Body: fault.BodyMalformed}},
		{spec: "keys:body=oversize:count=1", want: Fault{Endpoint: "keys", Body: fault.BodyOversize, Count: 1}},
		{spec: "*:503:retry-after=1m", want: Fault{Status: 503, RetryAfter: time.Minute}},
		{spec: "token:503:path=/" + DefaultConsentedTenantID + "/", want: Fault{Endpoint: "token", Status: 503, Path: "/" + DefaultConsentedTenantID + "/"}},
		{spec: "bogus:429", err: `fakeidp: fault "bogus:429": unknown endpoint "bogus"`},
		{spec: "token", err: "nothing to do"},
		{spec: "token:abc", err: `"abc"`},
		{spec: "token:700", err: "out of range"},
		{spec: "token:count=-1", err: "whole number"},
		{spec: "token:body=weird", err: "wants truncated, malformed or oversize"},
		{spec: "token:latency=soon", err: `"latency=soon"`},
		{spec: "token:colour=red", err: `unknown item "colour"`},
		{spec: "graph:503", err: `fakeidp: fault "graph:503": graph faults are for the fake Graph (graphtest.ParseFault)`},
		{spec: "arm:503", err: `fakeidp: fault "arm:503": arm faults are for the fake Resource Manager (armtest.ParseFault)`},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseFault(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "fakeidp: ") {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("fault (-want +got):\n%s", diff)
			}
		})
	}
}

// faultModes runs a test against a listening and an in-process server.
func faultModes(t *testing.T, f func(t *testing.T, s *Server)) {
	for _, mode := range []struct {
		name string
		opts *Options
	}{{"loopback", nil}, {"in-process", &Options{NoListener: true}}} {
		t.Run(mode.name, func(t *testing.T) { f(t, newServer(t, nil, mode.opts)) })
	}
}

func keysStatus(t *testing.T, s *Server) int {
	t.Helper()
	resp, err := s.Client().Get(s.KeysURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestFaultStatusCountExhausts(t *testing.T) {
	faultModes(t, func(t *testing.T, s *Server) {
		s.AddFault(Fault{Endpoint: "token", Status: 429, RetryAfter: 1500 * time.Millisecond, Count: 2})
		a := miAssertion(t, s, systemIdentity(s))
		var statuses []int
		for i := 0; i < 3; i++ {
			resp, err := s.Client().PostForm(s.URL()+"/"+DefaultConsentedTenantID+"/oauth2/v2.0/token", assertionForm(DefaultAppClientID, a))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode == 429 {
				if ra := resp.Header.Get("Retry-After"); ra != "2" {
					t.Errorf("Retry-After %q, want 2 (rounded up)", ra)
				}
				var e map[string]any
				if err := json.Unmarshal(b, &e); err != nil || e["error"] != "temporarily_unavailable" || !strings.HasPrefix(e["error_description"].(string), "AADSTS90033: ") {
					t.Errorf("429 body %s", redact(string(b)))
				}
			}
		}
		if diff := cmp.Diff([]int{429, 429, 200}, statuses); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		reqs := s.Requests()
		if r := reqs[0]; r.Code != "temporarily_unavailable" || !slices.Equal(r.ErrorCodes, []int{codeTransient}) || r.Status != 429 || r.Tenant != DefaultConsentedTenantID {
			t.Errorf("recorded %s", redact(r))
		}
	})
}

func TestFaultEndpointMatching(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	imds := s.IMDSEndpoint() + imdsPath + "?api-version=2018-02-01&resource=https://vault.azure.net"
	app := s.AppServiceEndpoint() + "?api-version=2019-08-01&resource=https://vault.azure.net"
	check := func(name string, wantKeys, wantIMDS, wantApp int) {
		t.Helper()
		st1 := keysStatus(t, s)
		st2, _, _ := get(t, s.Client(), imds, map[string]string{"Metadata": "true"})
		st3, _, _ := get(t, s.Client(), app, map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
		if diff := cmp.Diff([]int{wantKeys, wantIMDS, wantApp}, []int{st1, st2, st3}); diff != "" {
			t.Errorf("%s: statuses keys, imds, appservice (-want +got):\n%s", name, diff)
		}
	}
	s.AddFault(Fault{Endpoint: "msi", Status: 503})
	check("msi", 200, 503, 503)
	s.ClearFaults()
	s.AddFault(Fault{Endpoint: "imds", Status: 410})
	check("imds", 200, 410, 200)
	s.ClearFaults()
	s.AddFault(Fault{Status: 500})
	check("all", 500, 500, 500)
	s.ClearFaults()
	check("cleared", 200, 200, 200)
	s.AddFault(Fault{Endpoint: "keys", Status: 502, Count: 1})
	s.AddFault(Fault{Endpoint: "keys", Status: 504, Count: 1})
	check("in order", 502, 200, 200)
	check("second", 504, 200, 200)
	check("exhausted", 200, 200, 200)
	s.AddFault(Fault{Endpoint: "msi", Status: 500, Path: "/metadata/"})
	check("path", 200, 500, 200)
}

// TestFaultCountZeroLastsUntilCleared checks the meaning of Count that every
// fake shares: 0 is every matching request until ClearFaults, n the next n.
func TestFaultCountZeroLastsUntilCleared(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	s.AddFault(Fault{Endpoint: "keys", Status: 503})
	var got []int
	for range 5 {
		got = append(got, keysStatus(t, s))
	}
	s.ClearFaults()
	got = append(got, keysStatus(t, s))
	s.AddFault(Fault{Endpoint: "keys", Status: 429, Count: 2})
	for range 3 {
		got = append(got, keysStatus(t, s))
	}
	if diff := cmp.Diff([]int{503, 503, 503, 503, 503, 200, 429, 429, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestFaultRecordsCodes checks Request.Code and ErrorCodes for the fault
// answers of each listener, and the Retry-After forms: whole seconds from
// RetryAfter, anything else through Header.
func TestFaultRecordsCodes(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	s.AddFault(Fault{Endpoint: "imds", Status: 503, RetryAfter: 300 * time.Millisecond, Count: 1})
	s.AddFault(Fault{Endpoint: "appservice", Status: 500, Header: http.Header{"Retry-After": {"0"}}, Count: 1})
	st1, _, h1 := get(t, s.Client(), s.IMDSEndpoint()+imdsPath+"?api-version=2018-02-01&resource=x", map[string]string{"Metadata": "true"})
	st2, _, h2 := get(t, s.Client(), s.AppServiceEndpoint()+"?api-version=2019-08-01&resource=x", map[string]string{"X-IDENTITY-HEADER": s.IdentityHeader()})
	if st1 != 503 || h1.Get("Retry-After") != "1" || st2 != 500 || h2.Get("Retry-After") != "0" {
		t.Errorf("imds %d Retry-After %q, appservice %d Retry-After %q; want 503 \"1\", 500 \"0\"", st1, h1.Get("Retry-After"), st2, h2.Get("Retry-After"))
	}
	type rec struct {
		Listener, Code string
		ErrorCodes     []int
		Status         int
	}
	var got []rec
	for _, r := range s.Requests() {
		got = append(got, rec{r.Listener, r.Code, r.ErrorCodes, r.Status})
	}
	want := []rec{{ListenerMSI, "temporarily_unavailable", nil, 503}, {ListenerMSI, "", nil, 500}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestFaultReset(t *testing.T) {
	faultModes(t, func(t *testing.T, s *Server) {
		s.AddFault(Fault{Endpoint: "keys", Body: fault.BodyReset, Count: 1})
		resp, err := s.Client().Get(s.KeysURL())
		if err == nil {
			resp.Body.Close()
			t.Fatalf("reset fault answered %d", resp.StatusCode)
		}
		if got := keysStatus(t, s); got != 200 {
			t.Errorf("after the reset: status %d", got)
		}
		if r := s.Requests()[0]; r.Status != 0 {
			t.Errorf("reset recorded with status %d, want 0", r.Status)
		}
	})
}

func TestFaultBodies(t *testing.T) {
	faultModes(t, func(t *testing.T, s *Server) {
		read := func() ([]byte, error) {
			resp, err := s.Client().Get(s.KeysURL())
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			return io.ReadAll(resp.Body)
		}
		s.AddFault(Fault{Endpoint: "keys", Body: fault.BodyTruncated, Count: 1})
		// HTTP/1.1 clients see an unexpected EOF, HTTP/2 ones a stream reset.
		if b, err := read(); err == nil || (s.URL() == "https://"+inProcessEntraHost && !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Errorf("truncated: %d bytes, error %v; want a read error", len(b), err)
		}
		s.AddFault(Fault{Endpoint: "keys", Body: fault.BodyMalformed, Count: 1})
		b, err := read()
		var v any
		if err != nil || json.Unmarshal(b, &v) == nil {
			t.Errorf("malformed: error %v, body parses: %v", err, json.Unmarshal(b, &v) == nil)
		}
		s.AddFault(Fault{Endpoint: "keys", Body: fault.BodyOversize, Count: 1})
		if b, err := read(); err != nil || len(b) != fault.OversizeBytes || json.Unmarshal(b, &v) != nil {
			t.Errorf("oversize: %d bytes, error %v", len(b), err)
		}
		if b, err := read(); err != nil || json.Unmarshal(b, &v) != nil {
			t.Errorf("after the faults: error %v", err)
		}
	})
}

func TestFaultLatencyEndsWithClient(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	s.AddFault(Fault{Endpoint: "keys", Latency: time.Hour, Count: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a client that gave up: the hour of latency must not hold the handler
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.KeysURL(), nil)
	resp, err := s.Client().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if len(s.Requests()) != 1 {
		t.Fatalf("%d requests recorded", len(s.Requests()))
	}
	if got := keysStatus(t, s); got != 200 {
		t.Errorf("latency fault not exhausted: status %d", got)
	}
}
