package graphtest

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Graph accepts its tokens for either of these audiences: the resource URI and
// the app ID of Microsoft Graph.
var graphAudiences = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}

// deviceRoles are the application permissions that let an app read /devices
// (learn.microsoft.com/graph/api/device-list, "Permissions").
var deviceRoles = []string{"Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

// clockSkew is the leeway on exp and nbf.
const clockSkew = time.Minute

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
	_, err := jwt.ParseWithClaims(tok, &c, s.keys.Keyfunc,
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
