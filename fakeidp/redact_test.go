package fakeidp

import (
	"fmt"
	"regexp"
	"strings"
)

// jwtShape matches a compact JWS. Failure messages pass through redact so a
// test that goes wrong never prints an issued token or assertion, even a
// fake one: the same helpers run against tokens from real clients.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// redact formats v (a string, a decoded body, a diff) for a failure message
// with JWT-shaped substrings and the given secrets replaced.
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
	return jwtShape.ReplaceAllString(s, "[jwt redacted]")
}
