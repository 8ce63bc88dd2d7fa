package leak

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	const (
		jwt    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbg"
		opaque = "access-token-7"
		header = "hdr-7f3a9c"
	)
	cases := []struct {
		name    string
		in      any
		secrets []string
		want    string
	}{
		{"jwt anywhere", "token " + jwt + " issued", nil, "token [jwt redacted] issued"},
		{"explicit secret", "bearer " + opaque, []string{opaque}, "bearer [redacted]"},
		{"empty secret ignored", "plain text", []string{""}, "plain text"},
		{"signature of a cut token", "…" + jwt[strings.LastIndex(jwt, "."):], []string{jwt}, "….[redacted]"},
		{"export line", "export IDENTITY_HEADER='" + header + "'", nil, "export IDENTITY_HEADER=[redacted]"},
		{"env file line", "MSI_SECRET=" + header, nil, "MSI_SECRET=[redacted]"},
		{"other variables stay", "IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token", nil, "IDENTITY_ENDPOINT=http://127.0.0.1:1/msi/token"},
		{"non-string", map[string]string{"access_token": jwt}, nil, "map[access_token:[jwt redacted]]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in, tc.secrets...)
			if got != tc.want {
				t.Errorf("Redact = %q, want %q", got, tc.want)
			}
			if strings.Contains(got, "eyJ") || strings.Contains(got, header) {
				t.Error("Redact left a secret in place")
			}
		})
	}
}

func TestClip(t *testing.T) {
	const (
		jwt    = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbg"
		secret = "hdr-7f3a9c-0123456789"
	)
	cases := []struct {
		name    string
		in      string
		limit   int
		secrets []string
		want    string
	}{
		{"short text unchanged", "short", 10, nil, "short"},
		{"exactly the limit", "0123456789", 10, nil, "0123456789"},
		{"cut and marked", "abcdefghij", 8, nil, "abcdefgh…"},
		{"cut on a rune boundary", "ééééé", 7, nil, "ééé…"},
		{"control characters", "a\nb\tc\x00d\x7fe\u0085f", 20, nil, "a b c d e f"},
		{"line separators and bidi overrides", "a\u2028b\u2029c\u202ed", 20, nil, "a b c d"},
		{"invalid UTF-8", "a\xffb", 10, nil, "a\uFFFDb"},
		{"JWT redacted", "got " + jwt, 100, nil, "got [jwt redacted]"},
		{"secret redacted", "header " + secret + " rejected", 100, []string{secret}, "header [redacted] rejected"},
		// Redacted before the cut: a secret straddling the limit leaves no
		// fragment behind (cutting first would keep its first bytes).
		{"secret straddling the cut", "xxxxxx" + secret, 12, []string{secret}, "xxxxxx[redac…"},
		{"JWT straddling the cut", "xx" + jwt, 10, nil, "xx[jwt red…"},
		{"zero limit", "abc", 0, nil, "…"},
		{"empty", "", 5, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Clip(tc.in, tc.limit, tc.secrets...)
			if got != tc.want {
				t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q is not valid UTF-8", tc.in, tc.limit, got)
			}
			if len(got) > max(tc.limit, 0)+len("…") {
				t.Errorf("Clip(%q, %d) is %d bytes", tc.in, tc.limit, len(got))
			}
		})
	}
}
