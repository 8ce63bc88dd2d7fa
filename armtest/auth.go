package armtest

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audiences returns the token audiences ARM accepts: its two resource URIs,
// with and without the trailing slash (ARM's
// InvalidAuthenticationTokenAudience message lists exactly these). Every call
// returns a fresh copy.
func Audiences() []string { return slices.Clone(audiences) }

var audiences = []string{
	"https://management.core.windows.net/",
	"https://management.core.windows.net",
	"https://management.azure.com/",
	"https://management.azure.com",
}

// clockSkew is the leeway on exp and nbf.
const clockSkew = 5 * time.Minute

// principal is what a valid token tells the server.
type principal struct {
	tenant string // lower case
}

// authError is a 401 with ARM's code and message.
type authError struct {
	code, message string
	challenge     string // error_description of WWW-Authenticate
}

func (e *authError) Error() string { return e.message }

type armClaims struct {
	jwt.RegisteredClaims
	TenantID string `json:"tid"`
}

// authenticate validates the bearer token of r as ARM does: RS256 with a key
// of the trusted issuer, aud one of [Audiences], exp/nbf, and iss the v1
// issuer of tid.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, &authError{"AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
			"The authentication failed because of missing 'Authorization' header."}
	}
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return principal{}, &authError{"AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.",
			"The access token is from the wrong scheme or is missing."}
	}
	invalid := &authError{"InvalidAuthenticationToken", "The access token is invalid.", "The access token is invalid."}
	var c armClaims
	_, err := jwt.ParseWithClaims(tok, &c, s.keys.Keyfunc,
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(s.clock),
		jwt.WithLeeway(clockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(audiences...),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired) && c.ExpiresAt != nil:
		now := s.clock().UTC().Format(armTimeFormat)
		return principal{}, &authError{"ExpiredAuthenticationToken",
			"The access token expiry UTC time '" + c.ExpiresAt.UTC().Format(armTimeFormat) + "' is earlier than current UTC time '" + now + "'.",
			"The access token expired."}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return principal{}, &authError{"InvalidAuthenticationTokenAudience",
			"The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences '" + strings.Join(audiences, "','") + "'.",
			"The access token has been obtained for wrong audience or resource."}
	default:
		// A bad signature, an unknown kid, a token not valid yet: ARM does
		// not say which.
		return principal{}, invalid
	}
	if c.TenantID == "" || c.Issuer != "https://sts.windows.net/"+c.TenantID+"/" {
		return principal{}, &authError{"InvalidAuthenticationTokenTenant",
			"The access token is from the wrong issuer. It must match the tenant associated with this subscription.",
			"The access token is from the wrong issuer."}
	}
	return principal{tenant: strings.ToLower(c.TenantID)}, nil
}

// armTimeFormat is how ARM's messages write a UTC time, e.g. '5/20/2021 8:30:08 AM'.
const armTimeFormat = "1/2/2006 3:04:05 PM"
