// Package httpserver is the one configuration of the fakes' listeners
// (fakeidp's Entra and managed-identity listeners, graphtest's Graph
// listener): the same timeouts on every one, so that a client that opens
// connections and sends nothing (or a byte at a time) cannot hold them, and
// the server's own error lines (TLS handshake failures above all) through the
// fake's slog logger, clipped and redacted, instead of the process's stderr.
package httpserver

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/tlshint"
)

// Timeouts of a listener.
type Timeouts struct {
	// ReadHeader bounds the TLS handshake and the request's header: what a
	// slowloris client stretches.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included.
	Read time.Duration
	// Idle closes a keep-alive connection with no request in flight.
	Idle time.Duration
}

// Defaults are the timeouts of every listener of the fakes. Idle is longer
// than the 30 s their clients keep idle connections, so that a server never
// closes a connection a client is about to reuse.
var Defaults = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Idle: 90 * time.Second}

// Configure sets srv's timeouts and routes its error log to logger (nil
// discards) with the attribute listener=name. hint, for a TLS listener, is
// the tlshint.Watcher of its TLS config: a handshake the client refused is
// logged by it, as one warning naming the CA variable that client reads,
// instead of the generic line; nil logs every line generically.
func Configure(srv *http.Server, logger *slog.Logger, name string, t Timeouts, hint *tlshint.Watcher) {
	srv.ReadHeaderTimeout = t.ReadHeader
	srv.ReadTimeout = t.Read
	srv.IdleTimeout = t.Idle
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv.ErrorLog = log.New(&errorWriter{logger: logger, listener: name, hint: hint}, "", 0)
}

// New is an *http.Server for h, configured by [Configure].
func New(h http.Handler, logger *slog.Logger, name string, t Timeouts, hint *tlshint.Watcher) *http.Server {
	srv := &http.Server{Handler: h}
	Configure(srv, logger, name, t, hint)
	return srv
}

// maxLineBytes bounds an error line: net/http quotes what a client sent in
// some of them.
const maxLineBytes = 512

// errorWriter turns net/http's error lines into slog records.
type errorWriter struct {
	logger   *slog.Logger
	listener string
	hint     *tlshint.Watcher
}

func (w *errorWriter) Write(p []byte) (int, error) {
	if w.hint != nil && w.hint.Handle(p) {
		return len(p), nil
	}
	level := slog.LevelWarn
	if hangUp(p) {
		// A client that hangs up mid-handshake (a port probe, a client
		// that gave up) is noise, not a misconfiguration.
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if w.logger.Enabled(ctx, level) {
		w.logger.LogAttrs(ctx, level, "http server error",
			slog.String("listener", w.listener),
			slog.String("error", leak.Clip(string(bytes.TrimSpace(p)), maxLineBytes)))
	}
	return len(p), nil
}

func hangUp(p []byte) bool {
	for _, s := range []string{": EOF", "connection reset by peer", "broken pipe", "i/o timeout"} {
		if bytes.Contains(p, []byte(s)) {
			return true
		}
	}
	return false
}

// StatusWriter remembers the status code a handler wrote (200 when it wrote
// a body without one), for the fakes' request logs and log lines.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first status and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status came first, as net/http sends.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
