package interop

import (
	"fmt"
	"regexp"
	"strings"
)

// jwtShape matches a compact JWS. Failure messages quote errors of real
// clients and output of child processes; they pass through redact so that a
// test that goes wrong never prints a token or an assertion.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// secretAssignment matches the identity header in an environment dump.
var secretAssignment = regexp.MustCompile(`\b((?:IDENTITY_HEADER|MSI_SECRET)=)('[^']*'|"[^"]*"|[^\s"']*)`)

// redact formats v for a failure message with JWT-shaped substrings, the
// identity header of an environment dump and the given secrets replaced.
func redact(v any, secrets ...string) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = secretAssignment.ReplaceAllString(s, "${1}[redacted]")
	return jwtShape.ReplaceAllString(s, "[jwt redacted]")
}
