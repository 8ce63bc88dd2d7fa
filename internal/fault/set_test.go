package fault

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// takes asks s for a fault n times and lists the statuses it got (0: none).
func takes(s *Set, endpoint, path string, n int) []int {
	var got []int
	for range n {
		f, ok := s.Take(endpoint, path)
		if ok != (f.Status != 0) {
			panic("Take's ok disagrees with its fault")
		}
		got = append(got, f.Status)
	}
	return got
}

func TestSetCount(t *testing.T) {
	tests := []struct {
		name   string
		faults []Fault
		want   []int // statuses of five token requests
	}{
		{"count 0 lasts until cleared", []Fault{{Status: 503}}, []int{503, 503, 503, 503, 503}},
		{"negative count reads as 0", []Fault{{Status: 503, Count: -1}}, []int{503, 503, 503, 503, 503}},
		{"count n: the next n", []Fault{{Status: 429, Count: 2}}, []int{429, 429, 0, 0, 0}},
		{"count 1", []Fault{{Status: 429, Count: 1}}, []int{429, 0, 0, 0, 0}},
		{"in the order added", []Fault{{Status: 502, Count: 1}, {Status: 504, Count: 2}}, []int{502, 504, 504, 0, 0}},
		{"a lasting fault hides the ones after it", []Fault{{Status: 500}, {Status: 504, Count: 1}}, []int{500, 500, 500, 500, 500}},
		{"after a counted one, the lasting one", []Fault{{Status: 429, Count: 1}, {Status: 500}}, []int{429, 500, 500, 500, 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Set
			for _, f := range tt.faults {
				s.Add(f)
			}
			if diff := cmp.Diff(tt.want, takes(&s, "token", "/t/oauth2/v2.0/token", 5)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetClear(t *testing.T) {
	var s Set
	s.Add(Fault{Status: 503})
	s.Add(Fault{Status: 429, Count: 3})
	s.Clear()
	if f, ok := s.Take("token", "/"); ok {
		t.Fatalf("after Clear: %+v", f)
	}
	s.Add(Fault{Status: 500, Count: 1})
	if diff := cmp.Diff([]int{500, 0}, takes(&s, "keys", "/", 2)); diff != "" {
		t.Errorf("added after Clear (-want +got):\n%s", diff)
	}
}

func TestSetMatching(t *testing.T) {
	tests := []struct {
		fault          Fault
		endpoint, path string
		want           bool
	}{
		{Fault{}, "token", "/x", true},
		{Fault{}, "graph", "/v1.0/devices", true},
		{Fault{Endpoint: "token"}, "token", "/x", true},
		{Fault{Endpoint: "token"}, "keys", "/x", false},
		{Fault{Endpoint: "msi"}, "appservice", "/msi/token", true},
		{Fault{Endpoint: "msi"}, "imds", "/metadata/identity/oauth2/token", true},
		{Fault{Endpoint: "msi"}, "token", "/x", false},
		{Fault{Endpoint: "imds"}, "appservice", "/msi/token", false},
		{Fault{Endpoint: "graph"}, "token", "/x", false},
		{Fault{Endpoint: "graph", Path: "/$count"}, "graph", "/v1.0/devices/$count", true},
		{Fault{Endpoint: "graph", Path: "/$count"}, "graph", "/v1.0/devices", false},
		{Fault{Path: "/2222"}, "token", "/2222-tenant/oauth2/v2.0/token", true},
	}
	for _, tt := range tests {
		tt.fault.Status = 500
		var s Set
		s.Add(tt.fault)
		if _, got := s.Take(tt.endpoint, tt.path); got != tt.want {
			t.Errorf("fault %+v, request to %s %s: matched %v, want %v", tt.fault, tt.endpoint, tt.path, got, tt.want)
		}
	}
}

// TestSetConcurrentTakes checks under -race that a fault with Count n
// answers exactly n of many concurrent requests.
func TestSetConcurrentTakes(t *testing.T) {
	var s Set
	s.Add(Fault{Status: 429, Count: 100})
	var hits atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, ok := s.Take("token", "/"); ok {
					hits.Add(1)
				}
			}
		})
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.Add(Fault{Endpoint: "keys", Status: 500, Count: 1}) }()
	testwait.Wait(t, &wg, "every concurrent request and Add finishing")
	if got := hits.Load(); got != 100 {
		t.Errorf("%d requests got the fault, want 100", got)
	}
}
