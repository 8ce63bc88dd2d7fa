package fakeidp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want Fault
		err  string
	}{
		{spec: "token:429:retry-after=2:count=3", want: Fault{Endpoint: "token", Status: 429, RetryAfter: 2 * time.Second, Count: 3}},
		{spec: "imds:410:count=2", want: Fault{Endpoint: "imds", Status: 410, Count: 2}},
		{spec: "token:latency=200ms", want: Fault{Endpoint: "token", Latency: 200 * time.Millisecond}},
		{spec: "msi:reset", want: Fault{Endpoint: "msi", Reset: true}},
		{spec: "token:body=malformed", want: Fault{Endpoint: "token", Body: BodyMalformed}},
		{spec: "keys:body=oversize:count=1", want: Fault{Endpoint: "keys", Body: BodyOversize, Count: 1}},
		{spec: "*:503:retry-after=1m", want: Fault{Status: 503, RetryAfter: time.Minute}},
		{spec: "bogus:429", err: `unknown endpoint "bogus"`},
		{spec: "token", err: "nothing to do"},
		{spec: "token:abc", err: `"abc"`},
		{spec: "token:700", err: "out of range"},
		{spec: "token:count=-1", err: "negative"},
		{spec: "token:body=weird", err: "want truncated"},
		{spec: "token:latency=soon", err: `"latency=soon"`},
		{spec: "token:colour=red", err: "unknown item"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseFault(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
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
		if reqs[0].ErrorCode != CodeTransient || reqs[0].Status != 429 || reqs[0].Tenant != DefaultConsentedTenantID {
			t.Errorf("recorded %s", redact(reqs[0]))
		}
	})
}

func TestFaultEndpointMatching(t *testing.T) {
	s := newServer(t, nil, &Options{NoListener: true})
	imds := s.IMDSEndpoint() + IMDSPath + "?api-version=2018-02-01&resource=x"
	app := s.AppServiceEndpoint() + "?api-version=2019-08-01&resource=x"
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
}

func TestFaultReset(t *testing.T) {
	faultModes(t, func(t *testing.T, s *Server) {
		s.AddFault(Fault{Endpoint: "keys", Reset: true, Count: 1})
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
		s.AddFault(Fault{Endpoint: "keys", Body: BodyTruncated, Count: 1})
		// HTTP/1.1 clients see an unexpected EOF, HTTP/2 ones a stream reset.
		if b, err := read(); err == nil || (s.URL() == "https://"+inProcessEntraHost && !errors.Is(err, io.ErrUnexpectedEOF)) {
			t.Errorf("truncated: %d bytes, error %v; want a read error", len(b), err)
		}
		s.AddFault(Fault{Endpoint: "keys", Body: BodyMalformed, Count: 1})
		b, err := read()
		var v any
		if err != nil || json.Unmarshal(b, &v) == nil {
			t.Errorf("malformed: error %v, body parses: %v", err, json.Unmarshal(b, &v) == nil)
		}
		s.AddFault(Fault{Endpoint: "keys", Body: BodyOversize, Count: 1})
		if b, err := read(); err != nil || len(b) != oversizeBytes || json.Unmarshal(b, &v) != nil {
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
