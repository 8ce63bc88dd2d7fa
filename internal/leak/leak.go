// Package leak hides secrets in text meant for people: log lines, errors,
// harness reports and test failure messages. Tokens are bearer credentials,
// so a CI log that prints one hands it to everyone who can read the log; every
// place in this module that prints text which might hold a token passes it
// through [Redact] first, and text it did not write itself (a server's answer,
// a panic value) through [Clip], which redacts, strips control characters and
// bounds the length.
//
//	msg := leak.Clip(resp.Description, 512, assertionToken)
package leak

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
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

// clipMarker ends text that [Clip] cut short.
const clipMarker = "…"

// Clip makes text from the network (or a panic value, or anything else a
// program did not write itself) fit for an error message or a log line
// (habit 16): it redacts secrets and JWT-shaped text as [Redact] does,
// replaces control characters with spaces (a newline would forge a log line;
// bidirectional overrides and the Unicode line separators would disguise
// one) and invalid UTF-8 with U+FFFD, and keeps at most limit bytes, cut on a
// rune boundary and marked with "…". Redaction comes first, so no fragment of
// a secret that straddles the cut survives it.
func Clip(s string, limit int, secrets ...string) string {
	s = strings.Map(printable, Redact(s, secrets...))
	if len(s) <= limit {
		return s
	}
	cut := max(0, limit)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + clipMarker
}

// printable maps the runes Clip replaces to a space. strings.Map has already
// turned each invalid UTF-8 byte into U+FFFD.
func printable(r rune) rune {
	if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
		return ' '
	}
	return r
}
