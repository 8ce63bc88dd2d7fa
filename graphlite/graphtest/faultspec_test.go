package graphtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want graphtest.Fault
		// wantErr are pieces the error must contain: the spec and the bad part.
		wantErr []string
	}{
		{spec: "graph:429:retry-after=2:count=3", want: graphtest.Fault{Status: 429, RetryAfter: "2", Count: 3}},
		{spec: "graph:503", want: graphtest.Fault{Status: 503, Count: -1}},
		{spec: "graph:503:count=0", want: graphtest.Fault{Status: 503, Count: -1}},
		{spec: "graph:claims", want: graphtest.Fault{Status: 401, Count: -1}},
		{spec: "graph:claims:count=1", want: graphtest.Fault{Status: 401, Count: 1}},
		{spec: "graph:401:claims", want: graphtest.Fault{Status: 401, Count: -1}},
		{spec: "graph:429:retry-after=1500ms", want: graphtest.Fault{Status: 429, RetryAfter: "2", Count: -1}},
		{spec: "graph:429:retry-after=0", want: graphtest.Fault{Status: 429, RetryAfter: "0", Count: -1}},
		{spec: "graph:500:path=/devices/$count:count=2", want: graphtest.Fault{Status: 500, Path: "/devices/$count", Count: 2}},

		{spec: "token:429", wantErr: []string{`"token:429"`, `unknown endpoint "token"`}},
		{spec: "Graph:429", wantErr: []string{`unknown endpoint "Graph"`}},
		{spec: "graph", wantErr: []string{`"graph"`, "nothing to do"}},
		{spec: "graph:count=3", wantErr: []string{`"graph:count=3"`, "no status"}},
		{spec: "graph:teapot", wantErr: []string{`"teapot"`, "not a status code"}},
		{spec: "graph:200", wantErr: []string{`"200"`, "out of range"}},
		{spec: "graph:600", wantErr: []string{`"600"`, "out of range"}},
		{spec: "graph:429:503", wantErr: []string{`"503"`, "second status"}},
		{spec: "graph:429:claims", wantErr: []string{`"claims"`, "already has 429"}},
		{spec: "graph:429:count=-1", wantErr: []string{`"count=-1"`, "count"}},
		{spec: "graph:429:count=many", wantErr: []string{`"count=many"`}},
		{spec: "graph:429:retry-after=soon", wantErr: []string{`"retry-after=soon"`, "seconds"}},
		{spec: "graph:429:retry-after=-3", wantErr: []string{`"retry-after=-3"`, "negative"}},
		{spec: "graph:503:path=", wantErr: []string{`"path="`, "empty path"}},
		{spec: "graph:503:latency=1s", wantErr: []string{`"latency=1s"`, "no latency"}},
		{spec: "graph:reset", wantErr: []string{`"reset"`, "no reset"}},
		{spec: "graph:503:colour=red", wantErr: []string{`"colour=red"`, "unknown item"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := graphtest.ParseFault(tt.spec)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseFault(%q) = %+v, want an error", tt.spec, got)
				}
				for _, piece := range append([]string{"graphtest: fault "}, tt.wantErr...) {
					if !strings.Contains(err.Error(), piece) {
						t.Errorf("error %q does not contain %q", err, piece)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFault(%q): %v", tt.spec, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFault(%q) (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}

// TestParsedFaultsServe queues parsed faults and checks what a client sees:
// a counted fault ends, one without a count does not, a path limits.
func TestParsedFaultsServe(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tok := e.token(t, tenantA)
	for _, spec := range []string{"graph:429:retry-after=2:count=2", "graph:claims:count=1", "graph:503:path=/$count"} {
		f, err := graphtest.ParseFault(spec)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.AddFault(f)
	}
	hdr := map[string]string{"ConsistencyLevel": "eventual"}
	var got []string
	for _, path := range []string{"/v1.0/devices", "/v1.0/devices", "/v1.0/devices", "/v1.0/devices", "/v1.0/devices/$count", "/v1.0/devices/$count", "/v1.0/devices"} {
		r := e.do(t, "GET", path, tok, hdr, "")
		got = append(got, fmt.Sprint(path, " ", r.status, " ", r.header.Get("Retry-After"), " ", strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_claims"`)))
	}
	want := []string{
		"/v1.0/devices 429 2 false",
		"/v1.0/devices 429 2 false",
		"/v1.0/devices 401  true",
		"/v1.0/devices 200  false",
		"/v1.0/devices/$count 503  false",
		"/v1.0/devices/$count 503  false",
		"/v1.0/devices 200  false",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	if n := len(e.srv.Requests()); n != len(want) {
		t.Errorf("recorded %d requests, want %d", n, len(want))
	}
	var codes []string
	for _, r := range e.srv.Requests() {
		codes = append(codes, r.ErrorCode)
	}
	wantCodes := []string{"TooManyRequests", "TooManyRequests", "InvalidAuthenticationToken", "", "ServiceUnavailable", "ServiceUnavailable", ""}
	if diff := cmp.Diff(wantCodes, codes); diff != "" {
		t.Errorf("Request.ErrorCode (-want +got):\n%s", diff)
	}
}
