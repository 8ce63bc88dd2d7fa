package assertion

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestAssertionFormattingRedactsToken(t *testing.T) {
	const secret = "header.payload-that-must-not-leak.signature"
	a := Assertion{Token: secret, ExpiresOn: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, a)
		if strings.Contains(got, secret) {
			t.Errorf("fmt %s of an Assertion contains the token", verb)
		}
		if !strings.Contains(got, "2026-11-27T10:00:00Z") {
			t.Errorf("fmt %s = %q, want the expiry", verb, got)
		}
	}
	if got := fmt.Sprint(Assertion{}); got != "assertion.Assertion{empty}" {
		t.Errorf("empty assertion prints %q", got)
	}
	if got := fmt.Sprint(Assertion{Token: secret}); strings.Contains(got, secret) || !strings.Contains(got, "unknown") {
		t.Errorf("assertion without expiry prints %q", got)
	}
}
