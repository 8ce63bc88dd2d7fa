package fakeidp

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/httpserver"
)

// Request is one request as the server saw it, secrets redacted. Its fields
// have the names of graphtest.Request's for the same ideas.
type Request struct {
	Time     time.Time // when it arrived, on the server's clock
	Listener string    // [ListenerEntra] or [ListenerMSI]
	Method   string
	Path     string
	Tenant   string // the path's tenant segment, "" on the managed-identity listener
	ClientID string // the token request's client_id, or the managed identity's client ID
	// Form holds the token request's form or the managed-identity request's
	// query, with client_assertion and other secrets replaced by "[redacted]".
	Form   url.Values
	Status int // 0 when the connection was reset without an answer
	// Code is the "error" of an error answer ("invalid_client",
	// "unauthorized_client", "temporarily_unavailable"), "" on success and
	// for App Service errors, whose body has no code.
	Code string
	// ErrorCodes are the AADSTS codes of an Entra error answer (its
	// error_codes, e.g. [700016]), nil otherwise.
	ErrorCodes []int
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

// redactForm copies a form or query for the request log: secrets replaced,
// everything else clipped by fault.ClipValues (at most fault.MaxKeys keys,
// fault.MaxTextBytes per value, JWT-shaped text redacted), so that a client
// sending megabyte requests cannot make the log hold megabytes.
func redactForm(v url.Values) url.Values {
	return fault.ClipValues(v, func(k string) bool { return secretFields[k] })
}

// size estimates the memory a Request holds, for the request log's byte
// budget (fault.MaxBytes).
func (r *Request) size() int {
	return fault.RecordOverhead + fault.TextSize(r.Listener, r.Method, r.Path, r.Tenant, r.ClientID, r.Code) +
		fault.ValuesSize(r.Form) + 8*len(r.ErrorCodes)
}

// Requests returns what the server saw, oldest first: the last 10,000
// requests, fewer when they hold more than fault.MaxBytes (4 MiB) between
// them. Values are clipped (fault.MaxTextBytes each) and secrets redacted.
func (s *Server) Requests() []Request { return s.requests.All() }

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.requests.Reset() }

// reqInfo is filled by handlers for the request log.
type reqInfo struct {
	tenant, clientID string
	form             url.Values // already redacted
	code             string
	errorCodes       []int
}

// entraError records an Entra error answer.
func (i *reqInfo) entraError(e *entraError) {
	i.code, i.errorCodes = e.err, []int{e.code}
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// statusWriter remembers the status a handler wrote.
type statusWriter = httpserver.StatusWriter

// record appends to the request log and writes the log line. The line has no
// form values and no headers, so no token or secret can reach it.
func (s *Server) record(start time.Time, latency time.Duration, listener string, r *http.Request, status int, info *reqInfo) {
	rq := Request{
		Time: start, Listener: listener, Method: fault.ClipText(r.Method), Path: fault.ClipText(r.URL.Path),
		Tenant: fault.ClipText(info.tenant), ClientID: fault.ClipText(info.clientID), Form: info.form,
		Status: status, Code: info.code, ErrorCodes: info.errorCodes,
	}
	s.requests.Add(rq)
	// error_code stays the AADSTS number (0 when none), as docs/fakemsi.md
	// shows the lines.
	aadsts := 0
	if len(info.errorCodes) > 0 {
		aadsts = info.errorCodes[0]
	}
	s.logger.LogAttrs(r.Context(), levelFor(status), "fakeidp request",
		slog.String("listener", listener), slog.String("method", rq.Method), slog.String("path", rq.Path),
		slog.Int("status", status), slog.Int("error_code", aadsts),
		slog.String("tenant", rq.Tenant), slog.String("client_id", rq.ClientID),
		slog.Duration("latency", latency))
}

func levelFor(status int) slog.Level {
	if status == 0 || status >= 400 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
