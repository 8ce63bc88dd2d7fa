package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/assertion"
)

// SourceOptions tunes [TestSource]. A nil *SourceOptions and zero fields mean
// defaults.
type SourceOptions struct {
	// Audience, when set, must be one of the JWT's aud values, e.g.
	// assertion.ResourceAzurePublic for assertions meant for Entra.
	Audience string
	// Concurrency is the number of simultaneous callers in the Concurrent
	// subtest. 0 means 8.
	Concurrency int
	// Timeout bounds every call the harness makes, and how long a call may
	// take to return once its context is cancelled. 0 means 30 seconds. A
	// call that overruns is reported and abandoned (its goroutine is left
	// running: the harness cannot stop code that ignores its context).
	Timeout time.Duration
	// Clock is the clock the JWT's exp and ExpiresOn are compared with; nil
	// means [time.Now]. Set it to the clock of a fake issuer that runs on one.
	Clock func() time.Time
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
	if r.Clock == nil {
		r.Clock = time.Now
	}
	return r
}

// TestSource runs the [assertion.Source] conformance suite as subtests of t,
// each on a fresh Source from newSource, and reports every failure with
// t.Errorf. The subtests are:
//
//   - Assertion: a call returns a JWT (three base64url parts, an alg other
//     than "none", JSON claims) whose exp is in the future and, when
//     [assertion.Assertion.ExpiresOn] is set, ExpiresOn is in the future and
//     not later than exp; aud contains [SourceOptions.Audience] when set.
//   - Repeated: three calls in a row each return such a JWT.
//   - Concurrent: [SourceOptions.Concurrency] simultaneous calls all succeed
//     (and -race reports any data race they cause).
//   - CancelledContext, DeadlineExceeded: a fresh Source given a context that
//     is already done fails with an error wrapping context.Canceled or
//     context.DeadlineExceeded, within [SourceOptions.Timeout].
//   - CancelDuringCall: a call whose context is cancelled as it starts
//     returns within [SourceOptions.Timeout], and if it fails the error wraps
//     context.Canceled.
//   - ErrorsDoNotLeakToken: after a successful call, the errors of calls with
//     done contexts do not contain the token (and no error of any subtest
//     contains a token the same Source returned).
//   - FormattingDoesNotLeakToken: %v and %+v of the Source, and when
//     implemented String(), GoString() (%#v) and slog's LogValue(), do not
//     contain the token.
//
// newSource is called once per subtest; use t for cleanups. Run under -race.
func TestSource(t *testing.T, newSource func(t *testing.T) assertion.Source, opts *SourceOptions) {
	t.Helper()
	o := opts.withDefaults()
	for _, c := range sourceChecks {
		t.Run(c.name, func(t *testing.T) {
			src := newSource(t)
			if src == nil {
				t.Fatal("newSource returned nil")
			}
			for _, err := range c.run(src, &o) {
				t.Error(err)
			}
		})
	}
}

// sourceCheck is one subtest. run returns every violation it finds; the
// checks are plain functions so that the harness itself can be tested against
// deliberately broken sources without a testing.T.
type sourceCheck struct {
	name string
	run  func(src assertion.Source, o *SourceOptions) []error
}

var sourceChecks = []sourceCheck{
	{"Assertion", checkSourceAssertion},
	{"Repeated", checkSourceRepeated},
	{"Concurrent", checkSourceConcurrent},
	{"CancelledContext", checkSourceCancelled},
	{"DeadlineExceeded", checkSourceDeadline},
	{"CancelDuringCall", checkSourceCancelDuringCall},
	{"ErrorsDoNotLeakToken", checkSourceErrorsDoNotLeak},
	{"FormattingDoesNotLeakToken", checkSourceFormatting},
}

// sourceRun wraps one Source for one check: it bounds every call by the
// timeout, remembers every token the Source returned and checks every error
// against them. It is safe for concurrent use.
type sourceRun struct {
	src assertion.Source
	o   *SourceOptions

	mu     sync.Mutex
	tokens []string
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

// call invokes Assertion with a context derived from ctx and bounded by the
// timeout. timedOut is true when the call did not return in time.
func (r *sourceRun) call(ctx context.Context) (a assertion.Assertion, err error, timedOut bool) {
	type result struct {
		a   assertion.Assertion
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := r.src.Assertion(ctx)
		done <- result{a, err}
	}()
	timer := time.NewTimer(r.o.Timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		r.observe(res.a, res.err)
		return res.a, res.err, false
	case <-timer.C:
		r.errorf("Assertion did not return within %s (a Source must honour its context and bound its I/O)", r.o.Timeout)
		return assertion.Assertion{}, nil, true
	}
}

// observe records a returned token and checks an error against every token
// seen so far, without ever printing a token.
func (r *sourceRun) observe(a assertion.Assertion, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && a.Token != "" && !slices.Contains(r.tokens, a.Token) {
		r.tokens = append(r.tokens, a.Token)
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
	ctx, cancel := context.WithTimeout(context.Background(), r.o.Timeout)
	defer cancel()
	a, err, timedOut := r.call(ctx)
	if timedOut {
		return assertion.Assertion{}, false
	}
	if err != nil {
		r.errorf("%s: Assertion failed: %v", what, err)
		return assertion.Assertion{}, false
	}
	for _, e := range validateAssertion(a, r.o) {
		r.errorf("%s: %v", what, e)
	}
	return a, true
}

// validateAssertion checks one successful result.
func validateAssertion(a assertion.Assertion, o *SourceOptions) []error {
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
		if !c.exp.IsZero() && a.ExpiresOn.After(c.exp.Add(time.Second)) {
			errs = append(errs, fmt.Errorf("ExpiresOn %s is later than the JWT's exp %s", fmtTime(a.ExpiresOn), fmtTime(c.exp)))
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
	_, err, timedOut := r.call(ctx)
	switch {
	case timedOut:
	case err == nil:
		r.errorf("Assertion with a done context returned no error; want one wrapping %v", want)
	case !errors.Is(err, want):
		r.errorf("Assertion with a done context returned an error that does not wrap %v (errors.Is is false): %v", want, err)
	}
	return r.result()
}

func checkSourceCancelled(src assertion.Source, o *SourceOptions) []error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return doneContextCheck(src, o, ctx, context.Canceled)
}

func checkSourceDeadline(src assertion.Source, o *SourceOptions) []error {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	return doneContextCheck(src, o, ctx, context.DeadlineExceeded)
}

func checkSourceCancelDuringCall(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		a        assertion.Assertion
		err      error
		timedOut bool
	}
	done := make(chan result, 1)
	go func() {
		a, err, timedOut := r.call(ctx)
		done <- result{a, err, timedOut}
	}()
	cancel()
	res := <-done
	switch {
	case res.timedOut:
	case res.err == nil:
		// The call won the race with cancel; its result must still be valid.
		for _, e := range validateAssertion(res.a, o) {
			r.errorf("call that completed before its cancellation: %v", e)
		}
	case !errors.Is(res.err, context.Canceled):
		r.errorf("Assertion cancelled during the call returned an error that does not wrap context.Canceled: %v", res.err)
	}
	return r.result()
}

func checkSourceErrorsDoNotLeak(src assertion.Source, o *SourceOptions) []error {
	r := newSourceRun(src, o)
	if _, ok := r.good("call before the error cases"); !ok {
		return r.result()
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
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
