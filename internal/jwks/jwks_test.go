package jwks

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var ks [2]*rsa.PrivateKey
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			panic(err)
		}
		ks[i] = k
	}
	return ks
})

func doc(keys map[string]*rsa.PrivateKey) []byte {
	var d struct {
		Keys []map[string]string `json:"keys"`
	}
	d.Keys = append(d.Keys, map[string]string{"kty": "EC", "kid": "ec", "crv": "P-256"}) // skipped
	for kid, k := range keys {
		d.Keys = append(d.Keys, map[string]string{"kty": "RSA", "kid": kid,
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
	}
	b, _ := json.Marshal(d)
	return b
}

func keyOf(t *testing.T, ks *Keys, kid string) (any, error) {
	t.Helper()
	return ks.Keyfunc(&jwt.Token{Header: map[string]any{"kid": kid}})
}

func TestKeysFetchAndRefetchPacing(t *testing.T) {
	k := testKeys()
	var mu sync.Mutex
	published := map[string]*rsa.PrivateKey{"k1": k[0]}
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Write(doc(published))
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ks, err := New(srv.URL, srv.Client(), doc(map[string]*rsa.PrivateKey{"static": k[1]}), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if key, err := keyOf(t, ks, "static"); err != nil || !key.(*rsa.PublicKey).Equal(&k[1].PublicKey) {
		t.Errorf("static key: %v", err)
	}
	if fetches.Load() != 0 {
		t.Error("a static key caused a fetch")
	}
	if key, err := keyOf(t, ks, "k1"); err != nil || !key.(*rsa.PublicKey).Equal(&k[0].PublicKey) {
		t.Errorf("fetched key: %v", err)
	}
	// A rotation shows as an unknown kid: refetched, but at most once per interval.
	mu.Lock()
	published = map[string]*rsa.PrivateKey{"k2": k[1]}
	mu.Unlock()
	if _, err := keyOf(t, ks, "k2"); err == nil || fetches.Load() != 1 {
		t.Errorf("within the interval: err %v, %d fetches; want unknown kid and 1 fetch", err, fetches.Load())
	}
	now = now.Add(RefetchInterval)
	if _, err := keyOf(t, ks, "k2"); err != nil || fetches.Load() != 2 {
		t.Errorf("after the interval: err %v, %d fetches; want k2 and 2 fetches", err, fetches.Load())
	}
	if _, err := keyOf(t, ks, ""); err == nil || !strings.Contains(err.Error(), "no kid") {
		t.Errorf("no kid: %v", err)
	}
}

func TestParseRejectsBadKeys(t *testing.T) {
	for name, d := range map[string]string{
		"not JSON":      "{",
		"bad modulus":   `{"keys":[{"kty":"RSA","kid":"a","n":"!!","e":"AQAB"}]}`,
		"huge exponent": `{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQABAQAB"}]}`,
	} {
		if _, err := Parse([]byte(d)); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }))
	defer srv.Close()
	ks, _ := New(srv.URL, srv.Client(), nil, nil)
	if _, err := keyOf(t, ks, "k"); err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Errorf("a failing issuer: %v", err)
	}
}
