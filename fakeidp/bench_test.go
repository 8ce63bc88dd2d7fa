package fakeidp

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkTokenIssuance is the token endpoint's throughput over HTTPS
// loopback: parse the form, verify the assertion (one RS256 verification),
// sign the access token (one RS256 signature), answer. Compare with
// BenchmarkRS256Sign, the cost of the signature alone.
func BenchmarkTokenIssuance(b *testing.B) {
	s := newServer(b, nil, nil)
	a := miAssertion(b, s, systemIdentity(s))
	body := assertionForm(DefaultAppClientID, a)
	c := s.Client()
	u := s.URL() + "/" + DefaultConsentedTenantID + "/oauth2/v2.0/token"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.PostForm(u, url.Values(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkRS256Sign is one RS256 signature with a 2048-bit key: the physical
// limit of token issuance per core.
func BenchmarkRS256Sign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	claims := jwt.MapClaims{"aud": graphResource, "iss": "https://sts.windows.net/t/", "sub": "s", "exp": 1, "roles": []string{"Device.Read.All"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}
