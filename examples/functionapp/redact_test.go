package main

import "github.com/tenantbridge/tenantbridge/internal/leak"

// redact formats a value for a failure message with tokens and secrets
// hidden: get reports a leaked token with t.Error and goes on, so the body
// printed afterwards must not repeat it.
var redact = leak.Redact

// redact is redact with every secret the environment has seen: the identity
// header and each assertion.
func (e *env) redact(v any) string {
	e.mu.Lock()
	secrets := append([]string(nil), e.secrets...)
	e.mu.Unlock()
	return redact(v, secrets...)
}
