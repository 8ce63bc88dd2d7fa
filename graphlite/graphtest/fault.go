package graphtest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// Fault is the fault model every fake of this module shares ([fault.Fault];
// fakeidp.Fault is the same type): the next Count matching requests (Count 0:
// every one until [Server.ClearFaults]) wait Latency, then fail the way Graph
// fails under load or after a revocation, or get their real answer damaged
// as Body says ("reset": no answer; "truncated", "malformed", "oversize").
//
// On this server a fault matches when its Endpoint is "graph" or "" and, if
// Path is set, the request's path contains Path. It applies after the token
// has been validated (a request with a bad token still gets its 401), to the
// $batch request but not to the requests inside it. Status 429 answers
// TooManyRequests, 503 ServiceUnavailable, and 401 a Continuous Access
// Evaluation claims challenge (with Claims, or a typical one that asks for a
// token issued after now). RetryAfter is sent in whole seconds, rounded up;
// Header carries other forms ("Retry-After: 0", an HTTP date).
type Fault = fault.Fault

// AddFault queues f. Faults apply in the order added, one fault per request.
func (s *Server) AddFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// ParseFault reads the command-line form of a [Fault], the syntax of
// fakemsi's --fault: "graph", then colon-separated items:
//
//   - a status code from 400 to 599 (401 is a claims challenge);
//   - "claims": a Continuous Access Evaluation claims challenge (401 with
//     WWW-Authenticate error="insufficient_claims"), the typical claims;
//   - "retry-after=SECONDS" or "retry-after=DURATION" ("1500ms", rounded up
//     to whole seconds, the unit of Retry-After);
//   - "count=N": the next N matching requests; without it, or with count=0,
//     every matching request until [Server.ClearFaults];
//   - "path=TEXT": only requests whose path contains TEXT;
//   - "latency=DURATION", "reset", "body=truncated|malformed|oversize", as
//     for fakeidp's endpoints.
//
// Examples: "graph:429:retry-after=2:count=3", "graph:503",
// "graph:claims:count=1", "graph:503:path=/devices/$count".
//
// Errors name the spec, the item that is wrong and what to write instead.
// fakeidp.ParseFault reads the specs of the other endpoints, and
// emulator.ParseFault the specs of every endpoint.
func ParseFault(spec string) (Fault, error) {
	f, err := fault.Parse(spec)
	if err != nil {
		return Fault{}, fmt.Errorf("graphtest: %w", err)
	}
	if f.Endpoint != fault.EndpointGraph {
		return Fault{}, fmt.Errorf("graphtest: fault %q: the fake Graph's faults start with graph (fakeidp.ParseFault reads the other endpoints)", spec)
	}
	return f, nil
}

// writeFault answers with f's status as Graph would. Serve has set
// Retry-After.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f.Status {
	case http.StatusUnauthorized:
		claims := f.Claims
		if claims == "" {
			claims = `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(s.clock().Unix(), 10) + `"}}}`
		}
		// The challenge format of learn.microsoft.com/entra/identity-platform/claims-challenge.
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="`+
			base64.StdEncoding.EncodeToString([]byte(claims))+`"`)
		s.writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken",
			"Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
	case http.StatusTooManyRequests:
		s.writeError(w, r, f.Status, "TooManyRequests", "Too many requests to this tenant; retry after the time in Retry-After.")
	case http.StatusServiceUnavailable:
		s.writeError(w, r, f.Status, "ServiceUnavailable", "The service is temporarily unavailable; retry after the time in Retry-After.")
	default:
		s.writeError(w, r, f.Status, "UnknownError", http.StatusText(f.Status))
	}
}
