// Package assertion yields the client assertions that federated credentials
// trade for Microsoft Entra access tokens: JWTs for the audience
// api://AzureADTokenExchange (or a national cloud's) from a managed identity,
// a projected token file, GitHub Actions or any other OIDC issuer.
//
// A workload usually needs one call:
//
//	src, err := assertion.FromEnvironment()
//	if err != nil { ... }
//	a, err := assertion.Cached(src).Assertion(ctx)
//
// The sources: [AppService] (App Service and Functions), [IMDS] (virtual
// machines, scale sets, containers that reach the instance metadata service),
// [AzureArc] (Arc-enabled servers outside Azure), [WorkloadFile] (the
// projected token of AKS workload identity), [GitHubActions] (a workflow
// job's OIDC token), [Static] and [Func] (tests and anything else), and
// [FromEnvironment], which picks one of the platform sources the way the
// Azure SDKs detect their platform. No source caches; [Cached] adds a
// lock-free cache with one shared fetch per miss.
//
// Managed-identity sources select a user-assigned identity with one typed
// value, [ClientID], [ObjectID] or [ResourceID], in their ID option. Every
// source asks for the token-exchange audience of its cloud (public, US
// Government, China): its Resource option, else its Cloud option, else the
// cloud AZURE_AUTHORITY_HOST names ([TokenExchangeAudience]).
//
// Assertions are secrets. No error, log message or String() of this package
// contains a token or a managed-identity header value. Failed responses from a
// managed-identity endpoint are reported as *[ResponseError] (use [errors.As];
// the message text is not a contract).
//
// Logging: HTTP sources take a Logger option, a listener with the signature of
// [log.SetListener], and write [EventAssertion] entries to it. azcore keeps
// its own writer internal to the Azure SDK, so a listener passed to both sees
// every SDK entry and ours.
package assertion

import (
	"context"
	"fmt"
	"time"
)

// Assertion is a signed JWT that proves the workload's identity to Entra.
type Assertion struct {
	// Token is the JWT. It is a secret: it is never logged and never part of an
	// error string.
	Token string
	// ExpiresOn is when Token stops being accepted; zero when unknown, in which
	// case [Cached] reads the JWT's exp claim.
	ExpiresOn time.Time
}

// String describes the assertion without its token, so that printing an
// Assertion with fmt (%v, %+v, %s) never reveals the secret.
func (a Assertion) String() string {
	if a.Token == "" {
		return "assertion.Assertion{empty}"
	}
	if a.ExpiresOn.IsZero() {
		return "assertion.Assertion{Token: [redacted], ExpiresOn: unknown}"
	}
	return fmt.Sprintf("assertion.Assertion{Token: [redacted], ExpiresOn: %s}", a.ExpiresOn.UTC().Format(time.RFC3339))
}

// GoString is String for %#v.
func (a Assertion) GoString() string { return a.String() }

// Source yields assertions.
//
// Implementations are safe for concurrent use. A Source does not cache unless
// its documentation says so; wrap it with [Cached] to reuse assertions until
// they near expiry.
type Source interface {
	Assertion(ctx context.Context) (Assertion, error)
}
