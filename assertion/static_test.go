package assertion

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatic(t *testing.T) {
	src := Static(testToken)
	a, err := src.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Assertion{Token: testToken}, a); diff != "" {
		t.Error("Static returned another assertion")
	}
	if got := src.(fmt.Stringer).String(); got != "assertion.Static" {
		t.Errorf("String() = %q", got)
	}
	// fmt verbs on the source must not reveal the token either.
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		checkNoSecret(t, "fmt "+verb, fmt.Sprintf(verb, src))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Assertion(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestFunc(t *testing.T) {
	want := errors.New("from the function")
	src := Func(func(ctx context.Context) (Assertion, error) { return Assertion{Token: "x"}, want })
	a, err := src.Assertion(context.Background())
	if a.Token != "x" || !errors.Is(err, want) {
		t.Errorf("Func did not pass through the function's result")
	}
	if got := src.String(); got != "assertion.Func" {
		t.Errorf("String() = %q", got)
	}
}
