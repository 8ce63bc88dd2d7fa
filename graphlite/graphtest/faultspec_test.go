package graphtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// TestParseFault checks graphtest's view of the one spec syntax (the syntax
// itself is tested in internal/fault): Graph's specs of docs/fakemsi.md
// parse to the shared Fault, count=0 and no count both mean until cleared,
// errors carry the package name, and other endpoints go to fakeidp.
func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want graphtest.Fault
		// wantErr are pieces the error must contain: the spec and the bad part.
		wantErr []string
	}{
		{spec: "graph:429:retry-after=2:count=3", want: graphtest.Fault{Endpoint: "graph", Status: 429, RetryAfter: 2 * time.Second, Count: 3}},
		{spec: "graph:503", want: graphtest.Fault{Endpoint: "graph", Status: 503}},
		{spec: "graph:503:count=0", want: graphtest.Fault{Endpoint: "graph", Status: 503}},
		{spec: "graph:claims", want: graphtest.Fault{Endpoint: "graph", Status: 401}},
		{spec: "graph:claims:count=1", want: graphtest.Fault{Endpoint: "graph", Status: 401, Count: 1}},
		{spec: "graph:429:retry-after=1500ms", want: graphtest.Fault{Endpoint: "graph", Status: 429, RetryAfter: 1500 * time.Millisecond}},
		{spec: "graph:429:retry-after=0", want: graphtest.Fault{Endpoint: "graph", Status: 429, Header: http.Header{"Retry-After": {"0"}}}},
		{spec: "graph:500:path=/devices/$count:count=2", want: graphtest.Fault{Endpoint: "graph", Status: 500, Path: "/devices/$count", Count: 2}},
		{spec: "graph:503:latency=1s", want: graphtest.Fault{Endpoint: "graph", Status: 503, Latency: time.Second}},

		{spec: "token:429", wantErr: []string{`"token:429"`, "start with graph", "fakeidp.ParseFault"}},
		{spec: "*:503", wantErr: []string{`"*:503"`, "start with graph"}},
		{spec: "Graph:429", wantErr: []string{`unknown endpoint "Graph"`}},
		{spec: "graph", wantErr: []string{`"graph"`, "nothing to do"}},
		{spec: "graph:teapot", wantErr: []string{`"teapot"`, "not a status"}},
		{spec: "graph:200", wantErr: []string{`"200"`, "out of range"}},
		{spec: "graph:429:claims", wantErr: []string{`"claims"`, "already has 429"}},
		{spec: "graph:429:count=-1", wantErr: []string{`"count=-1"`, "count"}},
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
		codes = append(codes, r.Code)
	}
	wantCodes := []string{"TooManyRequests", "TooManyRequests", "InvalidAuthenticationToken", "", "ServiceUnavailable", "ServiceUnavailable", ""}
	if diff := cmp.Diff(wantCodes, codes); diff != "" {
		t.Errorf("Request.Code (-want +got):\n%s", diff)
	}
}

// TestFaultCountAndClear checks the Count semantics every fake shares: a
// fault with Count 0 lasts until ClearFaults, Count n serves the next n.
func TestFaultCountAndClear(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	tok := e.token(t, tenantA)
	status := func() int { return e.do(t, "GET", "/v1.0/devices", tok, nil, "").status }
	e.srv.AddFault(graphtest.Fault{Endpoint: "graph", Status: http.StatusServiceUnavailable})
	var got []int
	for range 4 {
		got = append(got, status())
	}
	e.srv.ClearFaults()
	got = append(got, status())
	e.srv.AddFault(graphtest.Fault{Status: http.StatusTooManyRequests, Count: 2})
	e.srv.AddFault(graphtest.Fault{Endpoint: "token", Status: http.StatusInternalServerError}) // fakeidp's: never here
	for range 3 {
		got = append(got, status())
	}
	if diff := cmp.Diff([]int{503, 503, 503, 503, 200, 429, 429, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestFaultLatencyResetBody plays the faults Graph shares with fakeidp: a
// reset is recorded with status 0, a malformed body keeps its status, a
// latency-only fault lets the real answer through.
func TestFaultLatencyResetBody(t *testing.T) {
	e := newEnv(t, graphtest.Options{Devices: map[string][]map[string]any{tenantA: scenarioDevices()}})
	tok := e.token(t, tenantA)
	e.srv.AddFault(graphtest.Fault{Endpoint: "graph", Body: "reset", Count: 1})
	e.srv.AddFault(graphtest.Fault{Endpoint: "graph", Body: "malformed", Count: 1})
	e.srv.AddFault(graphtest.Fault{Endpoint: "graph", Latency: time.Millisecond, Count: 1})

	req, _ := http.NewRequest("GET", e.srv.URL()+"/v1.0/devices", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := e.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset: status %d, want no answer", resp.StatusCode)
	}
	if r := e.do(t, "GET", "/v1.0/devices", tok, nil, ""); r.status != 200 || json.Valid(r.body) {
		t.Errorf("malformed: status %d, valid JSON %v; want 200 and broken JSON", r.status, json.Valid(r.body))
	}
	if r := e.do(t, "GET", "/v1.0/devices", tok, nil, ""); r.status != 200 || !json.Valid(r.body) {
		t.Errorf("latency: status %d, valid JSON %v; want the real answer", r.status, json.Valid(r.body))
	}
	var statuses []int
	for _, r := range e.srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if diff := cmp.Diff([]int{0, 200, 200}, statuses); diff != "" {
		t.Errorf("recorded statuses (-want +got):\n%s", diff)
	}
	e.srv.ResetRequests()
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("after ResetRequests: %d requests", n)
	}
}
