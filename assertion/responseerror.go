package assertion

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// ResponseError is a failed answer from a managed-identity endpoint ([AppService]
// or [IMDS]). Use [errors.As] to get one; the message text is not a contract. It never holds a
// token or an identity header value.
type ResponseError struct {
	// Source names the protocol: "AppService" or "IMDS".
	Source string
	// StatusCode is the HTTP status of the last attempt.
	StatusCode int
	// Code is the OAuth "error" field (IMDS) or "statusCode" (App Service),
	// empty when the body had none.
	Code string
	// Message is error_description (IMDS) or message (App Service), clipped
	// and with any identity header value removed.
	Message string
	// Identity is the identity that was asked for, such as "client_id=…" or
	// "system-assigned".
	Identity string
	// Hint suggests the usual cause of this status, empty when there is none.
	Hint string
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	b.WriteString("assertion: ")
	b.WriteString(e.Source)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Identity != "" {
		b.WriteString(" (identity ")
		b.WriteString(e.Identity)
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Bounds of the server text copied into an error (see leak.Clip).
const (
	maxDescription = 512
	maxCode        = 64
)

// newResponseError reads the error body of either protocol. IMDS answers
// {"error":"invalid_request","error_description":"Identity not found"}; App
// Service answers {"statusCode":400,"message":"…","correlationId":"…"}.
// The server's text passes through leak.Clip: secret (the identity header
// value) and anything JWT-shaped are redacted from whatever the server echoed.
func newResponseError(source string, status int, body []byte, identity, secret string) *ResponseError {
	var r struct {
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
		Message     string          `json:"message"`
		StatusCode  json.RawMessage `json:"statusCode"`
	}
	_ = json.Unmarshal(body, &r) // a non-JSON error body leaves the fields empty
	e := &ResponseError{Source: source, StatusCode: status, Identity: identity}
	e.Code = r.Error
	if e.Code == "" {
		if v, ok := jsonScalar(r.StatusCode); ok {
			e.Code = v
		}
	}
	e.Code = strings.TrimSpace(leak.Clip(e.Code, maxCode, secret))
	desc := r.Description
	if desc == "" {
		desc = r.Message
	}
	e.Message = strings.TrimSpace(leak.Clip(desc, maxDescription, secret))
	e.Hint = hintFor(source, status, e.Message, identity)
	return e
}

// hintFor names the usual cause of a failed status.
func hintFor(source string, status int, desc, identity string) string {
	switch {
	case status >= 300 && status < 400:
		return "the endpoint answered with a redirect, which is never followed because the request carries the identity header"
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && source == appServiceName:
		return "the identity header was rejected: check that IDENTITY_HEADER (or MSI_SECRET) is the value the platform set next to IDENTITY_ENDPOINT (or MSI_ENDPOINT)"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "the metadata service refused the request: it must come from the VM itself, with no proxy in between"
	case status == http.StatusBadRequest && looksLikeUnknownIdentity(desc):
		if identity == systemAssigned {
			return "no system-assigned identity is enabled on this resource: enable it, or select a user-assigned identity that is assigned to the resource"
		}
		return "the identity " + identity + " is not assigned to this resource, or the selector names another identity"
	case status == http.StatusNotFound && source == imdsName:
		return "the metadata service has no token for this identity yet (a newly assigned identity takes time to propagate) or is updating; retries were exhausted"
	case status == http.StatusGone:
		return "the metadata service is updating (it says within 70 s); retries were exhausted"
	case status == http.StatusTooManyRequests:
		return "the endpoint is throttling requests: cache assertions (assertion.Cached) rather than fetching one per call"
	case status >= 500:
		return "the managed-identity endpoint failed; retries were exhausted"
	}
	return ""
}

// looksLikeUnknownIdentity recognises the 400 answers both endpoints give when
// the identity asked for is not on the resource.
func looksLikeUnknownIdentity(desc string) bool {
	d := strings.ToLower(desc)
	return strings.Contains(d, "identity not found") ||
		strings.Contains(d, "unable to load the proper managed identity") ||
		strings.Contains(d, "no managed identity") ||
		strings.Contains(d, "not found")
}
