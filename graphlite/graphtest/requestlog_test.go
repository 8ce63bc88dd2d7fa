package graphtest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// lockedBuffer is a log destination that the server's goroutines and the
// test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRequestLog sends requests that succeed, fail authentication, meet a
// fault and travel in a $batch, and checks one JSON line per request with
// the fields of fakeidp's lines, and that no line holds a token.
func TestRequestLog(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, graphtest.Options{
		Devices: map[string][]map[string]any{tenantA: scenarioDevices()},
		Logger:  slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	tok := e.token(t, tenantA)
	expired := sign(t, "k1", testKeys()[0], claims(tenantA, e.clock.Now().Add(-3*time.Hour), "Device.Read.All"))
	noRole := sign(t, "k1", testKeys()[0], claims(tenantA, e.clock.Now()))

	e.do(t, "GET", "/v1.0/devices?$top=1&$filter=displayName%20eq%20'x'", tok, nil, "")
	e.do(t, "GET", "/v1.0/devices", expired, nil, "")
	e.do(t, "GET", "/beta/devices", noRole, nil, "")
	e.srv.AddFault(graphtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1})
	e.do(t, "GET", "/v1.0/devices", tok, nil, "")
	e.do(t, "POST", "/v1.0/$batch", tok, nil, `{"requests":[{"id":"1","method":"GET","url":"/devices?$top=1"},{"id":"2","method":"GET","url":"/devices/nope"}]}`)
	// The in-process handler logs the same way.
	req := httptest.NewRequest("GET", "/v1.0/devices/$count", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("ConsistencyLevel", "eventual")
	rr := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rr, req)
	if rr.Code != http.StatusOK {
		t.Errorf("Handler: status %d, want 200", rr.Code)
	}

	out := logs.String()
	for name, secret := range map[string]string{"valid": tok, "expired": expired, "no-role": noRole} {
		if where := leak.Find(out, secret); where != "" {
			t.Errorf("log contains %s of the %s token", where, name)
		}
	}
	if strings.Contains(out, "eyJ") || strings.Contains(strings.ToLower(out), "bearer") {
		t.Error("log contains something shaped like a token or an Authorization header")
	}

	type line struct {
		Level, Msg, Listener, Method, Path, Tenant string
		Status                                     int
		ErrorCode                                  string `json:"error_code"`
		InBatch                                    bool   `json:"in_batch"`
		Latency                                    *int64
	}
	var got []line
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", redact(sc.Text(), tok, expired, noRole), err)
		}
		if l.Latency == nil || *l.Latency < 0 {
			t.Errorf("line without a latency: %s", redact(sc.Text(), tok, expired, noRole))
		}
		l.Latency = nil
		got = append(got, l)
	}
	g := func(level, method, path string, status int, code, tenant string, inBatch bool) line {
		return line{Level: level, Msg: "graphtest request", Listener: "graph", Method: method, Path: path, Status: status, ErrorCode: code, Tenant: tenant, InBatch: inBatch}
	}
	want := []line{
		g("INFO", "GET", "/v1.0/devices", 200, "", tenantA, false),
		g("WARN", "GET", "/v1.0/devices", 401, "InvalidAuthenticationToken", "", false),
		g("WARN", "GET", "/beta/devices", 403, "Authorization_RequestDenied", tenantA, false),
		g("WARN", "GET", "/v1.0/devices", 429, "TooManyRequests", tenantA, false),
		// $batch answers in reverse order, and its inner requests finish first.
		g("WARN", "GET", "/v1.0/devices/nope", 404, "Request_ResourceNotFound", tenantA, true),
		g("INFO", "GET", "/v1.0/devices", 200, "", tenantA, true),
		g("INFO", "POST", "/v1.0/$batch", 200, "", tenantA, false),
		g("INFO", "GET", "/v1.0/devices/$count", 200, "", tenantA, false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

// TestNilLogger checks that a server without a Logger serves (nil means
// discard, not a nil dereference).
func TestNilLogger(t *testing.T) {
	e := newEnv(t, graphtest.Options{})
	if r := e.do(t, "GET", "/v1.0/devices", e.token(t, tenantA), nil, ""); r.status != http.StatusOK {
		t.Fatalf("status %d, want 200", r.status)
	}
}
