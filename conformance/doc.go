// Package conformance checks that an [assertion.Source] or an
// [azcore.TokenCredential] keeps the promises the rest of tenantbridge relies
// on: it returns a usable, unexpired JWT; it is safe for concurrent use; it
// gives up when its context is cancelled; and no error or String() it
// produces contains the token. Run it in CI against your own implementation:
//
//	func TestMySource(t *testing.T) {
//		conformance.TestSource(t, func(t *testing.T) assertion.Source {
//			return mySource(t) // a fresh instance, e.g. against a fake
//		}, nil)
//	}
//
// Like [testing/fstest.TestFS] and [testing/slogtest], the harness ([TestSource],
// [TestCredential]) takes a factory, runs named subtests on fresh instances,
// reports every failure it finds rather than stopping at the first, and checks
// optional capabilities ([fmt.Stringer], [fmt.GoStringer], [log/slog.LogValuer])
// only when the implementation has them.
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
