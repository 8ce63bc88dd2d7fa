package graphlite_test

import (
	"fmt"
	"regexp"
	"strings"
)

// jwtShape matches a compact JWS. Failure messages print graphlite's errors
// and answers through redact, so a regression that put a token into an error
// is reported by the leak checks without being printed by the others.
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
