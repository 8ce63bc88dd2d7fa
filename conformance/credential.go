package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// CredentialOptions tunes [TestCredential]. A nil *CredentialOptions and zero
// fields mean defaults.
type CredentialOptions struct {
	// Scope is requested in every call. Empty means
	// "https://graph.microsoft.com/.default".
	Scope string
	// Tenants, when set, are requested one by one through
	// [policy.TokenRequestOptions].TenantID in the TenantSelection subtest; each must
	// yield a token, and when the token is a JWT with a tid claim, tid must be
	// that tenant.
	Tenants []string
	// DisallowedTenant, when set, is a tenant the credential is not allowed to
	// use: asking for it must fail, and the error must not contain a token.
	DisallowedTenant string
	// ExpectCaching makes the Caching subtest require that a second call for
	// the same scope and tenant is served without an upstream request, as
	// counted by Requests.
	ExpectCaching bool
	// Requests returns how many token requests have reached the upstream
	// identity provider so far, e.g. by counting a fake's recorded requests
	// or wrapping the credential's transport. It must only grow. Required by
	// ExpectCaching; the subtests run one after another, so a counter shared
	// by the credentials of every subtest is fine.
	Requests func() int
	// RequireJWT fails tokens that are not JWTs. Entra's access tokens are
	// JWTs, but resources are told to treat them as opaque, so by default
	// the JWT checks (exp against ExpiresOn, tid) apply only when the token
	// parses as one.
	RequireJWT bool
	// Concurrency, Timeout and Clock are as in [SourceOptions].
	Concurrency int
	Timeout     time.Duration
	Clock       func() time.Time
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
	if r.Clock == nil {
		r.Clock = time.Now
	}
	return r
}

// TestCredential runs the [azcore.TokenCredential] conformance suite as
// subtests of t, each on a fresh credential from newCred, and reports every
// failure with t.Errorf. The subtests are:
//
//   - GetToken: a token for [CredentialOptions.Scope], non-empty, ExpiresOn in
//     the future, RefreshOn (when set) before ExpiresOn; for a JWT, exp in the
//     future and ExpiresOn not later than exp.
//   - Concurrent: [CredentialOptions.Concurrency] simultaneous callers all get
//     such a token.
//   - CancelledContext: a fresh credential given a cancelled context fails
//     within the timeout with an error wrapping context.Canceled.
//   - TenantSelection: only when Tenants or DisallowedTenant is set; see
//     [CredentialOptions].
//   - ErrorsDoNotLeakToken: no error of the credential, in any subtest,
//     contains a token it returned.
//   - FormattingDoesNotLeakToken: as for sources.
//   - Caching: only when ExpectCaching is set; see [CredentialOptions].
//
// Run under -race.
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
			for _, err := range c.run(cred, &o) {
				t.Error(err)
			}
		})
	}
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
	{name: "TenantSelection", run: checkCredTenants, applies: func(o *CredentialOptions) bool {
		return len(o.Tenants) > 0 || o.DisallowedTenant != ""
	}},
	{name: "ErrorsDoNotLeakToken", run: checkCredErrorsDoNotLeak},
	{name: "FormattingDoesNotLeakToken", run: checkCredFormatting},
	{name: "Caching", run: checkCredCaching, applies: func(o *CredentialOptions) bool { return o.ExpectCaching }},
}

// credRun is sourceRun for credentials.
type credRun struct {
	cred azcore.TokenCredential
	o    *CredentialOptions

	mu     sync.Mutex
	tokens []string
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
	type result struct {
		tok azcore.AccessToken
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := r.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{r.o.Scope}, TenantID: tenant})
		done <- result{tok, err}
	}()
	timer := time.NewTimer(r.o.Timeout)
	defer timer.Stop()
	select {
	case res := <-done:
		r.observe(res.tok, res.err)
		return res.tok, res.err, false
	case <-timer.C:
		r.errorf("GetToken did not return within %s (a credential must honour its context and bound its I/O)", r.o.Timeout)
		return azcore.AccessToken{}, nil, true
	}
}

func (r *credRun) observe(tok azcore.AccessToken, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && tok.Token != "" && !slices.Contains(r.tokens, tok.Token) {
		r.tokens = append(r.tokens, tok.Token)
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
	ctx, cancel := context.WithTimeout(context.Background(), r.o.Timeout)
	defer cancel()
	tok, err, timedOut := r.call(ctx, tenant)
	if timedOut {
		return azcore.AccessToken{}, false
	}
	if err != nil {
		r.errorf("%s: GetToken failed: %v", what, err)
		return azcore.AccessToken{}, false
	}
	errs, c := validateAccessToken(tok, r.o)
	for _, e := range errs {
		r.errorf("%s: %v", what, e)
	}
	if tenant != "" && c != nil && c.tid != "" && !strings.EqualFold(c.tid, tenant) {
		r.errorf("%s: asked for tenant %s, got a token whose tid is %s", what, tenant, c.tid)
	}
	return tok, true
}

// validateAccessToken checks a token; it returns the JWT claims when the token
// is a JWT.
func validateAccessToken(tok azcore.AccessToken, o *CredentialOptions) ([]error, *claims) {
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
		if tok.ExpiresOn.After(c.exp.Add(time.Second)) {
			errs = append(errs, fmt.Errorf("ExpiresOn %s is later than the JWT's exp %s", fmtTime(tok.ExpiresOn), fmtTime(c.exp)))
		}
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
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err, timedOut := r.call(ctx, "")
	switch {
	case timedOut:
	case err == nil:
		r.errorf("GetToken with a cancelled context on a fresh credential returned no error; want one wrapping context.Canceled")
	case !errors.Is(err, context.Canceled):
		r.errorf("GetToken with a cancelled context returned an error that does not wrap context.Canceled (errors.Is is false): %v", err)
	}
	return r.result()
}

func checkCredTenants(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	for _, tenant := range o.Tenants {
		r.good("tenant "+tenant, tenant)
	}
	if o.DisallowedTenant != "" {
		r.good("default tenant, before asking for a disallowed one", "")
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
		defer cancel()
		if _, err, timedOut := r.call(ctx, o.DisallowedTenant); !timedOut && err == nil {
			r.errorf("GetToken for the disallowed tenant %s succeeded; want an error", o.DisallowedTenant)
		}
	}
	return r.result()
}

func checkCredErrorsDoNotLeak(cred azcore.TokenCredential, o *CredentialOptions) []error {
	r := &credRun{cred: cred, o: o}
	if _, ok := r.good("GetToken before the error cases", ""); !ok {
		return r.result()
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	r.call(cancelled, "")
	// A tenant that no credential may use: a different tenant ID always
	// reaches an error path (not allowed, or not found upstream).
	r.call(cancelled, "00000000-0000-0000-0000-00000000dead")
	if o.DisallowedTenant != "" {
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
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
