// Package assertion yields the client assertions that federated credentials
// trade for Microsoft Entra access tokens: JWTs for the audience
// api://AzureADTokenExchange from a managed identity, a projected token file or
// any other OIDC issuer.
//
// A workload usually needs one call:
//
//	src, err := assertion.FromEnvironment()
//	if err != nil { ... }
//	a, err := assertion.Cached(src).Assertion(ctx)
package assertion

import (
	"context"
	"time"
)

// Assertion is a signed JWT that proves the workload's identity to Entra.
type Assertion struct {
	// Token is the JWT. It is a secret: it is never logged and never part of an
	// error string.
	Token string
	// ExpiresOn is when Token stops being accepted; zero when unknown, in which
	// case Cached reads the JWT's exp claim.
	ExpiresOn time.Time
}

// Source yields assertions.
//
// Implementations are safe for concurrent use. A Source does not cache unless
// its documentation says so; wrap it with Cached to reuse assertions until they
// near expiry.
type Source interface {
	Assertion(ctx context.Context) (Assertion, error)
}
