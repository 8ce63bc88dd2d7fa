package graphtest_test

import (
	"fmt"
	"regexp"
	"strings"
)

// jwtShape matches a compact JWS: failure messages pass through redact so a
// test that goes wrong never prints a bearer token.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// redact formats v for a failure message with JWT-shaped substrings and the
// given secrets replaced.
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
