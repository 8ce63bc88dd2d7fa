package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// testKey signs the JWTs of these tests. The harness never verifies
// signatures, so a symmetric key is enough.
var testKey = []byte("conformance-test-key-0123456789abcdef")

func signJWT(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var jwtSerial atomic.Int64

// validJWT returns a distinct JWT for api://AzureADTokenExchange that expires
// at exp.
func validJWT(t testing.TB, exp time.Time) string {
	return signJWT(t, jwt.MapClaims{
		"iss": "https://issuer.example/",
		"sub": "subject",
		"aud": assertion.ResourceAzurePublic,
		"exp": exp.Unix(),
		"nbf": exp.Add(-time.Hour).Unix(),
		"jti": fmt.Sprint(jwtSerial.Add(1)),
	})
}

func TestSourceAcceptsOurSources(t *testing.T) {
	opts := &SourceOptions{Audience: assertion.ResourceAzurePublic}
	t.Run("Static", func(t *testing.T) {
		tok := validJWT(t, time.Now().Add(time.Hour))
		TestSource(t, func(*testing.T) assertion.Source { return assertion.Static(tok) }, opts)
	})
	t.Run("Func", func(t *testing.T) {
		TestSource(t, func(t *testing.T) assertion.Source {
			return assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
				if err := ctx.Err(); err != nil {
					return assertion.Assertion{}, fmt.Errorf("minting: %w", err)
				}
				exp := time.Now().Add(time.Hour).Truncate(time.Second)
				return assertion.Assertion{Token: validJWT(t, exp), ExpiresOn: exp}, nil
			})
		}, opts)
	})
	t.Run("Cached", func(t *testing.T) {
		tok := validJWT(t, time.Now().Add(time.Hour))
		TestSource(t, func(*testing.T) assertion.Source { return assertion.Cached(assertion.Static(tok)) }, opts)
	})
}

// Deliberately broken sources. Each must be caught by the named check, and
// only the checks that look at the broken property may fail.

type leakyError struct{ tok string }

func (s leakyError) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if err := ctx.Err(); err != nil {
		return assertion.Assertion{}, fmt.Errorf("source holding %s: %w", s.tok, err)
	}
	return assertion.Assertion{Token: s.tok}, nil
}

type ignoresContext struct{ tok string }

func (s ignoresContext) Assertion(context.Context) (assertion.Assertion, error) {
	return assertion.Assertion{Token: s.tok}, nil
}

// blocksForever ignores its context and waits until release is closed, like
// an HTTP source without a timeout talking to a silent endpoint.
type blocksForever struct{ release chan struct{} }

func (s blocksForever) Assertion(context.Context) (assertion.Assertion, error) {
	testwait.Hold(s.release)
	return assertion.Assertion{}, errors.New("released")
}

type unwrappedCtxError struct{ tok string }

func (s unwrappedCtxError) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if ctx.Err() != nil {
		return assertion.Assertion{}, errors.New("request cancelled") // %v instead of %w
	}
	return assertion.Assertion{Token: s.tok}, nil
}

type leakyString struct{ tok string }

func (s leakyString) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if err := ctx.Err(); err != nil {
		return assertion.Assertion{}, err
	}
	return assertion.Assertion{Token: s.tok}, nil
}
func (s leakyString) String() string { return "source(" + s.tok + ")" }

// fieldHolder has no String method, so %v prints its fields: the token.
type fieldHolder struct{ Last string }

func (s *fieldHolder) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if err := ctx.Err(); err != nil {
		return assertion.Assertion{}, err
	}
	return assertion.Assertion{Token: s.Last}, nil
}

type fixed struct{ a assertion.Assertion }

func (s fixed) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if err := ctx.Err(); err != nil {
		return assertion.Assertion{}, err
	}
	return s.a, nil
}

func TestSourceChecksCatchBrokenSources(t *testing.T) {
	now := time.Now()
	good := validJWT(t, now.Add(time.Hour))
	expired := validJWT(t, now.Add(-time.Minute))
	noExp := signJWT(t, jwt.MapClaims{"aud": assertion.ResourceAzurePublic})
	otherAud := signJWT(t, jwt.MapClaims{"aud": "api://something-else", "exp": now.Add(time.Hour).Unix()})
	unsigned := strings.Join(strings.Split(good, ".")[:2], ".") + "."

	tests := []struct {
		name  string
		src   assertion.Source
		check string // the check that must fail
		want  string // in one of its errors
	}{
		{"error contains the token", leakyError{good}, "ErrorsDoNotLeakToken", "contains a token"},
		{"ignores a cancelled context", ignoresContext{good}, "CancelledContext", "returned no error"},
		{"ignores an expired deadline", ignoresContext{good}, "DeadlineExceeded", "returned no error"},
		{"blocks past cancellation", blocksForever{make(chan struct{})}, "CancelDuringCall", "did not return within"},
		{"context error not wrapped", unwrappedCtxError{good}, "CancelledContext", "does not wrap context canceled"},
		{"expired JWT", fixed{assertion.Assertion{Token: expired}}, "Assertion", "expired at"},
		{"expired JWT, repeated", fixed{assertion.Assertion{Token: expired}}, "Repeated", "expired at"},
		{"expired JWT, concurrent", fixed{assertion.Assertion{Token: expired}}, "Concurrent", "expired at"},
		{"ExpiresOn after exp", fixed{assertion.Assertion{Token: good, ExpiresOn: now.Add(2 * time.Hour)}}, "Assertion", "later than the JWT's exp"},
		{"ExpiresOn in the past", fixed{assertion.Assertion{Token: good, ExpiresOn: now.Add(-time.Hour)}}, "Assertion", "is not after now"},
		{"no exp", fixed{assertion.Assertion{Token: noExp}}, "Assertion", "no exp claim"},
		{"wrong audience", fixed{assertion.Assertion{Token: otherAud}}, "Assertion", "does not contain"},
		{"not a JWT", fixed{assertion.Assertion{Token: "opaque-token-value"}}, "Assertion", "not a usable JWT"},
		{"empty signature", fixed{assertion.Assertion{Token: unsigned}}, "Assertion", "empty signature"},
		{"empty token", fixed{assertion.Assertion{}}, "Assertion", "empty token"},
		{"String() contains the token", leakyString{good}, "FormattingDoesNotLeakToken", "String() of the Source contains its token"},
		{"%v shows the token field", &fieldHolder{good}, "FormattingDoesNotLeakToken", "%v of the Source contains its token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := (&SourceOptions{Audience: assertion.ResourceAzurePublic, Timeout: 50 * time.Millisecond}).withDefaults()
			if _, blocking := tt.src.(blocksForever); !blocking {
				o.Timeout = 10 * time.Second
			}
			errs := runSourceCheck(t, tt.check, tt.src, &o)
			if b, ok := tt.src.(blocksForever); ok {
				close(b.release)
			}
			if !anyContains(errs, tt.want) {
				t.Errorf("check %s reported %d error(s) %s; want one containing %q", tt.check, len(errs), redactSecrets(fmt.Sprintf("%q", errs), nil), tt.want)
			}
			for _, err := range errs {
				if containsSecret(err.Error(), good) {
					t.Error("the harness's own report contains the token")
				}
			}
		})
	}
}

// TestSourceReportsEveryFailure runs every check on a source that is broken
// in several ways at once: each broken property is reported, not only the
// first one found.
func TestSourceReportsEveryFailure(t *testing.T) {
	expired := validJWT(t, time.Now().Add(-time.Minute))
	o := (&SourceOptions{}).withDefaults()
	src := leakyString{expired} // expired, and its String() leaks
	failed := map[string]bool{}
	for _, c := range sourceChecks {
		if len(c.run(src, &o)) > 0 {
			failed[c.name] = true
		}
	}
	for _, name := range []string{"Assertion", "Repeated", "Concurrent", "ErrorsDoNotLeakToken", "FormattingDoesNotLeakToken"} {
		if !failed[name] {
			t.Errorf("check %s passed an expired source; want a failure", name)
		}
	}
	// Within one check too: three concurrent callers, three reports.
	o.Concurrency = 3
	if errs := checkSourceConcurrent(fixed{assertion.Assertion{Token: expired}}, &o); len(errs) != 3 {
		t.Errorf("Concurrent with 3 callers of an expired source reported %d error(s); want 3", len(errs))
	}
}

func TestSourceChecksPassGoodSource(t *testing.T) {
	good := validJWT(t, time.Now().Add(time.Hour))
	o := (&SourceOptions{Audience: assertion.ResourceAzurePublic}).withDefaults()
	for _, c := range sourceChecks {
		if errs := c.run(assertion.Static(good), &o); len(errs) != 0 {
			t.Errorf("check %s failed for assertion.Static: %s", c.name, redactSecrets(fmt.Sprintf("%q", errs), []string{good}))
		}
	}
}

func runSourceCheck(t *testing.T, name string, src assertion.Source, o *SourceOptions) []error {
	t.Helper()
	for _, c := range sourceChecks {
		if c.name == name {
			return c.run(src, o)
		}
	}
	t.Fatalf("no source check named %q", name)
	return nil
}

func anyContains(errs []error, s string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// failsQuotingToken returns an opaque (not JWT-shaped) token once, then
// fails with an error that quotes it.
type failsQuotingToken struct {
	tok   string
	calls *atomic.Int64
}

func (s failsQuotingToken) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if s.calls.Add(1) == 1 {
		return assertion.Assertion{Token: s.tok}, nil
	}
	return assertion.Assertion{}, fmt.Errorf("source: refresh of %s failed", s.tok)
}

// TestSourceReportRedactsALeakedToken: the Repeated check quotes the
// source's error; a token in that error is reported as a leak and replaced
// in the quote, even when it is not shaped like a JWT.
func TestSourceReportRedactsALeakedToken(t *testing.T) {
	const tok = "opaque-assertion-7c1d2e"
	o := (&SourceOptions{}).withDefaults()
	errs := runSourceCheck(t, "Repeated", failsQuotingToken{tok, new(atomic.Int64)}, &o)
	if !anyContains(errs, "Assertion failed") || !anyContains(errs, "contains a token") {
		t.Errorf("report %s; want the failure and the leak reported", redactSecrets(fmt.Sprintf("%q", errs), []string{tok}))
	}
	if containsSecret(fmt.Sprintf("%q", errs), tok) {
		t.Error("the harness's report quotes the token from the source's error")
	}
}
