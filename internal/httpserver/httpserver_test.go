package httpserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/tlshint"
)

func TestConfigure(t *testing.T) {
	var buf bytes.Buffer
	srv := New(nil, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "graph",
		Timeouts{ReadHeader: time.Second, Read: 2 * time.Second, Idle: 3 * time.Second}, nil)
	if srv.ReadHeaderTimeout != time.Second || srv.ReadTimeout != 2*time.Second || srv.IdleTimeout != 3*time.Second {
		t.Errorf("timeouts %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
	srv.ErrorLog.Printf("http: TLS handshake error from 127.0.0.1:1: remote error: tls: bad certificate %s\nforged line%s", jwt, strings.Repeat("x", 4096))
	srv.ErrorLog.Printf("http: TLS handshake error from 127.0.0.1:2: EOF")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2 (a forged newline must not make a third): %q", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "listener=graph") || !strings.Contains(lines[0], "bad certificate") {
		t.Errorf("first line %q", lines[0])
	}
	if strings.Contains(lines[0], "c2lnbmF0dXJl") || len(lines[0]) > 1024 {
		t.Errorf("first line keeps the JWT or is not clipped (%d bytes)", len(lines[0]))
	}
	if !strings.Contains(lines[1], "level=DEBUG") {
		t.Errorf("a hang-up is not at Debug: %q", lines[1])
	}

	// A nil logger discards.
	New(nil, nil, "msi", Defaults, nil).ErrorLog.Print("anything")
}

// TestHintTakesRefusals: with a tlshint.Watcher, a handshake the client
// refused is logged once, as tlshint's warning naming the CA variable, not
// also as a generic line; other lines still are.
func TestHintTakesRefusals(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	srv := New(nil, logger, "graph", Defaults, tlshint.New(logger, "graph"))
	srv.ErrorLog.Print("http: TLS handshake error from 127.0.0.1:1: remote error: tls: bad certificate")
	srv.ErrorLog.Print("http: TLS handshake error from 127.0.0.1:2: client sent an HTTP request to an HTTPS server")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "TLS handshake refused by the client") || strings.Contains(lines[0], "http server error") {
		t.Errorf("refusal logged as %q", lines[0])
	}
	if !strings.Contains(lines[1], "http server error") || !strings.Contains(lines[1], "HTTPS server") {
		t.Errorf("other error logged as %q", lines[1])
	}
}

func TestStatusWriter(t *testing.T) {
	for name, tc := range map[string]struct {
		handler func(w http.ResponseWriter)
		want    int
	}{
		"body without a status is 200": {func(w http.ResponseWriter) { w.Write([]byte("x")) }, http.StatusOK},
		"the first status wins":        {func(w http.ResponseWriter) { w.WriteHeader(404); w.WriteHeader(500) }, http.StatusNotFound},
		"nothing written":              {func(w http.ResponseWriter) {}, 0},
		"flush reaches the connection": {func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush through StatusWriter: %v", err)
			}
		}, http.StatusAccepted},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			sw := &StatusWriter{ResponseWriter: rec}
			tc.handler(sw)
			if sw.Status != tc.want {
				t.Errorf("Status = %d, want %d", sw.Status, tc.want)
			}
		})
	}
}
