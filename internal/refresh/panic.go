package refresh

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tenantbridge/tenantbridge/internal/leak"
)

// ErrPanicked is matched (errors.Is) by the error callers get when the fetch
// they waited for panicked or called runtime.Goexit.
var ErrPanicked = errors.New("the fetch panicked")

// maxPanicText bounds how much of a panic value an error quotes: enough to
// recognise it, too little to carry a payload into every log line.
const maxPanicText = 200

type panicErr struct {
	name  string
	value string // redacted and clipped; "" after runtime.Goexit
	exit  bool
}

func (e *panicErr) Error() string {
	if e.exit {
		return e.name + ": the fetch called runtime.Goexit instead of returning"
	}
	return e.name + " panicked: " + e.value
}

func (e *panicErr) Is(target error) bool { return target == ErrPanicked }

// Call runs fetch in the caller's goroutine under the same rule as a cached
// fetch: a panic becomes an error matching [ErrPanicked], named by name. It
// is for fetches that bypass the cache (federated's claims challenges), so
// that a Host has one rule for every path.
func Call[V any](name string, fetch func() (V, error)) (v V, err error) {
	returned := false
	defer func() {
		if !returned {
			var zero V
			v, err = zero, panicError(name, recover())
		}
	}()
	v, err = fetch()
	returned = true
	return v, err
}

// panicError describes the recovered value v (nil after runtime.Goexit). The
// value is user data that may quote a token, so it passes through
// leak.Redact, loses its control characters (a newline would forge a log
// line) and is clipped.
func panicError(name string, v any) error {
	if v == nil {
		return &panicErr{name: name, exit: true}
	}
	return &panicErr{name: name, value: clip(leak.Redact(v), maxPanicText)}
}

// clip replaces control characters with spaces and cuts s to at most max
// bytes on a rune boundary, marking the cut with "...".
func clip(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= max {
		return s
	}
	cut := max - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
