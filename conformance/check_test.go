package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantbridge/tenantbridge/assertion"
)

func TestCheckSourcePasses(t *testing.T) {
	tok := validJWT(t, time.Now().Add(time.Hour))
	err := CheckSource(t.Context(), func() (assertion.Source, error) { return assertion.Static(tok), nil },
		&SourceOptions{Audience: assertion.ResourceAzurePublic, Keys: testKeys()})
	if err != nil {
		t.Errorf("CheckSource(Static) = %s; want nil", redactSecrets(err.Error(), []string{tok}))
	}
}

// TestCheckSourceReportsEveryFailedCheck: the error joins one *CheckError per
// failed check, named, with the contract in it, and no token.
func TestCheckSourceReportsEveryFailedCheck(t *testing.T) {
	tok := hs256JWT(t, time.Now().Add(-time.Minute)) // expired, and HS256
	err := CheckSource(t.Context(), func() (assertion.Source, error) { return leakyString{tok}, nil }, &SourceOptions{Keys: testKeys()})
	if !Failed(err) || errors.Is(err, ErrSkipped) {
		t.Fatalf("CheckSource on a broken source: Failed %t, skipped %t; want a failure and no skip", Failed(err), errors.Is(err, ErrSkipped))
	}
	failed := map[string]string{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *CheckError
		if !errors.As(e, &ce) || ce.Skipped {
			t.Errorf("a part of the error is not a failed *CheckError: %v", e)
			continue
		}
		failed[ce.Check] = ce.Error()
	}
	for check, want := range map[string]string{
		"Assertion":                  "expired at",
		"IssuerSignature":            "Entra accepts only RS256-signed assertions",
		"FormattingDoesNotLeakToken": "String() of the Source contains its token",
	} {
		if !strings.Contains(failed[check], want) || !strings.HasPrefix(failed[check], "conformance: "+check+" failed: ") {
			t.Errorf("check %s reported %q; want a failure containing %q", check, failed[check], want)
		}
	}
	if containsSecret(err.Error(), tok) {
		t.Error("the error contains the token")
	}
}

// TestCheckSourceSkipIsNotAPass: a check that cannot be performed makes the
// error non-nil, matching ErrSkipped, with the reason, and not Failed.
func TestCheckSourceSkipIsNotAPass(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	tok := issuedBy(t, srv.URL, testKid)
	err := CheckSource(t.Context(), func() (assertion.Source, error) { return assertion.Static(tok), nil }, &SourceOptions{Transport: srv.Client()})
	if err == nil || !errors.Is(err, ErrSkipped) || Failed(err) {
		t.Fatalf("CheckSource with an unreachable issuer = %v (Failed %t); want only a skip", err, Failed(err))
	}
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Check != "IssuerSignature" || !ce.Skipped || !strings.Contains(ce.Error(), "cannot verify the signature") {
		t.Errorf("CheckError = %+v; want IssuerSignature skipped with the reason", ce)
	}
}

// TestTestSourceSkipsWhatItCannotCheck: the testing.T form turns the same
// skip into t.Skip.
func TestTestSourceSkipsWhatItCannotCheck(t *testing.T) {
	var skipped *testing.T
	t.Run("skip", func(t *testing.T) { skipped = t; report(t, []error{skipf("cannot verify")}) })
	if !skipped.Skipped() || skipped.Failed() {
		t.Errorf("report of a skip: skipped %t failed %t; want a skip", skipped.Skipped(), skipped.Failed())
	}
	// A failing subtest would fail this test; check outcome's split instead,
	// and that a skip never hides a failure.
	failures, skip := outcome([]error{skipf("cannot verify"), errors.New("broken")})
	if len(failures) != 1 || skip != "" {
		t.Errorf("outcome of a skip and a failure = %q, %q; want the failure only", failures, skip)
	}
}

func TestCheckSourceStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := CheckSource(ctx, func() (assertion.Source, error) { calls++; return assertion.Static("x"), nil }, nil)
	if !Failed(err) || !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("CheckSource with a cancelled context = %v after %d source(s); want a failure wrapping context.Canceled and no check run", err, calls)
	}
}

// TestCheckSourceStoppedMidCheck: a run whose context ends during a check
// reports the stop, not the implementation's context errors as its failures.
func TestCheckSourceStoppedMidCheck(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	err := CheckSource(ctx, func() (assertion.Source, error) {
		calls++
		return assertion.Func(func(ctx context.Context) (assertion.Assertion, error) {
			cancel() // the run ends during the first check
			return assertion.Assertion{}, ctx.Err()
		}), nil
	}, &SourceOptions{Keys: testKeys()})
	var ce *CheckError
	if !Failed(err) || !errors.Is(err, context.Canceled) || errors.As(err, &ce) || calls != 1 || !strings.Contains(err.Error(), "stopped at check Assertion") {
		t.Errorf("CheckSource stopped during its first check = %v after %d source(s); want only the stop at Assertion", err, calls)
	}
}

func TestCheckSourceFactoryError(t *testing.T) {
	err := CheckSource(t.Context(), func() (assertion.Source, error) { return nil, errors.New("no platform") }, nil)
	var ce *CheckError
	if !Failed(err) || !errors.As(err, &ce) || !strings.Contains(ce.Error(), "newSource: no platform") {
		t.Errorf("CheckSource with a failing factory = %v; want each check failed with the factory's error", err)
	}
}

func TestCheckCredential(t *testing.T) {
	var c *fakeCred
	if err := CheckCredential(t.Context(), func() (azcore.TokenCredential, error) { c = &fakeCred{}; return c, nil }, fakeCredOptions(&c)); err != nil {
		t.Errorf("CheckCredential on a well-behaved credential = %v; want nil", err)
	}
	o := fakeCredOptions(&c)
	err := CheckCredential(t.Context(), func() (azcore.TokenCredential, error) { c = &fakeCred{ignoreClaims: true}; return c, nil }, o)
	var ce *CheckError
	if !Failed(err) || !errors.As(err, &ce) || ce.Check != "ClaimsBypassCache" || !strings.Contains(err.Error(), "Claims must bypass the cache") {
		t.Errorf("CheckCredential on a credential that ignores claims = %v; want ClaimsBypassCache failed", err)
	}
	if got := strings.Count(err.Error(), "conformance: "); got != 1 {
		t.Errorf("CheckCredential reported %d checks; want only ClaimsBypassCache: %v", got, err)
	}
}

func TestFailed(t *testing.T) {
	skip := &CheckError{Check: "A", Skipped: true, Errs: []error{errors.New("why")}}
	fail := &CheckError{Check: "B", Errs: []error{errors.New("broken")}}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{skip, false},
		{errors.Join(skip, skip), false},
		{fail, true},
		{errors.Join(skip, fail), true},
		{errors.Join(skip, errors.New("stopped")), true},
	} {
		if got := Failed(tc.err); got != tc.want {
			t.Errorf("Failed(%v) = %t; want %t", tc.err, got, tc.want)
		}
	}
	if !errors.Is(skip, ErrSkipped) || errors.Is(fail, ErrSkipped) {
		t.Error("errors.Is(…, ErrSkipped) must hold for a skipped check only")
	}
}

// TestCheckSourceNotesMeasuredTimes: a passing run still reports how long a
// call took to return once its context was done, through Logf.
func TestCheckSourceNotesMeasuredTimes(t *testing.T) {
	tok := validJWT(t, time.Now().Add(time.Hour))
	var mu sync.Mutex
	var notes []string
	err := CheckSource(t.Context(), func() (assertion.Source, error) { return assertion.Static(tok), nil }, &SourceOptions{
		Keys: testKeys(),
		Logf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			notes = append(notes, fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		t.Fatalf("CheckSource(Static) = %s; want nil", redactSecrets(err.Error(), []string{tok}))
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(notes, "\n")
	if !regexp.MustCompile(`Assertion with a done context returned in \S+ \(bound 1s\)`).MatchString(all) {
		t.Errorf("notes %q; want the measured time of a call with a done context", notes)
	}
	if leak := containsSecret(all, tok); leak {
		t.Error("the notes contain the token")
	}
}
