package fakeidp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// AADSTS codes of the answers that tests and programs most often tell apart
// (the package doc lists every code the fake answers with). Compare them with
// [Request].ErrorCodes or an error's AADSTS codes.
const (
	CodeAppNotFound      = 700016 // app unknown in the tenant or not consented there
	CodeAssertionTime    = 700024 // exp/nbf outside the valid window
	CodeInvalidSignature = 700027 // signature, kid or alg rejected
)

// The other AADSTS codes the fake answers with. The numbers are Entra's; the
// wording of the descriptions is ours, modelled on what Entra says (see
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
const (
	codeInvalidTenant           = 90002   // tenant not found
	codeUnexpectedAssertionType = 90011   // client_assertion_type is not the JWT bearer type
	codeMissingParameter        = 900144  // a required form parameter is missing
	codePostOnly                = 900561  // the token endpoint only accepts POST
	codeMalformedJWT            = 50027   // the assertion is not a JWT
	codeUnsupportedGrant        = 70003   // grant_type other than client_credentials
	codeInvalidScope            = 70011   // scope names zero or several resources
	codeScopeNotDefault         = 1002012 // client credentials need {resource}/.default
	codeFICIssuer               = 700211  // no federated credential with the assertion's issuer
	codeFICAudience             = 700212  // ... with its audience
	codeFICSubject              = 700213  // ... with its subject
	codeInvalidClientSecret     = 7000215 // a client_secret was sent; apps here have none
	codeMissingAssertion        = 7000216 // no client_assertion for client_credentials
	codeCommonEndpoint          = 9001023 // client_credentials on /common, /organizations, /consumers
	codeTransient               = 90033   // fault injection: a transient error
	codeInvalidResource         = 500011  // no service principal for the requested resource
	// codeBodyTooLarge is not an Entra code: Entra's front end rejects huge
	// bodies before its token service sees them. The fake answers 413 with an
	// AADSTS-shaped body so that clients parse it like any other error.
	codeBodyTooLarge = 9000413
)

// entraError is an error answer of the token or discovery endpoints.
type entraError struct {
	status int
	err    string // OAuth error, e.g. "invalid_client"
	code   int
	msg    string
}

func newEntraError(code int, format string, args ...any) *entraError {
	e := &entraError{code: code, msg: fmt.Sprintf(format, args...), err: "invalid_request", status: http.StatusBadRequest}
	switch code {
	case CodeAppNotFound:
		e.err = "unauthorized_client"
	case codeInvalidScope, codeScopeNotDefault:
		e.err = "invalid_scope"
	case codeUnsupportedGrant:
		e.err = "unsupported_grant_type"
	case codeInvalidResource:
		e.err = "invalid_resource"
	case CodeAssertionTime, CodeInvalidSignature, codeFICIssuer, codeFICAudience, codeFICSubject,
		codeInvalidClientSecret, codeMissingAssertion:
		// Entra answers invalid_client with 401, as RFC 6749 section 5.2
		// allows for failed client authentication.
		e.err = "invalid_client"
		e.status = http.StatusUnauthorized
	case codeBodyTooLarge:
		e.status = http.StatusRequestEntityTooLarge
	}
	return e
}

// entraErrorBody is Entra's error JSON.
type entraErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// body renders the error the way Entra does: the description's first line
// is "AADSTSn: text", and further lines (CRLF-separated) give the trace ID,
// correlation ID and timestamp, repeated as separate fields. The trace ID is
// the response's x-ms-request-id (see [requestID]); correlationID echoes the
// client's client-request-id when it sent a GUID.
func (e *entraError) body(ctx context.Context, now time.Time, correlationID, authority string) entraErrorBody {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	trace := requestID(ctx)
	if !isGUID(correlationID) {
		correlationID = newGUID()
	}
	return entraErrorBody{
		Error:            e.err,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.msg, trace, correlationID, ts),
		ErrorCodes:       []int{e.code},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    correlationID,
		ErrorURI:         fmt.Sprintf("%s/error?code=%d", authority, e.code),
	}
}

// requestIDKey is the context key of the request's x-ms-request-id.
type requestIDKey struct{}

// withRequestID gives the request the ID Entra sends as x-ms-request-id (and
// repeats as the trace ID of an error), and echoes the client's
// client-request-id as Entra does when the client asks with
// return-client-request-id: true (MSAL does).
func withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := newGUID()
	w.Header().Set("x-ms-request-id", id)
	if crid := clientRequestID(r); crid != "" && strings.EqualFold(r.Header.Get("return-client-request-id"), "true") {
		w.Header().Set("client-request-id", crid)
	}
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

// requestID is the request's x-ms-request-id, or a new GUID outside a
// request.
func requestID(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	return newGUID()
}

// clientRequestID is the client's client-request-id, from the header or, as
// @azure/identity also sends it, the query; "" unless it is a GUID (Entra
// ignores anything else, and only a GUID is safe to echo).
func clientRequestID(r *http.Request) string {
	for _, v := range []string{r.Header.Get("client-request-id"), r.URL.Query().Get("client-request-id")} {
		if isGUID(v) {
			return v
		}
	}
	return ""
}

// writeJSON writes v with the status and the headers Entra and the MSI
// endpoints send.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// discoveryCacheControl is how long Entra lets clients cache its discovery
// documents and keys: a day (Cache-Control: max-age=86400, private).
const discoveryCacheControl = "max-age=86400, private"

// writeCacheableJSON writes a discovery document or key set as Entra does:
// cacheable for a day, readable from any origin.
func writeCacheableJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", discoveryCacheControl)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// newGUID returns a random version 4 UUID.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// caseHint says so when want matches got only case-insensitively: Entra
// matches federated credentials case-sensitively since 2025 and its messages
// point out case-only differences.
func caseHint(got string, candidates []string) string {
	for _, c := range candidates {
		if c != got && strings.EqualFold(c, got) {
			return fmt.Sprintf(" A federated identity credential has %q, which differs only in letter case; matching is case-sensitive.", c)
		}
	}
	return ""
}
