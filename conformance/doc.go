// Package conformance checks that an [assertion.Source] or an
// [azcore.TokenCredential] keeps the promises the rest of tenantbridge relies
// on: it returns a usable, unexpired JWT that its issuer would accept; it is safe for concurrent use; it
// gives up when its context is cancelled; and no error or String() it
// produces contains the token. Run it in CI against your own implementation:
//
//	func TestMySource(t *testing.T) {
//		conformance.TestSource(t, func(t *testing.T) assertion.Source {
//			return mySource(t) // a fresh instance, e.g. against a fake
//		}, nil)
//	}
//
// The harness comes in two forms, after the standard library's. [TestSource]
// and [TestCredential] are shaped like [testing/slogtest.Run]: they take a
// factory, run named subtests on fresh instances, report every failure they
// find rather than stopping at the first, skip (t.Skip, with the reason) a
// check they cannot perform, and check optional capabilities ([fmt.Stringer],
// [fmt.GoStringer], [log/slog.LogValuer]) only when the implementation has
// them. [CheckSource] and [CheckCredential] run the same checks outside go
// test and return an error, as [testing/fstest.TestFS] and
// [testing/slogtest.TestHandler] do: nil when every check passed, else one
// [*CheckError] per check that failed or was skipped, joined. A skipped check
// is never reported as passed: errors.Is(err, [ErrSkipped]) says some were,
// [Failed] whether any check failed.
//
// Beyond the shape of a token, a source's assertion must be what its issuer
// would accept (IssuerSignature: alg RS256, a kid the issuer publishes, a
// valid signature, the keys discovered from the JWT's iss or given in
// [SourceOptions].Keys) and, when a token endpoint that trusts the source is
// given, what Entra would exchange (TokenExchange). A done context must end a
// call within [SourceOptions].CancelLatency (1 s by default), separate from
// the Timeout that abandons calls which never return. A credential is checked
// for what azcore clients rely on, each where the options make it checkable:
// caching, concurrent cold callers sharing one request, claims challenges
// bypassing the cache, refresh before expiry, disallowed tenants refused
// before the network, and Entra's failures surfacing with their AADSTS code.
//
// Passing proves less than it seems. The checks observe behaviour from the
// outside, on the inputs the factory allows: a source that leaks its token
// only in a retry path the test never reaches, or races only under load, still
// passes (false negatives). Data races are found only when the test binary is
// built with -race, so run it with go test -race. A failure, on the other
// hand, is always a real broken promise.
//
// The same suites run against real Azure in conformance/live_test.go, which is
// compiled only with the build tag "live" (go test -tags live ./conformance)
// and then fails, rather than skips, when TENANTBRIDGE_LIVE is not 1 or an
// Azure setting it needs is missing.
package conformance
