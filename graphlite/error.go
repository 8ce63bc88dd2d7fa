package graphlite

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// Error is a failure response from Graph. Use [errors.As] to get it; the
// message text is not a contract. It never contains a token.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code and Message are Graph's error.code and error.message, e.g.
	// Authorization_RequestDenied, clipped, on one line, with anything
	// JWT-shaped redacted.
	Code    string
	Message string
	// RequestID, ClientRequestID and Date identify the request for Graph
	// support; they come from error.innerError, else from the headers,
	// clipped as Message is.
	RequestID       string
	ClientRequestID string
	Date            string
	// InnerError is error.innerError (it holds more than the fields above),
	// re-encoded with every string clipped and scrubbed as Message is; nil
	// when it is not JSON or larger than 4 KiB.
	InnerError json.RawMessage
	// Method and Path are the failed request's (the path only: no query).
	Method string
	Path   string
	// TenantID and Roles are read from the (unverified) claims of the access
	// token that Graph rejected, to explain a 401 or 403; the token itself is
	// not kept.
	TenantID string
	Roles    []string
	// Hint says what to do, when the failure has a usual cause.
	Hint string
	// Throttle is what the response said about Graph's limits (status,
	// x-ms-throttle-* headers, Retry-After); zero when it was neither
	// throttled nor carried any of them.
	Throttle Throttle
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graphlite: %s %s: %d", e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	if e.RequestID != "" {
		b.WriteString(" request-id=" + e.RequestID)
	}
	if e.ClientRequestID != "" {
		b.WriteString(" client-request-id=" + e.ClientRequestID)
	}
	return b.String()
}

// newError reads Graph's error JSON (bounded, unknown fields ignored) from resp.
func newError(resp *http.Response, method string) *Error {
	e := &Error{StatusCode: resp.StatusCode, Method: method}
	if t, ok := throttleOf(resp.StatusCode, resp.Header, time.Now()); ok {
		e.Throttle = t
	}
	// The request's bearer token, the one secret a peer can echo here: known,
	// it is scrubbed from every field even when it is not JWT-shaped, and so
	// is its signature part alone.
	var token string
	if resp.Request != nil {
		e.Path = resp.Request.URL.Path
		authz := resp.Request.Header.Get("Authorization")
		token = bearerToken(authz)
		e.TenantID, e.Roles = tokenClaims(authz)
	}
	// boundedTransport has cut the body at maxErrorBodyBytes: one that long
	// was longer, and is not decoded (the Graph fields stay empty: the
	// status and headers still explain the failure).
	body, _ := bodylimit.Read(resp.Body, maxErrorBodyBytes)
	if len(body) >= maxErrorBodyBytes {
		body = nil
		e.Message = "error body larger than " + bodylimit.Size(maxErrorBodyBytes) + ", not read"
	}
	var doc struct {
		Error struct {
			Code       string          `json:"code"`
			Message    string          `json:"message"`
			InnerError json.RawMessage `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil {
		e.Code, e.Message, e.InnerError = doc.Error.Code, doc.Error.Message, scrubInnerError(doc.Error.InnerError, token)
		var inner struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		}
		if json.Unmarshal(doc.Error.InnerError, &inner) == nil {
			e.Date, e.RequestID, e.ClientRequestID = inner.Date, inner.RequestID, inner.ClientRequestID
		}
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("request-id")
	}
	if e.ClientRequestID == "" {
		e.ClientRequestID = resp.Header.Get(headerClientRequestID)
		if e.ClientRequestID == "" && resp.Request != nil {
			e.ClientRequestID = resp.Request.Header.Get(headerClientRequestID)
		}
	}
	if e.Date == "" {
		e.Date = resp.Header.Get("Date")
	}
	// Text from the network, fit for an error message (habit 16): Graph's
	// IDs and codes are a few dozen bytes, but a proxy in between can send
	// anything, a token included.
	e.Code = leak.Clip(e.Code, maxIDText, token)
	e.Message = leak.Clip(e.Message, maxMessageText, token)
	e.RequestID = leak.Clip(e.RequestID, maxIDText, token)
	e.ClientRequestID = leak.Clip(e.ClientRequestID, maxIDText, token)
	e.Date = leak.Clip(e.Date, maxIDText, token)
	e.Hint = hint(e)
	return e
}

// Bounds of the text from the network an *Error repeats (see leak.Clip).
const (
	maxMessageText = 512
	maxIDText      = 128
)

// hint explains the usual causes of 401 and 403.
func hint(e *Error) string {
	tenant := e.TenantID
	if tenant == "" {
		tenant = "the target tenant"
	}
	roles := "none"
	if len(e.Roles) > 0 {
		roles = strings.Join(e.Roles, ", ")
	}
	switch {
	case e.StatusCode == http.StatusForbidden && e.Code == "Authorization_RequestDenied":
		return fmt.Sprintf("the app needs %s (application) with admin consent in tenant %s; the token's roles: %s",
			permissionFor(e.Path), tenant, roles)
	case e.StatusCode == http.StatusUnauthorized && e.Code == "InvalidAuthenticationToken":
		return fmt.Sprintf("Graph rejected the access token for tenant %s: check that it is for Graph (scope https://graph.microsoft.com/.default), unexpired, and issued by that tenant", tenant)
	case e.StatusCode == http.StatusTooManyRequests:
		return "throttled; retries were exhausted"
	}
	return ""
}

// permissionFor names the least application permission that reads path
// (from the permissions tables of learn.microsoft.com/graph/api/...).
func permissionFor(path string) string {
	p := strings.ToLower(path)
	switch {
	case strings.Contains(p, "/devices"):
		return "Device.Read.All"
	case strings.Contains(p, "/users"):
		return "User.Read.All"
	case strings.Contains(p, "/groups"):
		return "GroupMember.Read.All"
	case strings.Contains(p, "/applications"), strings.Contains(p, "/serviceprincipals"):
		return "Application.Read.All"
	}
	return "the permission this API documents"
}

// tokenClaims reads tid and roles from a bearer token's payload without
// verifying it; they only explain an error. Nothing else of the token is kept.
func tokenClaims(authz string) (string, []string) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		return "", nil
	}
	var c struct {
		TID   string   `json:"tid"`
		Roles []string `json:"roles"`
	}
	if jwtpeek.Claims(tok, &c) != nil {
		return "", nil
	}
	// Keep them only if they look like what they should be.
	if strings.ContainsAny(c.TID, " \n\"") || len(c.TID) > 64 {
		c.TID = ""
	}
	return c.TID, c.Roles
}
