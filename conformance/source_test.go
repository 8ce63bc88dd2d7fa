package conformance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// testKey signs the HS256 JWTs of these tests: tokens whose shape the
// harness checks, or that it must refuse for their alg.
var testKey = []byte("conformance-test-key-0123456789abcdef")

func signJWT(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testRSAKey signs the RS256 JWTs of these tests as an issuer would; testKid
// names it, and testKeys is what SourceOptions.Keys gives the harness.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

const testKid = "test-kid"

func testKeys() map[string]*rsa.PublicKey {
	return map[string]*rsa.PublicKey{testKid: &testRSAKey().PublicKey}
}

// signRS256 signs claims with key under kid.
func signRS256(t testing.TB, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var jwtSerial atomic.Int64

// assertionClaims are the claims of a distinct assertion for
// api://AzureADTokenExchange that expires at exp.
func assertionClaims(exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://issuer.example/",
		"sub": "subject",
		"aud": assertion.ResourceAzurePublic,
		"exp": exp.Unix(),
		"nbf": exp.Add(-time.Hour).Unix(),
		"jti": fmt.Sprint(jwtSerial.Add(1)),
	}
}

// validJWT returns a distinct RS256 JWT for api://AzureADTokenExchange that
// expires at exp, signed with testRSAKey.
func validJWT(t testing.TB, exp time.Time) string {
	return signRS256(t, testRSAKey(), testKid, assertionClaims(exp))
}

// hs256JWT is validJWT signed with HS256, which Entra refuses.
func hs256JWT(t testing.TB, exp time.Time) string {
	return signJWT(t, assertionClaims(exp))
}

func TestSourceAcceptsOurSources(t *testing.T) {
	opts := &SourceOptions{Audience: assertion.ResourceAzurePublic, Keys: testKeys()}
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
			o := (&SourceOptions{Audience: assertion.ResourceAzurePublic, Timeout: 50 * time.Millisecond, Keys: testKeys()}).withDefaults()
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
	o := (&SourceOptions{Keys: testKeys()}).withDefaults() // keys given: no discovery of issuer.example
	src := leakyString{expired}                            // expired, and its String() leaks
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
	o := (&SourceOptions{Audience: assertion.ResourceAzurePublic, Keys: testKeys()}).withDefaults()
	for _, c := range sourceChecks {
		if c.applies != nil && !c.applies(&o) {
			continue
		}
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

// TestSourceExpiresOnTolerance: ExpiresOn may equal the JWT's exp or exceed
// it by up to ExpiresOnTolerance (1 s); 2 s or a minute later is reported,
// through validateAssertion and through the Assertion check. A wider
// tolerance would fail here.
func TestSourceExpiresOnTolerance(t *testing.T) {
	if ExpiresOnTolerance != time.Second {
		t.Fatalf("ExpiresOnTolerance = %s; the documented tolerance is 1s", ExpiresOnTolerance)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok := validJWT(t, exp)
	o := (&SourceOptions{Keys: testKeys()}).withDefaults()
	for _, tc := range []struct {
		later  time.Duration
		report bool
	}{
		{0, false}, {500 * time.Millisecond, false}, {time.Second, false},
		{1100 * time.Millisecond, true}, {2 * time.Second, true}, {60 * time.Second, true},
	} {
		a := assertion.Assertion{Token: tok, ExpiresOn: exp.Add(tc.later)}
		errs := validateAssertion(a, &o, 0)
		if got := anyContains(errs, "later than the JWT's exp"); got != tc.report {
			t.Errorf("ExpiresOn %s after exp: reported %t (errors %s); want %t", tc.later, got, redactSecrets(fmt.Sprintf("%q", errs), []string{tok}), tc.report)
		}
		errs = runSourceCheck(t, "Assertion", fixed{a}, &o)
		if got := anyContains(errs, "ExpiresOn must not be later than exp"); got != tc.report {
			t.Errorf("Assertion check, ExpiresOn %s after exp: reported %t (errors %s); want %t", tc.later, got, redactSecrets(fmt.Sprintf("%q", errs), []string{tok}), tc.report)
		}
	}
}

// slowFirst answers its first call after delay, later ones at once with the
// same assertion, as a cache over a slow endpoint does.
type slowFirst struct {
	a     assertion.Assertion
	delay time.Duration
	calls atomic.Int64
}

func (s *slowFirst) Assertion(ctx context.Context) (assertion.Assertion, error) {
	if s.calls.Add(1) == 1 {
		time.Sleep(s.delay)
	}
	return s.a, ctx.Err()
}

// TestSourceExpiresOnToleranceAllowsTheCallsLatency: an ExpiresOn computed
// from expires_in when a slow answer arrived is later than exp by up to the
// call's duration on top of the 1 s; the slack is that of the call that
// first returned the token, also when a cache returns it again at once.
func TestSourceExpiresOnToleranceAllowsTheCallsLatency(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	a := assertion.Assertion{Token: validJWT(t, exp), ExpiresOn: exp.Add(1300 * time.Millisecond)}
	o := (&SourceOptions{Keys: testKeys()}).withDefaults()
	if errs := runSourceCheck(t, "Repeated", &slowFirst{a: a, delay: 400 * time.Millisecond}, &o); len(errs) != 0 {
		t.Errorf("Repeated on a source whose first answer took 400ms and whose ExpiresOn is 1.3s after exp: %s; want nothing", redactSecrets(fmt.Sprintf("%q", errs), []string{a.Token}))
	}
	if errs := runSourceCheck(t, "Repeated", fixed{a}, &o); !anyContains(errs, "ExpiresOn must not be later than exp") {
		t.Errorf("Repeated on an instant source whose ExpiresOn is 1.3s after exp: %s; want it reported", redactSecrets(fmt.Sprintf("%q", errs), []string{a.Token}))
	}
}

// issuerServer is a loopback OIDC issuer: its discovery document names
// itself (or name, when set) and its key set holds keys.
func issuerServer(t *testing.T, name string, keys map[string]*rsa.PublicKey) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := srv.URL
		if name != "" {
			iss = name
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range keys {
			set.Keys = append(set.Keys, map[string]string{
				"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		json.NewEncoder(w).Encode(set)
	})
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// issuedBy is an RS256 assertion of iss signed with testRSAKey under kid.
func issuedBy(t *testing.T, iss, kid string) string {
	c := assertionClaims(time.Now().Add(time.Hour))
	c["iss"] = iss
	return signRS256(t, testRSAKey(), kid, c)
}

// TestSourceIssuerSignature: assertions a real issuer would not have signed
// are caught, with the contract in the message, whether the keys are given
// or discovered from iss; a source whose issuer cannot be reached is
// skipped, never passed.
func TestSourceIssuerSignature(t *testing.T) {
	good := validJWT(t, time.Now().Add(time.Hour))
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	// Another base64url character at position 10 changes six bits of the
	// signature. (XOR with 'A'^'B' turned a '-' into a '.', one run in 64: a
	// fourth JWT part instead of a bad signature.)
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	if sig[10] == parts[2][10] {
		t.Fatal("tampering changed nothing")
	}
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	unknownKid := signRS256(t, testRSAKey(), "unknown-kid", assertionClaims(time.Now().Add(time.Hour)))
	wrongKey := signRS256(t, otherKey, testKid, assertionClaims(time.Now().Add(time.Hour)))
	noKid := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, assertionClaims(time.Now().Add(time.Hour)))
		s, err := tok.SignedString(testRSAKey())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hs := hs256JWT(t, time.Now().Add(time.Hour))

	keysGiven := (&SourceOptions{Keys: testKeys()}).withDefaults()
	for _, tc := range []struct {
		name, token, want string
	}{
		{"tampered signature", tampered, "an assertion must carry its issuer's valid RS256 signature"},
		{"signed with another key", wrongKey, "an assertion must carry its issuer's valid RS256 signature"},
		{"unknown kid", unknownKid, "an assertion must be signed with a key its issuer publishes"},
		{"alg HS256", hs, "Entra accepts only RS256-signed assertions"},
		{"no kid", noKid, "an assertion must name the issuer's key that signed it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := runSourceCheck(t, "IssuerSignature", assertion.Static(tc.token), &keysGiven)
			failures, skip := outcome(errs)
			if !anyContains(failures, tc.want) || skip != "" {
				t.Errorf("IssuerSignature reported %s (skip %q); want a failure containing %q", redactSecrets(fmt.Sprintf("%q", errs), []string{tc.token}), skip, tc.want)
			}
			for _, err := range errs {
				if containsSecret(err.Error(), tc.token) {
					t.Error("the report contains the token")
				}
			}
		})
	}
	if errs := runSourceCheck(t, "IssuerSignature", assertion.Static(good), &keysGiven); len(errs) != 0 {
		t.Errorf("IssuerSignature on a good assertion with its key given: %s; want nothing", redactSecrets(fmt.Sprintf("%q", errs), []string{good}))
	}

	t.Run("discovered", func(t *testing.T) {
		iss := issuerServer(t, "", testKeys())
		o := (&SourceOptions{Transport: iss.Client()}).withDefaults()
		var notes []string
		o.logf = func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
		tok := issuedBy(t, iss.URL, testKid)
		if errs := runSourceCheck(t, "IssuerSignature", assertion.Static(tok), &o); len(errs) != 0 {
			t.Errorf("IssuerSignature with keys discovered from iss: %s; want nothing", redactSecrets(fmt.Sprintf("%q", errs), []string{tok}))
		}
		if !strings.Contains(strings.Join(notes, "\n"), "signature verifies with key") {
			t.Errorf("notes %q; want the verification reported", notes)
		}
		tok = issuedBy(t, iss.URL, "rotated-away")
		if errs := runSourceCheck(t, "IssuerSignature", assertion.Static(tok), &o); !anyContains(errs, "is not among the 1 RSA key(s) of the issuer's key set") {
			t.Errorf("IssuerSignature with a kid the issuer does not publish: %s; want it reported", redactSecrets(fmt.Sprintf("%q", errs), []string{tok}))
		}
	})
	t.Run("issuer names another", func(t *testing.T) {
		iss := issuerServer(t, "https://someone-else.invalid", testKeys())
		o := (&SourceOptions{Transport: iss.Client()}).withDefaults()
		tok := issuedBy(t, iss.URL, testKid)
		if errs := runSourceCheck(t, "IssuerSignature", assertion.Static(tok), &o); !anyContains(errs, "an issuer's metadata must name it exactly") {
			t.Errorf("IssuerSignature with a discovery document naming another issuer: %s; want it reported", redactSecrets(fmt.Sprintf("%q", errs), []string{tok}))
		}
	})
	t.Run("issuer unreachable", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		o := (&SourceOptions{Transport: srv.Client()}).withDefaults()
		tok := issuedBy(t, srv.URL, testKid)
		failures, skip := outcome(runSourceCheck(t, "IssuerSignature", assertion.Static(tok), &o))
		if len(failures) != 0 || !strings.Contains(skip, "cannot verify the signature") || !strings.Contains(skip, "HTTP 404") {
			t.Errorf("IssuerSignature with an issuer that serves no discovery document: failures %q, skip %q; want a skip saying why", failures, skip)
		}
	})
	t.Run("no iss", func(t *testing.T) {
		c := assertionClaims(time.Now().Add(time.Hour))
		delete(c, "iss")
		tok := signRS256(t, testRSAKey(), testKid, c)
		o := (&SourceOptions{}).withDefaults()
		if errs := runSourceCheck(t, "IssuerSignature", assertion.Static(tok), &o); !anyContains(errs, "the JWT has no iss claim") {
			t.Errorf("IssuerSignature on a JWT without iss: %s; want it reported", redactSecrets(fmt.Sprintf("%q", errs), []string{tok}))
		}
	})
}

// stallsIgnoringContext ignores its context for a while (an HTTP source
// without a per-request context), then honours it.
type stallsIgnoringContext struct {
	tok   string
	stall time.Duration
}

func (s stallsIgnoringContext) Assertion(ctx context.Context) (assertion.Assertion, error) {
	time.Sleep(s.stall)
	if err := ctx.Err(); err != nil {
		return assertion.Assertion{}, fmt.Errorf("stalled source: %w", err)
	}
	return assertion.Assertion{Token: s.tok}, nil
}

// TestSourceCancelLatency: a source that ignores its context for 2 s is
// caught by every done-context check although its errors wrap the right
// context error, and Timeout (30 s) is not the bound; a source that honours
// its context passes with the default bound.
func TestSourceCancelLatency(t *testing.T) {
	good := validJWT(t, time.Now().Add(time.Hour))
	const want = "a Source must return within 1s (CancelLatency) once its context is done"
	measured := regexp.MustCompile(`returned (after )?[12](\.\d+)?s`) // about 2 s, never less than the 1 s bound
	for _, check := range []string{"CancelledContext", "DeadlineExceeded", "CancelDuringCall"} {
		t.Run(check, func(t *testing.T) {
			t.Parallel()
			o := (&SourceOptions{}).withDefaults()
			errs := runSourceCheck(t, check, stallsIgnoringContext{good, 2 * time.Second}, &o)
			if !anyContains(errs, want) || !measured.MatchString(fmt.Sprint(errs)) {
				t.Errorf("%s on a source that ignores its context for 2s reported %s; want %q with the measured time", check, redactSecrets(fmt.Sprintf("%q", errs), []string{good}), want)
			}
			o.CancelLatency = 5 * time.Second
			if errs := runSourceCheck(t, check, stallsIgnoringContext{good, 2 * time.Second}, &o); anyContains(errs, "CancelLatency") {
				t.Errorf("%s with CancelLatency 5s on a source that returns after 2s reported %s; want no latency failure", check, redactSecrets(fmt.Sprintf("%q", errs), []string{good}))
			}
		})
	}
}

func TestRSAKeyRefusesHugeModulus(t *testing.T) {
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(65537).Bytes())
	// 0x01 followed by 2048 zero bytes: a 16385-bit modulus, one bit too many.
	if _, err := rsaKey(base64.RawURLEncoding.EncodeToString(append([]byte{1}, make([]byte, 16384/8)...)), e); err == nil {
		t.Error("rsaKey accepted a modulus of 16385 bits")
	}
	k := testRSAKey().PublicKey
	if got, err := rsaKey(base64.RawURLEncoding.EncodeToString(k.N.Bytes()), e); err != nil || got.N.Cmp(k.N) != 0 || got.E != 65537 {
		t.Errorf("rsaKey of a 2048-bit key = %v, %v; want the key", got, err)
	}
}
