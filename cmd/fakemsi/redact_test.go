package main

import (
	"strings"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// redact formats a value (fakemsi's stdout or stderr, a log, lines of the
// environment block) for a failure message: the export lines carry the
// identity header, and output that goes wrong may carry a token.
var redact = leak.Redact

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
