package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/assertion"
)

// The note of a verified signature quotes the JWT's kid, text the source
// chose: clipped like every other such text, so a kid cannot forge a log
// line or carry a JWT into the test output.
func TestVerifiedSignatureNoteClipsTheKid(t *testing.T) {
	kid := "k\nFORGED log line " + strings.Repeat("x", 200)
	tok := signRS256(t, testRSAKey(), kid, assertionClaims(time.Now().Add(time.Hour)))
	var notes []string
	o := &SourceOptions{Keys: testKeys()}
	o.Keys[kid] = &testRSAKey().PublicKey
	o.logf = func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	src := assertion.Func(func(context.Context) (assertion.Assertion, error) {
		return assertion.Assertion{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, nil
	})
	r := newSourceRun(src, o)
	r.verifySignature(tok)
	if errs := r.result(); len(errs) != 0 {
		t.Fatalf("verifySignature: %v", errs)
	}
	all := strings.Join(notes, "\n")
	if !strings.Contains(all, "signature verifies") {
		t.Fatalf("no note of the verified signature")
	}
	if strings.Contains(all, "\nFORGED") || strings.Contains(all, strings.Repeat("x", 100)) {
		t.Errorf("the note quotes the kid unclipped: %.200q", all)
	}
}
