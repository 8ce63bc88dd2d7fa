package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// secretAssignment matches the identity header in an environment block, as
// an export line (IDENTITY_HEADER='...') or a KEY=VALUE line.
var secretAssignment = regexp.MustCompile(`\b((?:IDENTITY_HEADER|MSI_SECRET)=)('[^']*'|"[^"]*"|[^\s"']*)`)

// redact formats v (fakemsi's stdout or stderr, a log, lines of the
// environment block) for a failure message: the export lines carry the
// identity header, and output that goes wrong may carry a token, so the
// header's value, the given secrets and anything shaped like a JWT are
// replaced.
func redact(v any, secrets ...string) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprintf("%q", v)
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	s = secretAssignment.ReplaceAllString(s, "${1}"+redacted)
	return jwtPattern.ReplaceAllString(s, "[jwt redacted]")
}

// TestRedactHidesSecrets checks the helper the other tests print through:
// export lines, env-file lines and JWTs lose their secret, the rest stays.
func TestRedactHidesSecrets(t *testing.T) {
	const header = "hdr-7f3a9c"
	in := []string{
		"export IDENTITY_HEADER='" + header + "'",
		"MSI_SECRET=" + header,
		`"IDENTITY_HEADER=` + header + `"`,
		"token " + testJWT + " issued",
		"export IDENTITY_ENDPOINT='http://127.0.0.1:1/msi/token'",
	}
	got := redact(in)
	if strings.Contains(got, header) || strings.Contains(got, "eyJ") {
		t.Error("redact left the identity header or a JWT in place")
	}
	for _, want := range []string{"IDENTITY_HEADER=[redacted]", "MSI_SECRET=[redacted]", "token [jwt redacted] issued", "IDENTITY_ENDPOINT='http://127.0.0.1:1/msi/token'"} {
		if !strings.Contains(got, want) {
			t.Errorf("redact output lacks %q", want)
		}
	}
	if got := redact("X-IDENTITY-HEADER: "+header, header); strings.Contains(got, header) {
		t.Error("redact left an explicit secret in place")
	}
}
