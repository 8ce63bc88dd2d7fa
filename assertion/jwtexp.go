package assertion

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// errNoExp reports a JWT without an exp claim.
var errNoExp = errors.New("the JWT has no exp claim")

// unverified parses JWTs without checking signatures. That is deliberate: this
// package is the bearer of the token, not its audience. Entra verifies the
// signature against the issuer's published keys when the assertion is
// presented; we hold no keys and need only the expiry to decide when to fetch
// a new one. Nothing read here is trusted for an authorization decision.
var unverified = jwt.NewParser(jwt.WithoutClaimsValidation())

// jwtExpiry returns the exp claim of token. The error never contains the token.
func jwtExpiry(token string) (time.Time, error) {
	var claims jwt.RegisteredClaims
	if _, _, err := unverified.ParseUnverified(token, &claims); err != nil {
		return time.Time{}, errors.New("not a JWT (" + jwtErrorKind(err) + ")")
	}
	if claims.ExpiresAt == nil {
		return time.Time{}, errNoExp
	}
	return claims.ExpiresAt.Time, nil
}

// jwtErrorKind names what was wrong with a token without quoting any of it.
// golang-jwt's messages can wrap JSON decoder errors that echo input
// characters, so only the sentinel is kept.
func jwtErrorKind(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "invalid claims"
	default:
		return "unreadable"
	}
}
