package leak

import (
	"strings"
	"testing"
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
