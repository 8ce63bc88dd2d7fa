package graphtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

// Keys are made once per test binary: RSA generation is slow under -race.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var keys []*rsa.PrivateKey
	for range 3 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys
})

// issuer is a stand-in for fakeidp: a JWKS over HTTPS and a token signer.
type issuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey // published
	fetches atomic.Int32
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := &issuer{keys: map[string]*rsa.PrivateKey{"k1": testKeys()[0]}}
	is.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		var doc struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range is.keys {
			doc.Keys = append(doc.Keys, map[string]string{
				"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) publish(kid string, k *rsa.PrivateKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = k
}

// claims are Graph-shaped app-only token claims.
func claims(tid string, now time.Time, roles ...string) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/" + tid + "/",
		"tid": tid, "roles": roles, "idtyp": "app", "appid": "11111111-1111-1111-1111-111111111111",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign makes an RS256 token; t may be nil (in examples), then it panics.
func sign(t *testing.T, kid string, key *rsa.PrivateKey, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
	}
	return s
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const (
	tenantA = "aaaaaaaa-0000-4000-8000-00000000000a"
	tenantB = "bbbbbbbb-0000-4000-8000-00000000000b"
)

// scenarioDevices is a small fixed tenant.
func scenarioDevices() []map[string]any {
	return []map[string]any{
		{"id": "d-1", "deviceId": "dev-1", "displayName": "Alice's Laptop", "operatingSystem": "Windows", "accountEnabled": true, "trustType": "AzureAd", "isCompliant": true, "isManaged": true},
		{"id": "d-2", "deviceId": "dev-2", "displayName": "alice phone", "operatingSystem": "iOS", "accountEnabled": true, "trustType": "Workplace", "isCompliant": false, "isManaged": true},
		{"id": "d-3", "deviceId": "dev-3", "displayName": "Bob's Laptop", "operatingSystem": "Windows", "accountEnabled": false, "trustType": "ServerAd", "isCompliant": nil, "isManaged": false},
		{"id": "d-4", "deviceId": "dev-4", "displayName": "Build agent", "operatingSystem": "Linux", "accountEnabled": true, "trustType": "AzureAd"},
	}
}

// env is a graphtest server that trusts an issuer.
type env struct {
	is    *issuer
	clock *fakeClock
	srv   *graphtest.Server
}

func newEnv(t *testing.T, opts graphtest.Options) *env {
	t.Helper()
	e := &env{is: newIssuer(t), clock: &fakeClock{now: t0}}
	opts.KeysURL = e.is.srv.URL + "/common/discovery/v2.0/keys"
	opts.Transport = e.is.srv.Client()
	opts.Clock = e.clock.Now
	srv, err := graphtest.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

// token is a valid Device.Read.All token for tid.
func (e *env) token(t *testing.T, tid string) string {
	return sign(t, "k1", testKeys()[0], claims(tid, e.clock.Now(), "Device.Read.All"))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %.200s", err, r.body)
	}
	return m
}

// errorCode returns error.code and error.message of a Graph error body.
func (r response) errorCode(t *testing.T) (string, string) {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return code, msg
}

func (e *env) do(t *testing.T, method, pathAndQuery, token string, header map[string]string, body string) response {
	t.Helper()
	u := pathAndQuery
	if !strings.HasPrefix(u, "https://") {
		u = e.srv.URL() + pathAndQuery
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}
