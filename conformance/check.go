package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// ErrSkipped is matched ([errors.Is]) by the error of [CheckSource] and
// [CheckCredential] when a check could not be performed: no issuer keys were
// reachable, a token endpoint did not answer. A skipped check is not a
// passed one; use [Failed] to tell a run with failures from a run whose only
// findings are skips.
var ErrSkipped = errors.New("conformance: check skipped")

// CheckError is one check that did not pass, in the error of [CheckSource] or
// [CheckCredential] (which joins one per such check, in the order they ran).
// Get them with errors.As, or walk the joined error's Unwrap() []error.
type CheckError struct {
	// Check is the check's name, the subtest name [TestSource] and
	// [TestCredential] give it, e.g. "IssuerSignature".
	Check string
	// Skipped is true when the check could not be performed; Errs then holds
	// the reason.
	Skipped bool
	// Errs are every violation the check found (or the reason it skipped).
	// They never contain a token.
	Errs []error
}

func (e *CheckError) Error() string {
	what := "failed"
	if e.Skipped {
		what = "skipped"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "conformance: %s %s", e.Check, what)
	for i, err := range e.Errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns Errs, and [ErrSkipped] when the check was skipped.
func (e *CheckError) Unwrap() []error {
	if e.Skipped {
		return append([]error{ErrSkipped}, e.Errs...)
	}
	return e.Errs
}

// Failed reports whether err, from [CheckSource] or [CheckCredential], holds
// a failure: a check that failed, or a run that could not complete. It is
// false for nil and for an error made only of skipped checks.
func Failed(err error) bool {
	if err == nil {
		return false
	}
	var ce *CheckError
	switch e := err.(type) {
	case *CheckError:
		return !e.Skipped
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if Failed(inner) {
				return true
			}
		}
		return false
	default:
		if errors.As(err, &ce) {
			return !ce.Skipped
		}
		return true
	}
}

// skipError is a check's way to say it could not be performed. It travels in
// the check's []error so that checks stay plain functions.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

// skipf returns a skip with a reason, redacted like every report.
func skipf(format string, args ...any) error {
	return skipError{redactSecrets(fmt.Sprintf(format, args...), nil)}
}

// outcome splits a check's findings into failures and the reason of a skip.
// A check that found failures has failed, whether or not it also skipped a
// part.
func outcome(errs []error) (failures []error, skip string) {
	var reasons []string
	for _, err := range errs {
		var s skipError
		if errors.As(err, &s) {
			reasons = append(reasons, s.reason)
			continue
		}
		failures = append(failures, err)
	}
	if len(failures) > 0 {
		return failures, ""
	}
	return nil, strings.Join(reasons, "; ")
}

// report runs one check's findings into t: t.Error per failure, else t.Skip
// with the reason when it skipped.
func report(t *testing.T, errs []error) {
	t.Helper()
	failures, skip := outcome(errs)
	for _, err := range failures {
		t.Error(err)
	}
	if len(failures) == 0 && skip != "" {
		t.Skip(skip)
	}
}

// checkOutcome is the *CheckError of one check for the Check functions, or
// nil when it passed.
func checkOutcome(name string, errs []error) error {
	failures, skip := outcome(errs)
	switch {
	case len(failures) > 0:
		return &CheckError{Check: name, Errs: failures}
	case skip != "":
		return &CheckError{Check: name, Skipped: true, Errs: []error{errors.New(skip)}}
	}
	return nil
}

// stopped is the error of a Check run whose context ended before or during
// check name.
func stopped(ctx context.Context, name string) error {
	return fmt.Errorf("conformance: stopped at check %s: %w", name, context.Cause(ctx))
}

// logger is a notes function that may be nil.
type logger func(format string, args ...any)

func (l logger) logf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}
