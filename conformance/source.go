package conformance

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
)

// SourceOptions tunes [TestSource] and [CheckSource]. A nil *SourceOptions
// and zero fields mean defaults.
type SourceOptions struct {
	// Audience, when set, must be one of the JWT's aud values, e.g.
	// assertion.ResourceAzurePublic for assertions meant for Entra.
	Audience string
	// Concurrency is the number of simultaneous callers in the Concurrent
	// subtest. 0 means 8.
	Concurrency int
	// Timeout bounds every call the harness makes. 0 means 30 seconds. A call
	// that overruns is reported and abandoned (its goroutine is left running:
	// the harness cannot stop code that ignores its context). How soon a call
	// must return once its context is done is CancelLatency, not Timeout.
	Timeout time.Duration
	// CancelLatency is how soon a call must return once its context is done:
	// a call made with a context that is already done, and a call cancelled
	// mid-flight, must return within it (and with an error wrapping the
	// context's). 0 means 1 second. The measured time is reported.
	CancelLatency time.Duration
	// Clock is the clock the JWT's exp and ExpiresOn are compared with; nil
	// means [time.Now]. Set it to the clock of a fake issuer that runs on one.
	Clock func() time.Time

	// Keys are the issuer's public keys by kid, for the IssuerSignature
	// check. nil means discovering them from the JWT's iss:
	// {iss}/.well-known/openid-configuration, then its jwks_uri, through
	// Transport. When neither works the check is skipped, never passed.
	Keys map[string]*rsa.PublicKey
	// Transport fetches the issuer's discovery document and keys, and sends
	// the TokenExchange request (never following a redirect: that request
	// carries the assertion). An *http.Client is one, e.g. a fake's Client()
	// that trusts its CA. nil means an http.Client bounded by Timeout.
	Transport policy.Transporter
	// TokenEndpoint, when set, adds the TokenExchange check: the assertion is
	// posted there as Entra's client-credentials grant with a client
	// assertion, for ExchangeClientID and ExchangeScope, and an access token
	// must come back. Point it at a token endpoint whose app trusts the source
	// through a federated credential, e.g. fakeidp's
	// {URL()}/{tenant}/oauth2/v2.0/token with fakeidp.DefaultAppClientID.
	TokenEndpoint string
	// ExchangeClientID is the app (client_id) of the TokenExchange request;
	// required with TokenEndpoint.
	ExchangeClientID string
	// ExchangeScope is the scope of the TokenExchange request; "" means
	// "https://graph.microsoft.com/.default".
	ExchangeScope string

	// Logf, when set, receives the notes of [CheckSource]'s checks (measured
	// times, what a check could not exercise). [TestSource] writes them with
	// the subtest's t.Logf instead.
	Logf func(format string, args ...any)

	logf logger          // where notes go: Logf, or the subtest's t.Logf
	base context.Context // every call's context derives from it
}

func (o *SourceOptions) withDefaults() SourceOptions {
	var r SourceOptions
	if o != nil {
		r = *o
	}
	if r.Concurrency <= 0 {
		r.Concurrency = 8
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	if r.CancelLatency <= 0 {
		r.CancelLatency = DefaultCancelLatency
	}
	if r.Clock == nil {
		r.Clock = time.Now
	}
	if r.ExchangeScope == "" {
		r.ExchangeScope = "https://graph.microsoft.com/.default"
	}
	r.logf = r.Logf
	if r.base == nil {
		r.base = context.Background()
	}
	return r
}

// DefaultCancelLatency is what a zero CancelLatency means: how soon a call
// must return once its context is done.
const DefaultCancelLatency = time.Second

// ExpiresOnTolerance is how much later than the JWT's exp an ExpiresOn may
// be, plus the duration of the call that first returned the token (which the
// checks measure). exp is in whole seconds, so an issuer's exp is up to a
// second before the instant it computed; and a client that computes
// ExpiresOn from a relative lifetime (expires_in) when the answer arrives
// adds the answer's latency, at most the call's duration. Anything later
// means a cache that serves a token the resource (or Entra) already rejects.
const ExpiresOnTolerance = time.Second

// expiresOnAfterExp reports an ExpiresOn later than exp beyond
// ExpiresOnTolerance plus slack, saying what goes wrong (harm) when it is.
func expiresOnAfterExp(expiresOn, exp time.Time, slack time.Duration, harm string) []error {
	if !expiresOn.After(exp.Add(ExpiresOnTolerance + slack)) {
		return nil
	}
	return []error{fmt.Errorf("ExpiresOn %s is later than the JWT's exp %s by %s: ExpiresOn must not be later than exp (tolerance %s, plus the %s the call took), or %s",
		fmtTimeFine(expiresOn), fmtTime(exp), expiresOn.Sub(exp), ExpiresOnTolerance, slack.Round(time.Millisecond), harm)}
}

// TestSource runs the [assertion.Source] conformance suite as subtests of t,
// each on a fresh Source from newSource, and reports every failure with
// t.Errorf; a check that cannot be performed is skipped (t.Skip) with the
// reason, never passed. The subtests are:
//
//   - Assertion: a call returns a JWT (three base64url parts, an alg other
//     than "none", JSON claims) whose exp is in the future and, when
//     [assertion.Assertion.ExpiresOn] is set, ExpiresOn is in the future and
//     not later than exp (within [ExpiresOnTolerance] plus the call's
//     duration); aud contains [SourceOptions.Audience] when set.
//   - IssuerSignature: the JWT is what its issuer would accept: alg RS256
//     (the only one Entra accepts), a kid found among the issuer's keys, and
//     a signature that verifies with that key. The keys are
//     [SourceOptions.Keys], or discovered from the JWT's iss; skipped when
//     neither is available.
//   - TokenExchange: only when [SourceOptions.TokenEndpoint] is set; the
//     assertion is exchanged there for an access token.
//   - Repeated: three calls in a row each return such a JWT.
//   - Concurrent: [SourceOptions.Concurrency] simultaneous calls all succeed
//     (and -race reports any data race they cause).
//   - CancelledContext, DeadlineExceeded: a fresh Source given a context that
//     is already done fails with an error wrapping context.Canceled or
//     context.DeadlineExceeded, within [SourceOptions.CancelLatency].
//   - CancelDuringCall: a call whose context is cancelled mid-flight returns
//     within [SourceOptions.CancelLatency] of the cancellation, and if it
//     fails the error wraps context.Canceled.
//   - ErrorsDoNotLeakToken: after a successful call, the errors of calls with
//     done contexts do not contain the token (and no error of any subtest
//     contains a token the same Source returned).
//   - FormattingDoesNotLeakToken: %v and %+v of the Source, and when
//     implemented String(), GoString() (%#v) and slog's LogValue(), do not
//     contain the token.
//
// newSource is called once per subtest; use t for cleanups. Run under -race.
// [CheckSource] runs the same checks without a testing.T.
func TestSource(t *testing.T, newSource func(t *testing.T) assertion.Source, opts *SourceOptions) {
	t.Helper()
	o := opts.withDefaults()
	for _, c := range sourceChecks {
		if c.applies != nil && !c.applies(&o) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			src := newSource(t)
			if src == nil {
				t.Fatal("newSource returned nil")
			}
			oc := o
			oc.logf, oc.base = t.Logf, t.Context()
			report(t, c.run(src, &oc))
		})
	}
}

// CheckSource runs the checks of [TestSource] outside go test, as
// [testing/fstest.TestFS] and [testing/slogtest.TestHandler] do: each on a
// fresh Source from newSource, one after another, every call derived from
// ctx. It returns nil when every check passed, else the [errors.Join] of one
// [*CheckError] per check that failed or was skipped (errors.Is(err,
// [ErrSkipped]) then holds; [Failed] tells failures from skips), plus the
// reason when ctx ended before every check ran. No part of the error
// contains a token.
func CheckSource(ctx context.Context, newSource func() (assertion.Source, error), opts *SourceOptions) error {
	o := opts.withDefaults()
	o.base = ctx
	var errs []error
	for _, c := range sourceChecks {
		if c.applies != nil && !c.applies(&o) {
			continue
		}
		if ctx.Err() != nil {
			errs = append(errs, stopped(ctx, c.name))
			break
		}
		src, err := newSource()
		if err == nil && src == nil {
			err = errors.New("newSource returned nil")
		}
		if err != nil {
			errs = append(errs, &CheckError{Check: c.name, Errs: []error{errors.New(redactSecrets("newSource: "+err.Error(), nil))}})
			continue
		}
		found := c.run(src, &o)
		if ctx.Err() != nil {
			// The check's calls failed because the run was stopped, not
			// because of the implementation: report the stop, not them.
			errs = append(errs, stopped(ctx, c.name))
			break
		}
		if err := checkOutcome(c.name, found); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sourceCheck is one subtest. run returns every violation it finds (and a
// [skipError] when it could not be performed); the checks are plain
// functions so that the harness itself can be tested against deliberately
// broken sources without a testing.T.
type sourceCheck struct {
	name    string
	applies func(o *SourceOptions) bool // nil: always
	run     func(src assertion.Source, o *SourceOptions) []error
}

var sourceChecks = []sourceCheck{
	{name: "Assertion", run: checkSourceAssertion},
	{name: "IssuerSignature", run: checkSourceIssuerSignature},
	{name: "TokenExchange", run: checkSourceTokenExchange, applies: func(o *SourceOptions) bool { return o.TokenEndpoint != "" }},
	{name: "Repeated", run: checkSourceRepeated},
	{name: "Concurrent", run: checkSourceConcurrent},
	{name: "CancelledContext", run: checkSourceCancelled},
	{name: "DeadlineExceeded", run: checkSourceDeadline},
	{name: "CancelDuringCall", run: checkSourceCancelDuringCall},
	{name: "ErrorsDoNotLeakToken", run: checkSourceErrorsDoNotLeak},
	{name: "FormattingDoesNotLeakToken", run: checkSourceFormatting},
}

// sourceRun wraps one Source for one check: it bounds every call by the
// timeout, remembers every token the Source returned and checks every error
// against them. It is safe for concurrent use.
type sourceRun struct {
	src assertion.Source
	o   *SourceOptions

	mu     sync.Mutex
	tokens []string
	took   map[string]time.Duration // per token, how long the call that first returned it took
	errs   []error
}

func newSourceRun(src assertion.Source, o *SourceOptions) *sourceRun {
	return &sourceRun{src: src, o: o}
}

// errorf records a failure. The text is redacted: args often hold an error
// of the implementation under test, which may quote a token.
func (r *sourceRun) errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, errors.New(redactSecrets(fmt.Sprintf(format, args...), r.tokens)))
}

// skip records that the check could not be performed, and why.
func (r *sourceRun) skip(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// call invokes Assertion with ctx, bounded by the timeout. timedOut is true
// when the call did not return in time; took is how long it ran.
func (r *sourceRun) call(ctx context.Context) (a assertion.Assertion, err error, timedOut bool, took time.Duration) {
	type result struct {
		a   assertion.Assertion
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		a, err := r.src.Assertion(ctx)
		done <- result{a, err}
	}()
	timer := time.NewTimer(r.o.Timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		took := time.Since(start)
		r.observe(res.a, res.err, took)
		return res.a, res.err, false, took
	case <-timer.C:
		r.errorf("Assertion did not return within %s (Timeout): a Source must honour its context and bound its I/O", r.o.Timeout)
		return assertion.Assertion{}, nil, true, time.Since(start)
	}
}

// observe records a returned token and checks an error against every token
// seen so far, without ever printing a token.
func (r *sourceRun) observe(a assertion.Assertion, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && a.Token != "" && !slices.Contains(r.tokens, a.Token) {
		r.tokens = append(r.tokens, a.Token)
		if r.took == nil {
			r.took = map[string]time.Duration{}
		}
		r.took[a.Token] = took
	}
	if err != nil {
		if a.Token != "" && errorContains(err, a.Token) {
			r.errs = append(r.errs, errors.New("the error returned with an assertion contains that assertion's token"))
		}
		for _, tok := range r.tokens {
			if errorContains(err, tok) {
				r.errs = append(r.errs, errors.New("an error contains a token this Source returned earlier"))
				break
			}
		}
	}
}

func (r *sourceRun) knownTokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tokens)
}

func (r *sourceRun) result() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs
}

// good makes one bounded call that must succeed and return a valid JWT.
func (r *sourceRun) good(what string) (assertion.Assertion, bool) {
	ctx, cancel := context.WithTimeout(r.o.base, r.o.Timeout)
	defer cancel()
	a, err, timedOut, _ := r.call(ctx)
	if timedOut {
		return assertion.Assertion{}, false
	}
	if err != nil {
		r.errorf("%s: Assertion failed: %v", what, err)
		return assertion.Assertion{}, false
	}
	for _, e := range validateAssertion(a, r.o, r.slack(a.Token)) {
		r.errorf("%s: %v", what, e)
	}
	return a, true
}

// slack is how long the call that first returned token took: an ExpiresOn
// computed from a relative lifetime (expires_in) when the answer arrived may
// be that much later than exp, on top of ExpiresOnTolerance.
func (r *sourceRun) slack(token string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.took[token]
}

// validateAssertion checks one successful result; slack is added to
// ExpiresOnTolerance (see sourceRun.slack).
func validateAssertion(a assertion.Assertion, o *SourceOptions, slack time.Duration) []error {
	if a.Token == "" {
		return []error{errors.New("returned an empty token with a nil error")}
	}
	c, err := parseJWT(a.Token)
	if err != nil {
		return []error{fmt.Errorf("the token is not a usable JWT: %v", err)}
	}
	var errs []error
	now := o.Clock()
	switch {
	case c.exp.IsZero():
		errs = append(errs, errors.New("the JWT has no exp claim (Entra rejects assertions without one)"))
	case !c.exp.After(now):
		errs = append(errs, fmt.Errorf("the JWT expired at %s, not after now (%s)", fmtTime(c.exp), fmtTime(now)))
	}
	if !c.nbf.IsZero() && c.nbf.After(now.Add(5*time.Minute)) {
		errs = append(errs, fmt.Errorf("the JWT's nbf %s is more than 5 minutes after now (%s)", fmtTime(c.nbf), fmtTime(now)))
	}
	if !a.ExpiresOn.IsZero() {
		if !a.ExpiresOn.After(now) {
			errs = append(errs, fmt.Errorf("ExpiresOn %s is not after now (%s)", fmtTime(a.ExpiresOn), fmtTime(now)))
		}
		// ExpiresOn later than exp would make Cached serve a token Entra
		// already rejects (AADSTS700024). Earlier is conservative and fine.
		if !c.exp.IsZero() {
			errs = append(errs, expiresOnAfterExp(a.ExpiresOn, c.exp, slack, "a cache serves an assertion Entra rejects (AADSTS700024)")...)
		}
	}
	if o.Audience != "" && !slices.Contains(c.audiences, o.Audience) {
		errs = append(errs, fmt.Errorf("the JWT's aud %q does not contain %q", c.audiences, o.Audience))
	}
	return errs
}

func checkSourceAssertion(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	r.good("first call")
	return r.result()
}

func checkSourceRepeated(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	for i := 1; i <= 3; i++ {
		if _, ok := r.good(fmt.Sprintf("call %d of 3", i)); !ok {
			break
		}
	}
	return r.result()
}

func checkSourceConcurrent(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		wg.Go(func() {
			<-start
			r.good(fmt.Sprintf("concurrent caller %d of %d", i+1, o.Concurrency))
		})
	}
	close(start)
	wg.Wait()
	return r.result()
}

// doneContextCheck calls a fresh Source with a context that is already done.
func doneContextCheck(src assertion.Source, o *SourceOptions, ctx context.Context, want error) []error {
	r := newSourceRun(src, o)
	_, err, timedOut, took := r.call(ctx)
	if timedOut {
		return r.result()
	}
	switch {
	case err == nil:
		r.errorf("Assertion with a done context returned no error; want one wrapping %v", want)
	case !errors.Is(err, want):
		r.errorf("Assertion with a done context returned an error that does not wrap %v (errors.Is is false): %v", want, err)
	}
	if took > o.CancelLatency {
		r.errorf("Assertion with a context that was already done returned after %s: a Source must return within %s (CancelLatency) once its context is done", took.Round(time.Millisecond), o.CancelLatency)
	} else {
		o.logf.logf("Assertion with a done context returned in %s (bound %s)", took, o.CancelLatency)
	}
	return r.result()
}

func checkSourceCancelled(src assertion.Source, o *SourceOptions) []error {
	ctx, cancel := context.WithCancel(o.base)
	cancel()
	return doneContextCheck(src, o, ctx, context.Canceled)
}

func checkSourceDeadline(src assertion.Source, o *SourceOptions) []error {
	ctx, cancel := context.WithDeadline(o.base, time.Unix(1, 0))
	defer cancel()
	return doneContextCheck(src, o, ctx, context.DeadlineExceeded)
}

// headStart is how long a call runs before CancelDuringCall cancels it: long
// enough for a source to be waiting on I/O, short enough for the check to be
// quick.
const headStart = 5 * time.Millisecond

// cancelMidFlight starts call with a cancellable context, cancels it after
// headStart unless it has returned by then, and reports how long the call
// took to return after the cancellation (cancelled is false when it returned
// first).
func cancelMidFlight[T any](base context.Context, call func(ctx context.Context) T) (res T, cancelled bool, took time.Duration) {
	ctx, cancel := context.WithCancel(base)
	defer cancel()
	done := make(chan T, 1)
	go func() { done <- call(ctx) }()
	timer := time.NewTimer(headStart)
	defer timer.Stop()
	select {
	case res = <-done:
		return res, false, 0
	case <-timer.C:
	}
	at := time.Now()
	cancel()
	// call is bounded by the harness's Timeout, so this wait is too.
	res = <-done
	return res, true, time.Since(at)
}

func checkSourceCancelDuringCall(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	type result struct {
		a        assertion.Assertion
		err      error
		timedOut bool
	}
	res, cancelled, took := cancelMidFlight(o.base, func(ctx context.Context) result {
		a, err, timedOut, _ := r.call(ctx)
		return result{a, err, timedOut}
	})
	switch {
	case res.timedOut:
		return r.result()
	case res.err == nil:
		// The call won the race with cancel; its result must still be valid.
		for _, e := range validateAssertion(res.a, o, r.slack(res.a.Token)) {
			r.errorf("call that completed before its cancellation: %v", e)
		}
	case !errors.Is(res.err, context.Canceled):
		r.errorf("Assertion cancelled during the call returned an error that does not wrap context.Canceled: %v", res.err)
	}
	switch {
	case !cancelled:
		o.logf.logf("the call returned within %s, before it could be cancelled mid-flight", headStart)
	case took > o.CancelLatency:
		r.errorf("Assertion cancelled during the call returned %s after its cancellation: a Source must return within %s (CancelLatency) once its context is done", took.Round(time.Millisecond), o.CancelLatency)
	default:
		o.logf.logf("Assertion cancelled mid-flight returned %s after the cancellation (bound %s)", took, o.CancelLatency)
	}
	return r.result()
}

func checkSourceErrorsDoNotLeak(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	if _, ok := r.good("call before the error cases"); !ok {
		return r.result()
	}
	cancelled, cancel := context.WithCancel(o.base)
	cancel()
	expired, cancel2 := context.WithDeadline(o.base, time.Unix(1, 0))
	defer cancel2()
	// A caching Source may answer these from its cache; only errors matter
	// here, and observe checks each against the token of the first call.
	r.call(cancelled)
	r.call(expired)
	return r.result()
}

func checkSourceFormatting(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	if _, ok := r.good("call before formatting the Source"); !ok {
		return r.result()
	}
	for _, f := range formattings(src) {
		for _, tok := range r.knownTokens() {
			if containsSecret(f.text, tok) {
				r.errorf("%s of the Source contains its token", f.how)
			}
		}
	}
	return r.result()
}
