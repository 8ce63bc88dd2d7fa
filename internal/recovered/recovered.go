// Package recovered turns a panic, or a runtime.Goexit, in a caller's
// function into an error, so that code running that function (a cache's
// fetch, one tenant of a fan-out) releases whoever waits for it and never
// kills its host (SDK habit 17). It is the one implementation of that rule.
//
//	recovered.Into("fanout: the function for tenant "+tenant, &r.Value, &r.Err, func() (T, error) {
//		return fn(ctx, tenant)
//	})
//	if errors.Is(r.Err, recovered.ErrPanicked) { ... }
package recovered

import (
	"errors"
	"fmt"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// ErrPanicked is matched (errors.Is) by every error of this package: the
// function panicked or called runtime.Goexit.
var ErrPanicked = errors.New("recovered: the function panicked or called runtime.Goexit")

// MaxValueBytes bounds how much of a panic value an error quotes, the "…"
// that marks a cut included: enough to recognise it, too little to carry a
// payload into every log line.
const MaxValueBytes = 200

type panicError struct {
	name  string
	value string // clipped by leak.Clip; "" after runtime.Goexit
	exit  bool
}

func (e *panicError) Error() string {
	if e.exit {
		return e.name + " called runtime.Goexit instead of returning"
	}
	return e.name + " panicked: " + e.value
}

func (e *panicError) Is(target error) bool { return target == ErrPanicked }

// Into runs fn in the caller's goroutine and stores its results in *v and
// *err, whatever fn does. If fn panics, *v is the zero V and *err an error
// matching [ErrPanicked] that starts with name (what ran, in the caller's
// words: "federated: token request"), and Into returns. If fn calls
// runtime.Goexit, the goroutine still ends, as Goexit demands, but *v and
// *err are stored first, so the caller's deferred functions (closing a
// flight, wg.Done) and whoever reads the results afterwards see an error
// rather than a zero success.
func Into[V any](name string, v *V, err *error, fn func() (V, error)) {
	returned := false
	defer func() {
		if !returned {
			var zero V
			*v, *err = zero, newError(name, recover())
		}
	}()
	*v, *err = fn()
	returned = true
}

// Call is [Into] for a caller who reads the results where it called: it
// returns them. After runtime.Goexit it does not return; the goroutine ends.
func Call[V any](name string, fn func() (V, error)) (v V, err error) {
	Into(name, &v, &err, fn)
	return v, err
}

// newError describes the value p that recover returned for a function that
// did not return normally: nil means runtime.Goexit. The value is user data
// that may quote a token, so it passes through leak.Clip: redacted, stripped
// of control characters (a newline would forge a log line) and cut to
// [MaxValueBytes].
func newError(name string, p any) error {
	if p == nil {
		return &panicError{name: name, exit: true}
	}
	return &panicError{name: name, value: leak.Clip(fmt.Sprint(p), MaxValueBytes-len("…"))}
}
