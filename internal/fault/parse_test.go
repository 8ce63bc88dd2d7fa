package fault

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		want Fault
	}{
		{"token:429:retry-after=2:count=3", Fault{Endpoint: "token", Status: 429, RetryAfter: 2 * time.Second, Count: 3}},
		{"imds:410:count=2", Fault{Endpoint: "imds", Status: 410, Count: 2}},
		{"token:latency=200ms", Fault{Endpoint: "token", Latency: 200 * time.Millisecond}},
		{"msi:reset", Fault{Endpoint: "msi", Body: BodyReset}},
		{"msi:body=reset:count=1", Fault{Endpoint: "msi", Body: BodyReset, Count: 1}},
		{"token:body=malformed", Fault{Endpoint: "token", Body: BodyMalformed}},
		{"keys:body=oversize:count=1", Fault{Endpoint: "keys", Body: BodyOversize, Count: 1}},
		{"openid:body=truncated:latency=1s", Fault{Endpoint: "openid", Body: BodyTruncated, Latency: time.Second}},
		{"discovery:500", Fault{Endpoint: "discovery", Status: 500}},
		{"appservice:503:latency=50ms", Fault{Endpoint: "appservice", Status: 503, Latency: 50 * time.Millisecond}},
		{"*:503:retry-after=1m", Fault{Status: 503, RetryAfter: time.Minute}},
		{"all:503", Fault{Status: 503}},
		{"token:503:path=/22222222-2222-2222-2222-222222222222/", Fault{Endpoint: "token", Status: 503, Path: "/22222222-2222-2222-2222-222222222222/"}},
		{"graph:429:retry-after=2:count=3", Fault{Endpoint: "graph", Status: 429, RetryAfter: 2 * time.Second, Count: 3}},
		{"graph:503", Fault{Endpoint: "graph", Status: 503}},
		{"graph:503:count=0", Fault{Endpoint: "graph", Status: 503}},
		{"graph:claims", Fault{Endpoint: "graph", Status: 401}},
		{"graph:claims:count=1", Fault{Endpoint: "graph", Status: 401, Count: 1}},
		{"graph:401:claims", Fault{Endpoint: "graph", Status: 401}},
		{"graph:claims:401", Fault{Endpoint: "graph", Status: 401}},
		{"graph:429:retry-after=1500ms", Fault{Endpoint: "graph", Status: 429, RetryAfter: 1500 * time.Millisecond}},
		{"graph:429:retry-after=0", Fault{Endpoint: "graph", Status: 429, Header: http.Header{"Retry-After": {"0"}}}},
		{"graph:500:path=/devices/$count:count=2", Fault{Endpoint: "graph", Status: 500, Path: "/devices/$count", Count: 2}},
		{"graph:reset:count=1", Fault{Endpoint: "graph", Body: BodyReset, Count: 1}},
		{"graph:latency=2s", Fault{Endpoint: "graph", Latency: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.spec, diff)
			}
		})
	}
}

// TestParseErrors checks that every error names the spec, the bad part and
// what to give instead.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		spec string
		want []string // pieces of the error besides `fault "SPEC": `
	}{
		{"bogus:429", []string{`unknown endpoint "bogus"`, "want token, openid, keys, discovery, appservice, imds, arc, msi, github, graph, arm, or * for every endpoint"}},
		{"Graph:429", []string{`unknown endpoint "Graph"`}},
		{":429", []string{`unknown endpoint ""`}},
		{"token", []string{"nothing to do", "add a status such as 503"}},
		{"graph", []string{"nothing to do"}},
		{"graph:count=3", []string{"nothing to do"}},
		{"token:latency=0", []string{"nothing to do"}},
		{"token:abc", []string{`"abc"`, "not a status, claims, reset or KEY=VALUE", "items: "}},
		{"token:700", []string{`"700"`, "out of range", "400 to 599"}},
		{"graph:200", []string{`"200"`, "out of range"}},
		{"graph:429:503", []string{`"503"`, "second status", "already has 429"}},
		{"graph:429:claims", []string{`"claims"`, "already has 429"}},
		{"token:claims", []string{`"claims"`, "use it with graph"}},
		{"*:claims", []string{`"claims"`, "use it with graph"}},
		{"token:count=-1", []string{`"count=-1"`, "whole number", "0 for every request until cleared"}},
		{"graph:429:count=many", []string{`"count=many"`, "whole number"}},
		{"token:429:count=1:count=2", []string{`"count=2"`, "count given twice"}},
		{"token:body=weird", []string{`"body=weird"`, "truncated, malformed or oversize"}},
		{"token:429:body=malformed", []string{`"body=malformed"`, "not both"}},
		{"token:reset:503", []string{`"503"`, "body=reset", "not both"}},
		{"token:reset:body=malformed", []string{`"body=malformed"`, "keep one"}},
		{"token:latency=soon", []string{`"latency=soon"`, "duration such as 200ms"}},
		{"token:latency=-1s", []string{`"latency=-1s"`, "duration"}},
		{"graph:429:retry-after=soon", []string{`"retry-after=soon"`, "seconds (2) or a duration (1500ms)"}},
		{"graph:429:retry-after=-3", []string{`"retry-after=-3"`, "negative"}},
		{"graph:429:retry-after=90000", []string{`"retry-after=90000"`, "more than a day"}},
		{"token:retry-after=2:latency=1s", []string{"retry-after goes with a status"}},
		{"graph:503:path=", []string{`"path="`, "empty path"}},
		{"token:colour=red", []string{`"colour=red"`, `unknown item "colour"`, "items: a status"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.spec, got)
			}
			for _, piece := range append([]string{`fault "` + tt.spec + `": `}, tt.want...) {
				if !strings.Contains(err.Error(), piece) {
					t.Errorf("error %q does not contain %q", err, piece)
				}
			}
		})
	}
}

// FuzzParse checks that Parse never panics, that whatever it accepts is a
// fault a server can play (a known endpoint, something to do, a status or a
// body but not both, bounded values), and that its errors quote the spec.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"token:429:retry-after=2:count=3", "imds:410:count=2", "token:latency=200ms", "msi:reset",
		"keys:body=oversize:count=1", "*:503:retry-after=1m", "graph:claims:count=1",
		"graph:500:path=/devices/$count:count=2", "graph:429:retry-after=0", "token:abc",
		"graph:429:503", "token::", "all:body=", "graph:retry-after=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := Parse(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fault "+strconv.Quote(spec)+": ") {
				t.Fatalf("error %q does not start with the quoted spec", err)
			}
			return
		}
		known := got.Endpoint == ""
		for _, e := range endpoints {
			known = known || got.Endpoint == e
		}
		switch {
		case !known:
			t.Fatalf("Parse(%q): endpoint %q", spec, got.Endpoint)
		case got.Status == 0 && got.Body == "" && got.Latency <= 0:
			t.Fatalf("Parse(%q) = %+v: nothing to do", spec, got)
		case got.Status != 0 && (got.Status < 400 || got.Status > 599 || got.Body != ""):
			t.Fatalf("Parse(%q) = %+v: status", spec, got)
		case got.Count < 0 || got.Latency < 0 || got.RetryAfter < 0 || got.RetryAfter > maxRetryAfter:
			t.Fatalf("Parse(%q) = %+v: negative or unbounded", spec, got)
		case got.Status == 0 && (got.RetryAfter != 0 || got.Header != nil):
			t.Fatalf("Parse(%q) = %+v: retry-after without a status", spec, got)
		}
		again, err := Parse(spec)
		if err != nil || !cmp.Equal(got, again) {
			t.Fatalf("Parse(%q) twice: %+v, then %+v, %v", spec, got, again, err)
		}
	})
}
