package armtest

import (
	"fmt"
	"net/http"

	"github.com/tenantbridge/tenantbridge/internal/fault"
)

// Fault is the fault model every fake of this module shares ([fault.Fault];
// fakeidp.Fault and graphtest.Fault are the same type): the next Count
// matching requests (Count 0: every one until [Server.ClearFaults]) wait
// Latency, then fail with Status and ARM's error body, or get their real
// answer damaged as Body says ("reset", "truncated", "malformed",
// "oversize").
//
// On this server a fault matches when its Endpoint is "arm" or "" and, if
// Path is set, the request's path contains Path. It applies after the
// api-version and the token have been checked. Status 429 answers
// TooManyRequests, 503 ServiceUnavailable; RetryAfter is sent in whole
// seconds, rounded up.
type Fault = fault.Fault

// AddFault queues f. Faults apply in the order added, one fault per request.
func (s *Server) AddFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// ParseFault reads the command-line form of a [Fault], the syntax of
// fakemsi's --fault: "arm", then colon-separated items (a status such as
// 429, "retry-after=S", "count=N", "path=TEXT", "latency=D", "reset",
// "body=truncated|malformed|oversize"). Examples: "arm:429:retry-after=2:count=1",
// "arm:503:path=/resourcegroups".
func ParseFault(spec string) (Fault, error) {
	f, err := fault.Parse(spec)
	if err != nil {
		return Fault{}, fmt.Errorf("armtest: %w", err)
	}
	if f.Endpoint != fault.EndpointARM {
		return Fault{}, fmt.Errorf("armtest: fault %q: the fake Resource Manager's faults start with arm (fakeidp.ParseFault and graphtest.ParseFault read the other endpoints)", spec)
	}
	return f, nil
}

// writeFault answers with f's status as ARM would. fault.Serve has set
// Retry-After.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f.Status {
	case http.StatusTooManyRequests:
		s.writeError(w, r, f.Status, "TooManyRequests", "The request is being throttled; retry after the time in Retry-After.")
	case http.StatusServiceUnavailable:
		s.writeError(w, r, f.Status, "ServiceUnavailable", "The service is temporarily unavailable; retry after the time in Retry-After.")
	case http.StatusUnauthorized:
		s.writeError(w, r, f.Status, "InvalidAuthenticationToken", "The access token is invalid.")
	default:
		s.writeError(w, r, f.Status, "InternalServerError", http.StatusText(f.Status))
	}
}
