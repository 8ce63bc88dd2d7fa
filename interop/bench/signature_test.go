package bench

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkRS256Signature is the cost of signing one token the way fakeidp
// does (RS256, 2048-bit key). Every managed-identity and access token the
// fake issues pays it once, so it is the floor under the cold benchmarks
// (BenchmarkFirstToken, Benchmark100Tenants): on loopback the fake's
// signatures, not the network, dominate a round trip.
func BenchmarkRS256Signature(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	claims := jwt.MapClaims{
		"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/22222222-2222-2222-2222-222222222222/",
		"tid": "22222222-2222-2222-2222-222222222222", "roles": []string{"Device.Read.All"},
		"exp": time.Now().Add(time.Hour).Unix(),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}
