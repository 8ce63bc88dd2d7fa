package assertion

import "context"

// Static returns a [Source] that always yields token with an unknown expiry
// ([Cached] then reads the token's exp claim). It is meant for tests and for
// tokens obtained elsewhere; it never fails.
func Static(token string) Source { return staticSource{a: Assertion{Token: token}} }

type staticSource struct{ a Assertion }

func (s staticSource) Assertion(ctx context.Context) (Assertion, error) {
	if err := ctx.Err(); err != nil {
		return Assertion{}, err
	}
	return s.a, nil
}

// String names the source without revealing the token.
func (staticSource) String() string { return "assertion.Static" }

// Func adapts an ordinary function to [Source], for issuers this package does not
// ship (GitHub Actions OIDC, a vault, a test double). The function must be safe
// for concurrent use.
type Func func(ctx context.Context) (Assertion, error)

// Assertion calls f.
func (f Func) Assertion(ctx context.Context) (Assertion, error) { return f(ctx) }

// String names the source; a function has nothing else worth printing.
func (Func) String() string { return "assertion.Func" }

// GoString keeps %#v from printing the token.
func (s staticSource) GoString() string { return s.String() }
