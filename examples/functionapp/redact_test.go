package main

import (
	"fmt"
	"regexp"
	"strings"
)

// jwtShape matches a compact JWS. Failure messages print the handler's
// answers through redact: get reports a leaked token with t.Error and goes
// on, so the body printed afterwards must not repeat it.
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

// redact is redact with every secret the environment has seen: the identity
// header and each assertion.
func (e *env) redact(v any) string {
	e.mu.Lock()
	secrets := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	return redact(v, secrets...)
}
