package graphlite_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
)

const (
	tenantA = "aaaaaaaa-0000-4000-8000-00000000000a" // consented Device.Read.All
	tenantB = "bbbbbbbb-0000-4000-8000-00000000000b" // consented nothing
	tenantC = "cccccccc-0000-4000-8000-00000000000c"
	testKid = "test-key-1"
)

// The signing key is made once: RSA generation is slow under -race.
var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// jwksServer publishes the signing key over HTTPS, as fakeidp would.
func jwksServer() *httptest.Server {
	k := signingKey()
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "kid": testKid,
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}})
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
}

// testCredential is an azcore.TokenCredential that signs Graph-shaped app
// tokens for one tenant, and remembers what it was asked and what it issued.
type testCredential struct {
	tenant string
	roles  []string
	aud    string // default https://graph.microsoft.com

	mu     sync.Mutex
	asked  []policy.TokenRequestOptions
	issued []string
}

func newCredential(tenant string, roles ...string) *testCredential {
	return &testCredential{tenant: tenant, roles: roles}
}

func (c *testCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	now := time.Now()
	exp := now.Add(time.Hour)
	aud := c.aud
	if aud == "" {
		aud = "https://graph.microsoft.com"
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": aud, "iss": "https://sts.windows.net/" + c.tenant + "/",
		"tid": c.tenant, "roles": c.roles, "idtyp": "app", "appid": "11111111-2222-3333-4444-555555555555",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
	})
	tok.Header["kid"] = testKid
	s, err := tok.SignedString(signingKey())
	if err != nil {
		return azcore.AccessToken{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, opts)
	c.issued = append(c.issued, s)
	return azcore.AccessToken{Token: s, ExpiresOn: exp}, nil
}

func (c *testCredential) requests() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]policy.TokenRequestOptions(nil), c.asked...)
}

func (c *testCredential) tokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.issued...)
}

// multiTenant stands in for federated.Credential: one credential, a view per tenant.
type multiTenant struct {
	mu    sync.Mutex
	roles map[string][]string
	views map[string]*testCredential
}

func (m *multiTenant) ForTenant(tenant string) azcore.TokenCredential {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.views == nil {
		m.views = map[string]*testCredential{}
	}
	if m.views[tenant] == nil {
		m.views[tenant] = newCredential(tenant, m.roles[tenant]...)
	}
	return m.views[tenant]
}

// startGraph starts a graphtest server trusting the test key.
func startGraph(tb testing.TB, opts graphtest.Options) *graphtest.Server {
	tb.Helper()
	keys := jwksServer()
	tb.Cleanup(keys.Close)
	opts.KeysURL = keys.URL + "/common/discovery/v2.0/keys"
	opts.Transport = keys.Client()
	srv, err := graphtest.New(&opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return srv
}

// waits records the throttle waits instead of sleeping.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) wait(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ds = append(w.ds, d)
	return ctx.Err()
}

func (w *waits) got() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.ds...)
}

// newClient returns a client of srv that records throttle waits in w (if not nil).
func newClient(tb testing.TB, srv *graphtest.Server, cred azcore.TokenCredential, w *waits, mod func(*graphlite.Options)) *graphlite.Client {
	tb.Helper()
	opts := &graphlite.Options{BaseURL: srv.URL() + "/v1.0"}
	opts.Transport = srv.Client()
	opts.Retry.RetryDelay = time.Millisecond
	if w != nil {
		opts.Throttle.Wait = w.wait
	}
	if mod != nil {
		mod(opts)
	}
	c, err := graphlite.New(cred, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func scenarioDevices() []map[string]any {
	return []map[string]any{
		{"id": "d-1", "deviceId": "dev-1", "displayName": "Alice's Laptop", "operatingSystem": "Windows", "operatingSystemVersion": "10.0.26100", "accountEnabled": true, "trustType": "AzureAd", "isCompliant": true, "isManaged": true, "approximateLastSignInDateTime": "2026-11-20T08:30:00Z"},
		{"id": "d-2", "deviceId": "dev-2", "displayName": "alice phone", "operatingSystem": "iOS", "accountEnabled": true, "trustType": "Workplace", "isCompliant": false, "isManaged": true},
		{"id": "d-3", "deviceId": "dev-3", "displayName": "Bob's Laptop", "operatingSystem": "Windows", "accountEnabled": false, "trustType": "ServerAd", "isCompliant": nil, "isManaged": false},
		{"id": "d-4", "deviceId": "dev-4", "displayName": "Build agent", "operatingSystem": "Linux", "accountEnabled": true, "trustType": "AzureAd"},
	}
}

// containsAny reports whether s contains any of the secrets, without printing them.
func containsAny(s string, secrets []string) bool {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			return true
		}
	}
	return false
}
