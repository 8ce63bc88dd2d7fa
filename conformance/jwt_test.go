package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseJWT(t *testing.T) {
	exp := time.Unix(1800000000, 0).UTC()
	tests := []struct {
		name    string
		token   string
		wantErr string
		wantAud []string
	}{
		{"aud string", signJWT(t, jwt.MapClaims{"exp": exp.Unix(), "aud": "a", "tid": "t"}), "", []string{"a"}},
		{"aud array", signJWT(t, jwt.MapClaims{"exp": exp.Unix(), "aud": []string{"a", "b"}}), "", []string{"a", "b"}},
		{"two parts", "a.b", "3 dot-separated parts", nil},
		{"header not base64", "!!.e30.sig", "header is not base64url", nil},
		{"alg none", "eyJhbGciOiJub25lIn0.e30.sig", `alg is empty or "none"`, nil},
		{"payload not JSON", "eyJhbGciOiJIUzI1NiJ9.bm90anNvbg.sig", "payload is not a JSON object", nil},
		{"exp not a number", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOiJzb29uIn0.sig", "payload is not valid JSON", nil},
		{"exp negative", "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOi0xfQ.sig", "JWT exp: out of range", nil},
		{"empty signature", "eyJhbGciOiJIUzI1NiJ9.e30.", "empty signature", nil},
		{"aud number", "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOjF9.sig", "aud is neither", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseJWT(tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseJWT() error = %s, want %q", redactSecrets(fmt.Sprint(err), []string{tt.token}), tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.token) {
					t.Error("the error quotes the token")
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWT() error = %s", redactSecrets(fmt.Sprint(err), []string{tt.token}))
			}
			if !c.exp.Equal(exp) || strings.Join(c.audiences, " ") != strings.Join(tt.wantAud, " ") {
				t.Errorf("parseJWT() = exp %v aud %q; want exp %v aud %q", c.exp, c.audiences, exp, tt.wantAud)
			}
		})
	}
}

func BenchmarkParseJWT(b *testing.B) {
	tok := signJWT(b, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "aud": "api://AzureADTokenExchange", "tid": "t", "sub": "s"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseJWT(tok); err != nil {
			b.Fatal(err)
		}
	}
}
