// Package jwks is the one implementation of a resource server's trusted key
// set for the fakes of this module (graphtest's Graph, armtest's Resource
// Manager): the RSA keys of a JWKS document, fetched from the issuer on first
// use and again when a token names an unknown kid (key rotation), at most
// once per [RefetchInterval], bounded in time and size.
//
//	keys, err := jwks.New(idp.KeysURL(), idp.Client(), nil, time.Now)
//	_, err = jwt.ParseWithClaims(tok, &claims, keys.Keyfunc, jwt.WithValidMethods([]string{"RS256"}))
package jwks

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
)

// RefetchInterval is the least time between two fetches of the key set
// caused by an unknown kid: a token with a made-up kid must not turn a fake
// into a request amplifier against the issuer.
const RefetchInterval = 5 * time.Second

// maxBytes and fetchTimeout bound one fetch of the key set.
const (
	maxBytes     = 1 << 20
	fetchTimeout = 10 * time.Second
)

// Keys holds the trusted RSA keys by kid. It is safe for concurrent use.
type Keys struct {
	url       string
	transport policy.Transporter
	clock     func() time.Time

	mu        sync.Mutex
	static    map[string]*rsa.PublicKey
	fetched   map[string]*rsa.PublicKey
	lastFetch time.Time
	everFetch bool
}

// New returns the key set of the JWKS at url (fetched through transport,
// nil meaning http.DefaultClient; "" fetches nothing) and of the static JWKS
// document (may be empty). clock (nil: time.Now) paces the refetches.
func New(url string, transport policy.Transporter, static []byte, clock func() time.Time) (*Keys, error) {
	if transport == nil {
		transport = http.DefaultClient
	}
	if clock == nil {
		clock = time.Now
	}
	ks := &Keys{url: url, transport: transport, clock: clock}
	if len(static) > 0 {
		keys, err := Parse(static)
		if err != nil {
			return nil, err
		}
		ks.static = keys
	}
	return ks, nil
}

// Keyfunc is a jwt.Keyfunc: the key the token's kid names.
func (ks *Keys) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid")
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	// An unknown kid is how a rotation shows; refetch, but not too often.
	if ks.url != "" && (!ks.everFetch || ks.clock().Sub(ks.lastFetch) >= RefetchInterval) {
		ks.lastFetch = ks.clock()
		ks.everFetch = true
		keys, err := ks.fetch()
		if err != nil {
			return nil, err
		}
		ks.fetched = keys
		if k := ks.lookup(kid); k != nil {
			return k, nil
		}
	}
	return nil, errors.New("unknown kid")
}

func (ks *Keys) lookup(kid string) *rsa.PublicKey {
	if k := ks.static[kid]; k != nil {
		return k
	}
	return ks.fetched[kid]
}

func (ks *Keys) fetch() (map[string]*rsa.PublicKey, error) {
	// Bounded in time as in size: a stuck issuer must not hold every request.
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	resp, err := ks.transport.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch keys: status %d", resp.StatusCode)
	}
	body, err := bodylimit.Read(resp.Body, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	return Parse(body)
}

// Parse reads the RSA keys of a JWKS document by kid; other key types and
// keys without a kid are skipped.
func Parse(doc []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("parse JWKS: key %q: bad modulus or exponent", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}
