package fakeidp

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Request is one request as the server saw it, secrets redacted.
type Request struct {
	Time             time.Time
	Listener         string // "entra" | "msi"
	Method, Path     string
	Tenant, ClientID string
	// Form holds the token request's form or the managed-identity request's
	// query, with client_assertion and other secrets replaced by "[redacted]".
	Form      url.Values
	Status    int // 0 when the connection was reset without an answer
	ErrorCode int // AADSTS code of an error answer, 0 on success
}

// Listener names in Request.
const (
	ListenerEntra = "entra"
	ListenerMSI   = "msi"
)

const redacted = "[redacted]"

// secretFields are form fields whose values never leave the handler.
var secretFields = map[string]bool{
	"client_assertion": true, "client_secret": true, "assertion": true, "refresh_token": true,
	"code": true, "password": true, "access_token": true, "request": true, "code_verifier": true,
}

func redactForm(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vals := range v {
		c := make([]string, len(vals))
		for i, val := range vals {
			if secretFields[k] {
				val = redacted
			}
			c[i] = val
		}
		out[k] = c
	}
	return out
}

// Requests returns what the server saw, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// maxRecorded bounds the request log of a long-running fake.
const maxRecorded = 10000

// reqInfo is filled by handlers for the request log.
type reqInfo struct {
	tenant, clientID string
	form             url.Values // already redacted
	errorCode        int
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// record appends to the request log and writes the log line. The line has no
// form values and no headers, so no token or secret can reach it.
func (s *Server) record(start time.Time, latency time.Duration, listener string, r *http.Request, status int, info *reqInfo) {
	rq := Request{
		Time: start, Listener: listener, Method: r.Method, Path: r.URL.Path,
		Tenant: info.tenant, ClientID: info.clientID, Form: info.form,
		Status: status, ErrorCode: info.errorCode,
	}
	s.mu.Lock()
	if len(s.requests) >= maxRecorded {
		s.requests = append(s.requests[:0], s.requests[len(s.requests)/2:]...)
	}
	s.requests = append(s.requests, rq)
	s.mu.Unlock()
	s.logger.LogAttrs(r.Context(), levelFor(status), "fakeidp request",
		slog.String("listener", listener), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.Int("error_code", info.errorCode),
		slog.String("tenant", info.tenant), slog.String("client_id", info.clientID),
		slog.Duration("latency", latency))
}

func levelFor(status int) slog.Level {
	if status == 0 || status >= 400 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
