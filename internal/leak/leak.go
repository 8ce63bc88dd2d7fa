// Package leak hides secrets in text meant for people: log lines, harness
// reports and test failure messages. Tokens are bearer credentials, so a CI
// log that prints one hands it to everyone who can read the log; every place
// in this module that prints text which might hold a token passes it through
// Redact first.
package leak

import (
	"fmt"
	"regexp"
	"strings"
)

// JWT matches a compact JWS (header.payload.signature) whose header starts
// with `{"` as every JOSE header does, which is "eyJ" in base64url.
var JWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)

// envSecret matches the managed-identity secret in an environment dump, as an
// export line (IDENTITY_HEADER='...') or a KEY=VALUE line.
var envSecret = regexp.MustCompile(`\b((?:IDENTITY_HEADER|MSI_SECRET)=)('[^']*'|"[^"]*"|[^\s"']*)`)

// Redact formats v (a string as is, anything else with fmt.Sprint) and
// replaces every given secret, the signature part of any secret that is a
// JWT (a token cut short still identifies itself by it), the value of
// IDENTITY_HEADER and MSI_SECRET assignments, and every JWT-shaped substring.
func Redact(v any, secrets ...string) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, "[redacted]")
		if i := strings.LastIndexByte(sec, '.'); i >= 0 && len(sec)-i > 16 {
			s = strings.ReplaceAll(s, sec[i+1:], "[redacted]")
		}
	}
	s = envSecret.ReplaceAllString(s, "${1}[redacted]")
	return JWT.ReplaceAllString(s, "[jwt redacted]")
}
