package fault

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// server plays f on every request; its real answer is a small JSON object.
func server(t *testing.T, f Fault) *httptest.Server {
	t.Helper()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Real", "yes")
		_, _ = io.WriteString(w, `{"access_token":"x","expires_in":3600}`)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Serve(w, r, f, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, `{"error":"injected"}`)
		}, next)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	Status      int
	RetryAfter  []string
	Extra, Real string
	Body        string
	ReadErr     bool
}

func get(t *testing.T, srv *httptest.Server) (answer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Header.Values("Retry-After"), Extra: resp.Header.Get("X-Extra"), Real: resp.Header.Get("X-Real"), ReadErr: rerr != nil}
	if len(b) < 1000 {
		a.Body = string(b)
	}
	return a, nil
}

func TestServe(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  answer
	}{
		{"status", Fault{Status: 503}, answer{Status: 503, Body: `{"error":"injected"}`}},
		{"retry-after rounded up", Fault{Status: 429, RetryAfter: 1500 * time.Millisecond}, answer{Status: 429, RetryAfter: []string{"2"}, Body: `{"error":"injected"}`}},
		{"header overrides", Fault{Status: 429, RetryAfter: time.Second, Header: http.Header{"Retry-After": {"0"}, "X-Extra": {"1"}}},
			answer{Status: 429, RetryAfter: []string{"0"}, Extra: "1", Body: `{"error":"injected"}`}},
		{"latency only", Fault{Latency: time.Millisecond}, answer{Status: 200, Real: "yes", Body: `{"access_token":"x","expires_in":3600}`}},
		{"malformed", Fault{Body: BodyMalformed, Header: http.Header{"X-Extra": {"2"}}}, answer{Status: 200, Real: "yes", Extra: "2", Body: `{"access_token":"x","expires_in":3600,"expires_in":`}},
		{"truncated", Fault{Body: BodyTruncated}, answer{Status: 200, Real: "yes", Body: `{"access_token":"x"`, ReadErr: true}},
		{"unknown body kind", Fault{Body: "sparkly"}, answer{Status: 200, Real: "yes", Body: `{"access_token":"x","expires_in":3600}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := get(t, server(t, tt.fault))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServeOversize(t *testing.T) {
	srv := server(t, Fault{Body: BodyOversize})
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var v map[string]string
	if err != nil || len(b) != OversizeBytes || json.Unmarshal(b, &v) != nil {
		t.Errorf("oversize: %d bytes (want %d), read error %v, JSON %v", len(b), OversizeBytes, err, json.Unmarshal(b, &v))
	}
}

func TestServeReset(t *testing.T) {
	_, err := get(t, server(t, Fault{Body: BodyReset}))
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reset: error %v, want the connection closed without an answer", err)
	}
}

// TestServeLatencyEndsWithClient checks that a client that gives up frees
// the handler: an hour of latency must not hold it.
func TestServeLatencyEndsWithClient(t *testing.T) {
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	go func() {
		defer close(done)
		Serve(httptest.NewRecorder(), r, Fault{Latency: time.Hour, Status: 503}, func(w http.ResponseWriter) { w.WriteHeader(503) }, http.NotFoundHandler())
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still waits out the latency after the client gave up")
	}
}
