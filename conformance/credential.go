package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// CredentialOptions tunes [TestCredential] and [CheckCredential]. A nil
// *CredentialOptions and zero fields mean defaults.
type CredentialOptions struct {
	// Scope is requested in every call. Empty means
	// "https://graph.microsoft.com/.default".
	Scope string
	// Tenants, when set, are requested one by one through
	// [policy.TokenRequestOptions].TenantID in the TenantSelection subtest; each must
	// yield a token, and when the token is a JWT with a tid claim, tid must be
	// that tenant.
	Tenants []string
	// DisallowedTenant, when set, is a tenant the credential is configured
	// not to use (not in its additionally allowed tenants): asking for it
	// must fail, the error must not contain a token, and when Requests is set
	// the call must make no upstream request (the tenant is refused before
	// anything reaches the network).
	DisallowedTenant string
	// ExpectCaching makes the Caching subtest require that a second call for
	// the same scope and tenant is served without an upstream request, and
	// the ConcurrentColdCallers subtest that concurrent first calls of a
	// fresh credential share one upstream request, as counted by Requests.
	ExpectCaching bool
	// Requests returns how many token requests have reached the upstream
	// identity provider so far, e.g. by counting a fake's recorded requests
	// or wrapping the credential's transport. It must only grow. Required by
	// ExpectCaching; when set, ClaimsBypassCache runs too. The subtests run
	// one after another, so a counter shared by the credentials of every
	// subtest is fine.
	Requests func() int
	// ExpectRefresh adds the Refresh subtest: the upstream issues short-lived
	// tokens (their lifetime must be under Timeout, e.g. a fakeidp with
	// Options.TokenLifetime of a few seconds), and the harness calls
	// GetToken until the first token has expired: no call may return a token
	// past its ExpiresOn, and a new token must be served before the first
	// one expires.
	ExpectRefresh bool
	// FailingTenant, when set, adds the EntraError subtest: a tenant the
	// credential may use but in which Entra refuses the token with the AADSTS
	// code FailingTenantCode (e.g. fakeidp.DefaultUnconsentedTenantID,
	// allowed by the credential's configuration, answers 700016: the app is
	// not consented there). GetToken must fail with an error that carries
	// the code, and never return an empty token with a nil error.
	FailingTenant     string
	FailingTenantCode int
	// HasCode reports whether err carries the AADSTS code, through errors.As
	// to the error type the credential documents. nil means errors.As to
	// interface{ HasCode(int) bool }, which *federated.AuthError implements.
	HasCode func(err error, code int) bool
	// RequireJWT fails tokens that are not JWTs. Entra's access tokens are
	// JWTs, but resources are told to treat them as opaque, so by default
	// the JWT checks (exp against ExpiresOn, tid) apply only when the token
	// parses as one.
	RequireJWT bool
	// Concurrency, Timeout, CancelLatency, Clock and Logf are as in
	// [SourceOptions].
	Concurrency   int
	Timeout       time.Duration
	CancelLatency time.Duration
	Clock         func() time.Time
	Logf          func(format string, args ...any)

	logf logger
	base context.Context
}

func (o *CredentialOptions) withDefaults() CredentialOptions {
	var r CredentialOptions
	if o != nil {
		r = *o
	}
	if r.Scope == "" {
		r.Scope = "https://graph.microsoft.com/.default"
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
	if r.HasCode == nil {
		r.HasCode = hasCode
	}
	r.logf = r.Logf
	if r.base == nil {
		r.base = context.Background()
	}
	return r
}

// hasCode is the default CredentialOptions.HasCode.
func hasCode(err error, code int) bool {
	var c interface{ HasCode(int) bool }
	return errors.As(err, &c) && c.HasCode(code)
}

// TestCredential runs the [azcore.TokenCredential] conformance suite as
// subtests of t, each on a fresh credential from newCred, and reports every
// failure with t.Errorf; a check that cannot be performed is skipped with the
// reason, never passed. The subtests are:
//
//   - GetToken: a token for [CredentialOptions.Scope], non-empty, ExpiresOn in
//     the future, RefreshOn (when set) before ExpiresOn; for a JWT, exp in the
//     future and ExpiresOn not later than exp (within [ExpiresOnTolerance]
//     plus the duration of the call that first returned the token).
//   - Concurrent: [CredentialOptions.Concurrency] simultaneous callers all get
//     such a token.
//   - CancelledContext: a fresh credential given a cancelled context fails
//     with an error wrapping context.Canceled within CancelLatency.
//   - CancelDuringCall: a call cancelled mid-flight returns within
//     CancelLatency of the cancellation.
//   - TenantSelection: only when Tenants or DisallowedTenant is set; see
//     [CredentialOptions].
//   - ErrorsDoNotLeakToken: no error of the credential, in any subtest,
//     contains a token it returned.
//   - FormattingDoesNotLeakToken: as for sources.
//   - Caching: only when ExpectCaching is set; see [CredentialOptions].
//   - ConcurrentColdCallers: only when ExpectCaching is set: Concurrency
//     simultaneous first calls of a fresh credential make one upstream
//     request.
//   - ClaimsBypassCache: only when Requests is set: a call with
//     [policy.TokenRequestOptions].Claims (a claims challenge) after a
//     cached one makes an upstream request.
//   - Refresh: only when ExpectRefresh is set; see [CredentialOptions].
//   - EntraError: only when FailingTenant is set; see [CredentialOptions].
//
// Run under -race. [CheckCredential] runs the same checks without a
// testing.T.
func TestCredential(t *testing.T, newCred func(t *testing.T) azcore.TokenCredential, opts *CredentialOptions) {
	t.Helper()
	o := opts.withDefaults()
	for _, c := range credentialChecks {
		if c.applies != nil && !c.applies(&o) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			cred := newCred(t)
			if cred == nil {
				t.Fatal("newCred returned nil")
			}
			oc := o
			oc.logf, oc.base = t.Logf, t.Context()
			report(t, c.run(cred, &oc))
		})
	}
}

// CheckCredential runs the checks of [TestCredential] outside go test, each
// on a fresh credential from newCred, one after another, every call derived
// from ctx. Its error is as [CheckSource]'s: nil when every check passed,
// else one [*CheckError] per check that failed or was skipped.
func CheckCredential(ctx context.Context, newCred func() (azcore.TokenCredential, error), opts *CredentialOptions) error {
	o := opts.withDefaults()
	o.base = ctx
	var errs []error
	for _, c := range credentialChecks {
		if c.applies != nil && !c.applies(&o) {
			continue
		}
		if ctx.Err() != nil {
			errs = append(errs, stopped(ctx, c.name))
			break
		}
		cred, err := newCred()
		if err == nil && cred == nil {
			err = errors.New("newCred returned nil")
		}
		if err != nil {
			errs = append(errs, &CheckError{Check: c.name, Errs: []error{errors.New(redactSecrets("newCred: "+err.Error(), nil))}})
			continue
		}
		found := c.run(cred, &o)
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

type credentialCheck struct {
	name    string
	applies func(o *CredentialOptions) bool // nil: always
	run     func(cred azcore.TokenCredential, o *CredentialOptions) []error
}

var credentialChecks = []credentialCheck{
	{name: "GetToken", run: checkCredGetToken},
	{name: "Concurrent", run: checkCredConcurrent},
	{name: "CancelledContext", run: checkCredCancelled},
	{name: "CancelDuringCall", run: checkCredCancelDuringCall},
	{name: "TenantSelection", run: checkCredTenants, applies: func(o *CredentialOptions) bool {
		return len(o.Tenants) > 0 || o.DisallowedTenant != ""
	}},
	{name: "ErrorsDoNotLeakToken", run: checkCredErrorsDoNotLeak},
	{name: "FormattingDoesNotLeakToken", run: checkCredFormatting},
	{name: "Caching", run: checkCredCaching, applies: func(o *CredentialOptions) bool { return o.ExpectCaching }},
	{name: "ConcurrentColdCallers", run: checkCredColdCallers, applies: func(o *CredentialOptions) bool { return o.ExpectCaching }},
	{name: "ClaimsBypassCache", run: checkCredClaims, applies: func(o *CredentialOptions) bool { return o.Requests != nil }},
	{name: "Refresh", run: checkCredRefresh, applies: func(o *CredentialOptions) bool { return o.ExpectRefresh }},
	{name: "EntraError", run: checkCredEntraError, applies: func(o *CredentialOptions) bool { return o.FailingTenant != "" }},
}

// credRun is sourceRun for credentials.
type credRun struct {
	cred azcore.TokenCredential
	o    *CredentialOptions

	mu     sync.Mutex
	tokens []string
	took   map[string]time.Duration // as in sourceRun
	errs   []error
}

// errorf records a failure. The text is redacted: args often hold an error
// of the implementation under test, which may quote a token.
func (r *credRun) errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, errors.New(redactSecrets(fmt.Sprintf(format, args...), r.tokens)))
}

func (r *credRun) result() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs
}

func (r *credRun) call(ctx context.Context, tenant string) (tok azcore.AccessToken, err error, timedOut bool) {
	return r.callWith(ctx, policy.TokenRequestOptions{Scopes: []string{r.o.Scope}, TenantID: tenant})
}

// callWith is call with the request's options.
func (r *credRun) callWith(ctx context.Context, opts policy.TokenRequestOptions) (tok azcore.AccessToken, err error, timedOut bool) {
	type result struct {
		tok azcore.AccessToken
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		tok, err := r.cred.GetToken(ctx, opts)
		done <- result{tok, err}
	}()
	timer := time.NewTimer(r.o.Timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		r.observe(res.tok, res.err, time.Since(start))
		return res.tok, res.err, false
	case <-timer.C:
		r.errorf("GetToken did not return within %s (Timeout): a credential must honour its context and bound its I/O", r.o.Timeout)
		return azcore.AccessToken{}, nil, true
	}
}

func (r *credRun) observe(tok azcore.AccessToken, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && tok.Token != "" && !slices.Contains(r.tokens, tok.Token) {
		r.tokens = append(r.tokens, tok.Token)
		if r.took == nil {
			r.took = map[string]time.Duration{}
		}
		r.took[tok.Token] = took
	}
	if err != nil {
		for _, t := range r.tokens {
			if errorContains(err, t) {
				r.errs = append(r.errs, errors.New("an error contains a token this credential returned earlier"))
				break
			}
		}
	}
}

// good makes one bounded call that must succeed; tenant may be "".
func (r *credRun) good(what, tenant string) (azcore.AccessToken, bool) {
	return r.goodWith(what, policy.TokenRequestOptions{Scopes: []string{r.o.Scope}, TenantID: tenant})
}

// goodWith is good with the request's options.
func (r *credRun) goodWith(what string, opts policy.TokenRequestOptions) (azcore.AccessToken, bool) {
	tenant := opts.TenantID
	ctx, cancel := context.WithTimeout(r.o.base, r.o.Timeout)
	defer cancel()
	tok, err, timedOut := r.callWith(ctx, opts)
	if timedOut {
		return azcore.AccessToken{}, false
	}
	if err != nil {
		r.errorf("%s: GetToken failed: %v", what, err)
		return azcore.AccessToken{}, false
	}
	errs, c := validateAccessToken(tok, r.o, r.slack(tok.Token))
	for _, e := range errs {
		r.errorf("%s: %v", what, e)
	}
	if tenant != "" && c != nil && c.tid != "" && !strings.EqualFold(c.tid, tenant) {
		r.errorf("%s: asked for tenant %s, got a token whose tid is %s", what, tenant, c.tid)
	}
	return tok, true
}

// slack is as sourceRun.slack.
func (r *credRun) slack(token string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.took[token]
}

// validateAccessToken checks a token; it returns the JWT claims when the token
// is a JWT. slack is added to ExpiresOnTolerance (see sourceRun.slack).
func validateAccessToken(tok azcore.AccessToken, o *CredentialOptions, slack time.Duration) ([]error, *claims) {
	if tok.Token == "" {
		return []error{errors.New("returned an empty token with a nil error")}, nil
	}
	var errs []error
	now := o.Clock()
	if !tok.ExpiresOn.After(now) {
		errs = append(errs, fmt.Errorf("ExpiresOn %s is not after now (%s)", fmtTime(tok.ExpiresOn), fmtTime(now)))
	}
	if !tok.RefreshOn.IsZero() && tok.RefreshOn.After(tok.ExpiresOn) {
		errs = append(errs, fmt.Errorf("RefreshOn %s is after ExpiresOn %s", fmtTime(tok.RefreshOn), fmtTime(tok.ExpiresOn)))
	}
	c, err := parseJWT(tok.Token)
	if err != nil {
		if o.RequireJWT {
			errs = append(errs, fmt.Errorf("the token is not a usable JWT: %v", err))
		}
		return errs, nil
	}
	if !c.exp.IsZero() {
		if !c.exp.After(now) {
			errs = append(errs, fmt.Errorf("the JWT expired at %s, not after now (%s)", fmtTime(c.exp), fmtTime(now)))
		}
		// azcore's BearerTokenPolicy refreshes by ExpiresOn; an ExpiresOn
		// past exp means requests with a token the resource rejects.
		errs = append(errs, expiresOnAfterExp(tok.ExpiresOn, c.exp, slack, "azcore keeps sending a token the resource rejects")...)
	} else if o.RequireJWT {
		errs = append(errs, errors.New("the JWT has no exp claim"))
	}
	return errs, &c
}

func checkCredGetToken(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	r.good("GetToken", "")
	return r.result()
}

func checkCredConcurrent(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		wg.Go(func() {
			<-start
			r.good(fmt.Sprintf("concurrent caller %d of %d", i+1, o.Concurrency), "")
		})
	}
	close(start)
	wg.Wait()
	return r.result()
}

func checkCredCancelled(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	ctx, cancel := context.WithCancel(o.base)
	cancel()
	start := time.Now()
	_, err, timedOut := r.call(ctx, "")
	took := time.Since(start)
	if timedOut {
		return r.result()
	}
	switch {
	case err == nil:
		r.errorf("GetToken with a cancelled context on a fresh credential returned no error; want one wrapping context.Canceled")
	case !errors.Is(err, context.Canceled):
		r.errorf("GetToken with a cancelled context returned an error that does not wrap context.Canceled (errors.Is is false): %v", err)
	}
	if took > o.CancelLatency {
		r.errorf("GetToken with a context that was already done returned after %s: a credential must return within %s (CancelLatency) once its context is done", took.Round(time.Millisecond), o.CancelLatency)
	} else {
		o.logf.logf("GetToken with a done context returned in %s (bound %s)", took, o.CancelLatency)
	}
	return r.result()
}

func checkCredCancelDuringCall(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	type result struct {
		tok      azcore.AccessToken
		err      error
		timedOut bool
	}
	res, cancelled, took := cancelMidFlight(o.base, func(ctx context.Context) result {
		tok, err, timedOut := r.call(ctx, "")
		return result{tok, err, timedOut}
	})
	switch {
	case res.timedOut:
		return r.result()
	case res.err == nil:
		for _, e := range validateAccessTokenErrs(res.tok, o, r.slack(res.tok.Token)) {
			r.errorf("call that completed before its cancellation: %v", e)
		}
	case !errors.Is(res.err, context.Canceled):
		r.errorf("GetToken cancelled during the call returned an error that does not wrap context.Canceled: %v", res.err)
	}
	switch {
	case !cancelled:
		o.logf.logf("the call returned within %s, before it could be cancelled mid-flight", headStart)
	case took > o.CancelLatency:
		r.errorf("GetToken cancelled during the call returned %s after its cancellation: a credential must return within %s (CancelLatency) once its context is done", took.Round(time.Millisecond), o.CancelLatency)
	default:
		o.logf.logf("GetToken cancelled mid-flight returned %s after the cancellation (bound %s)", took, o.CancelLatency)
	}
	return r.result()
}

func validateAccessTokenErrs(tok azcore.AccessToken, o *CredentialOptions, slack time.Duration) []error {
	errs, _ := validateAccessToken(tok, o, slack)
	return errs
}

// requests reads the Requests hook, or -1 without one.
func (o *CredentialOptions) requests() int {
	if o.Requests == nil {
		return -1
	}
	return o.Requests()
}

func checkCredTenants(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	for _, tenant := range o.Tenants {
		r.good("tenant "+tenant, tenant)
	}
	if o.DisallowedTenant != "" {
		r.good("default tenant, before asking for a disallowed one", "")
		ctx, cancel := context.WithTimeout(o.base, o.Timeout)
		defer cancel()
		n0 := o.requests()
		_, err, timedOut := r.call(ctx, o.DisallowedTenant)
		n1 := o.requests()
		if !timedOut && err == nil {
			r.errorf("GetToken for the disallowed tenant %s succeeded; want an error", o.DisallowedTenant)
		}
		if n1 != n0 {
			r.errorf("GetToken for the disallowed tenant %s made %d upstream request(s) according to Requests: a tenant the credential is not allowed to use must be refused before any request reaches the network", o.DisallowedTenant, n1-n0)
		}
	}
	return r.result()
}

func checkCredErrorsDoNotLeak(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	if _, ok := r.good("GetToken before the error cases", ""); !ok {
		return r.result()
	}
	cancelled, cancel := context.WithCancel(o.base)
	cancel()
	r.call(cancelled, "")
	// A tenant that no credential may use: a different tenant ID always
	// reaches an error path (not allowed, or not found upstream).
	r.call(cancelled, "00000000-0000-0000-0000-00000000dead")
	if o.DisallowedTenant != "" {
		ctx, cancel := context.WithTimeout(o.base, o.Timeout)
		defer cancel()
		r.call(ctx, o.DisallowedTenant)
	}
	return r.result()
}

func checkCredFormatting(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	tok, ok := r.good("GetToken before formatting the credential", "")
	if !ok {
		return r.result()
	}
	for _, f := range formattings(cred) {
		if containsSecret(f.text, tok.Token) {
			r.errorf("%s of the credential contains its token", f.how)
		}
	}
	return r.result()
}

func checkCredCaching(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	if o.Requests == nil {
		r.errorf("CredentialOptions.ExpectCaching is set but Requests is nil: the harness cannot count upstream requests")
		return r.result()
	}
	n0 := o.Requests()
	first, ok := r.good("first GetToken", "")
	if !ok {
		return r.result()
	}
	n1 := o.Requests()
	second, ok := r.good("second GetToken", "")
	if !ok {
		return r.result()
	}
	n2 := o.Requests()
	if n1 <= n0 {
		r.errorf("the first GetToken of a fresh credential made no request according to Requests (%d before, %d after): is the hook counting this credential's requests?", n0, n1)
	}
	if n2 != n1 {
		r.errorf("the second GetToken made %d upstream request(s); want 0 (served from the cache)", n2-n1)
	}
	if first.Token != second.Token {
		r.errorf("the second GetToken returned a different token; want the cached one")
	}
	return r.result()
}

func checkCredColdCallers(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	if o.Requests == nil {
		r.errorf("CredentialOptions.ExpectCaching is set but Requests is nil: the harness cannot count upstream requests")
		return r.result()
	}
	n0 := o.Requests()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		wg.Go(func() {
			<-start
			r.good(fmt.Sprintf("cold caller %d of %d", i+1, o.Concurrency), "")
		})
	}
	close(start)
	wg.Wait()
	switch n := o.Requests() - n0; {
	case n == 0:
		r.errorf("%d concurrent first calls of a fresh credential made no request according to Requests: is the hook counting this credential's requests?", o.Concurrency)
	case n > 1:
		r.errorf("%d concurrent first calls of a fresh credential made %d upstream requests: concurrent cold callers for one tenant and scope must share one request", o.Concurrency, n)
	default:
		o.logf.logf("%d concurrent cold callers shared one upstream request", o.Concurrency)
	}
	return r.result()
}

// challengeClaims is a claims challenge as a resource sends it after
// revoking a token (Continuous Access Evaluation), decoded: the credential
// must request a new token carrying it.
func challengeClaims(now time.Time) string {
	return `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(now.Unix(), 10) + `"}}}`
}

func checkCredClaims(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	if _, ok := r.good("GetToken before the claims challenge", ""); !ok {
		return r.result()
	}
	n0 := o.Requests()
	if _, ok := r.goodWith("GetToken with Claims", policy.TokenRequestOptions{Scopes: []string{o.Scope}, Claims: challengeClaims(o.Clock())}); !ok {
		return r.result()
	}
	if n := o.Requests() - n0; n == 0 {
		r.errorf("GetToken with TokenRequestOptions.Claims made no upstream request according to Requests: a claims challenge says the cached token was refused, so Claims must bypass the cache and request a new token")
	}
	return r.result()
}

// refreshPoll is how often the Refresh check calls GetToken.
const refreshPoll = 50 * time.Millisecond

func checkCredRefresh(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	first, ok := r.good("first GetToken", "")
	if !ok {
		return r.result()
	}
	if life := first.ExpiresOn.Sub(o.Clock()); life > o.Timeout {
		r.errorf("ExpectRefresh is set but the first token expires in %s, later than Timeout (%s): the Refresh check needs an upstream that issues short-lived tokens (e.g. fakeidp.Options.TokenLifetime of a few seconds)", life.Round(time.Second), o.Timeout)
		return r.result()
	}
	// Poll until the first token has been expired for a moment, bounded by
	// the wall clock too (o.Clock may be a fake's).
	until := first.ExpiresOn.Add(2 * refreshPoll)
	wallLimit := time.Now().Add(o.Timeout)
	refreshedBefore, calls := false, 0
	ticker := time.NewTicker(refreshPoll)
	defer ticker.Stop()
	for o.Clock().Before(until) && time.Now().Before(wallLimit) {
		<-ticker.C
		ctx, cancel := context.WithTimeout(o.base, o.Timeout)
		tok, err, timedOut := r.call(ctx, "")
		cancel()
		end := o.Clock()
		calls++
		if timedOut {
			return r.result()
		}
		if err != nil {
			r.errorf("GetToken %d while the first token neared its expiry failed: %v", calls, err)
			return r.result()
		}
		if !tok.ExpiresOn.After(end) {
			r.errorf("GetToken at %s returned a token whose ExpiresOn %s had passed: a credential must never serve a token past its expiry; it must refresh it before it expires",
				fmtTimeFine(end), fmtTimeFine(tok.ExpiresOn))
			return r.result()
		}
		for _, e := range validateAccessTokenErrs(tok, o, r.slack(tok.Token)) {
			r.errorf("GetToken %d while the first token neared its expiry: %v", calls, e)
		}
		// A call that returned a new token before the first one expired:
		// end, not start, so that a credential which fetches only once the
		// token has expired never counts, however its call straddles expiry.
		if tok.Token != first.Token && end.Before(first.ExpiresOn) {
			refreshedBefore = true
		}
	}
	if !refreshedBefore {
		r.errorf("in %d calls the credential served no new token before its first one expired at %s: a token must be refreshed before it expires", calls, fmtTimeFine(first.ExpiresOn))
		return r.result()
	}
	o.logf.logf("a new token was served before the first expired at %s (%d calls)", fmtTimeFine(first.ExpiresOn), calls)
	return r.result()
}

func checkCredEntraError(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	if o.FailingTenantCode == 0 {
		r.errorf("CredentialOptions.FailingTenant is set but FailingTenantCode is 0: the EntraError check needs the AADSTS code Entra answers there")
		return r.result()
	}
	ctx, cancel := context.WithTimeout(o.base, o.Timeout)
	defer cancel()
	tok, err, timedOut := r.call(ctx, o.FailingTenant)
	switch {
	case timedOut:
	case err == nil && tok.Token == "":
		r.errorf("GetToken in tenant %s returned an empty token with a nil error: an Entra failure must surface as an error carrying its AADSTS code, never as an empty token", o.FailingTenant)
	case err == nil:
		r.errorf("GetToken in tenant %s succeeded; want Entra's AADSTS%d as an error (is FailingTenant a tenant where Entra refuses this app?)", o.FailingTenant, o.FailingTenantCode)
	case !o.HasCode(err, o.FailingTenantCode):
		r.errorf("GetToken in tenant %s failed with an error that does not carry AADSTS%d through errors.As (CredentialOptions.HasCode): an Entra failure must surface as an error a program can read the code from: %v", o.FailingTenant, o.FailingTenantCode, err)
	default:
		o.logf.logf("GetToken in tenant %s failed with AADSTS%d", o.FailingTenant, o.FailingTenantCode)
	}
	return r.result()
}
