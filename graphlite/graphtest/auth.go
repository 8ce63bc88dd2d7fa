package graphtest

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/internal/bodylimit"
)

// Graph accepts its tokens for either of these audiences: the resource URI and
// the app ID of Microsoft Graph.
var graphAudiences = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}

// deviceRoles are the application permissions that let an app read /devices
// (learn.microsoft.com/graph/api/device-list, "Permissions").
var deviceRoles = []string{"Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

// clockSkew is the leeway on exp and nbf.
const clockSkew = time.Minute

// maxJWKSBytes and keysFetchTimeout bound the key set fetch.
const (
	maxJWKSBytes     = 1 << 20
	keysFetchTimeout = 10 * time.Second
)

// principal is what a valid token tells the server.
type principal struct {
	tenant string
	roles  []string
}

// authError is a 401 with Graph's code InvalidAuthenticationToken.
type authError struct{ message string }

func (e *authError) Error() string { return e.message }

// Graph's messages for rejected tokens, as it words them.
const (
	msgEmpty     = "Access token is empty."
	msgMalformed = "IDX14100: JWT is not well formed, there are no dots (.)."
	msgInvalid   = "Access token validation failure."
	msgAudience  = "Access token validation failure. Invalid audience."
	msgIssuer    = "Access token validation failure. Invalid issuer."
	msgSignature = "Access token validation failure. Invalid signature."
	msgExpired   = "Lifetime validation failed, the token is expired."
	msgNotYet    = "Lifetime validation failed, the token is not yet valid."
)

type graphClaims struct {
	jwt.RegisteredClaims
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
}

// authenticate validates the bearer token of r like Graph: RS256 only, a key
// of the trusted issuer, aud, exp/nbf with a small skew, and iss matching tid.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return principal{}, &authError{msgEmpty}
	}
	tok = strings.TrimSpace(tok)
	if strings.Count(tok, ".") != 2 {
		return principal{}, &authError{msgMalformed}
	}
	var c graphClaims
	_, err := jwt.ParseWithClaims(tok, &c, s.keys.keyFunc,
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(s.clock),
		jwt.WithLeeway(clockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(graphAudiences...),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenMalformed):
		return principal{}, &authError{msgMalformed}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return principal{}, &authError{msgSignature}
	case errors.Is(err, jwt.ErrTokenExpired):
		return principal{}, &authError{msgExpired}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return principal{}, &authError{msgNotYet}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return principal{}, &authError{msgAudience}
	default:
		return principal{}, &authError{msgInvalid}
	}
	// Graph's tokens are v1.0 tokens: the issuer names the tenant in tid.
	if c.TenantID == "" || c.Issuer != "https://sts.windows.net/"+c.TenantID+"/" {
		return principal{}, &authError{msgIssuer}
	}
	return principal{tenant: strings.ToLower(c.TenantID), roles: c.Roles}, nil
}

func (p principal) hasAnyRole(roles []string) bool {
	for _, r := range p.roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// keySet holds the trusted RSA keys by kid.
type keySet struct {
	url       string
	transport policy.Transporter
	clock     func() time.Time

	mu        sync.Mutex
	static    map[string]*rsa.PublicKey
	fetched   map[string]*rsa.PublicKey
	lastFetch time.Time
	everFetch bool
}

func newKeySet(url string, transport policy.Transporter, jwks []byte, clock func() time.Time) (*keySet, error) {
	ks := &keySet{url: url, transport: transport, clock: clock}
	if len(jwks) > 0 {
		keys, err := parseJWKS(jwks)
		if err != nil {
			return nil, fmt.Errorf("graphtest: Options.JWKS: %w", err)
		}
		ks.static = keys
	}
	return ks, nil
}

func (ks *keySet) keyFunc(t *jwt.Token) (any, error) {
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
	if ks.url != "" && (!ks.everFetch || ks.clock().Sub(ks.lastFetch) >= keysRefetchInterval) {
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

func (ks *keySet) lookup(kid string) *rsa.PublicKey {
	if k := ks.static[kid]; k != nil {
		return k
	}
	return ks.fetched[kid]
}

func (ks *keySet) fetch() (map[string]*rsa.PublicKey, error) {
	// Bounded in time as in size: a stuck issuer must not hold every request.
	ctx, cancel := context.WithTimeout(context.Background(), keysFetchTimeout)
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
	body, err := bodylimit.Read(resp.Body, maxJWKSBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch keys: %w", err)
	}
	return parseJWKS(body)
}

// parseJWKS reads the RSA keys of a JWKS document; other key types are skipped.
func parseJWKS(doc []byte) (map[string]*rsa.PublicKey, error) {
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
