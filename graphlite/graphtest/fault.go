package graphtest

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// Fault makes the next matching requests fail the way Graph fails under load
// or after a revocation. Faults apply after the token has been validated, in
// the order they were added, one fault per request.
type Fault struct {
	// Status is the failure: http.StatusTooManyRequests (429),
	// http.StatusServiceUnavailable (503), or http.StatusUnauthorized (401),
	// which is a Continuous Access Evaluation claims challenge.
	Status int
	// RetryAfter is sent as the Retry-After header when not empty ("2", or an
	// HTTP date).
	RetryAfter string
	// Claims is the claims JSON of a 401 challenge; empty means a typical one
	// that asks for a token issued after now.
	Claims string
	// Count is how many requests fail; 0 means 1, a negative Count every
	// matching request until the server closes.
	Count int
	// Path, when set, limits the fault to requests whose path contains it.
	Path string
}

// AddFault queues f.
func (s *Server) AddFault(f Fault) {
	if f.Count == 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// takeFault returns the first queued fault that matches path, consuming one
// of its Count.
func (s *Server) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Path != "" && !strings.Contains(path, f.Path) {
			continue
		}
		got := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return got, true
	}
	return Fault{}, false
}

// writeFault answers with f as Graph would.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
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
