// Package bodylimit reads bounded bodies: a response, a file or a request
// longer than the caller's limit is an error, never a silently truncated
// success. It is the one bounded reader of the module (SDK habit 12: bound
// everything read from the network).
//
//	body, err := bodylimit.Read(resp.Body, 1<<20)
//	if errors.Is(err, bodylimit.ErrTooLarge) { ... }
package bodylimit

import (
	"errors"
	"io"
	"strconv"
)

// ErrTooLarge is the sentinel every [*TooLargeError] matches with [errors.Is].
var ErrTooLarge = errors.New("body too large")

// TooLargeError reports a body longer than Limit bytes.
type TooLargeError struct {
	// Limit is the number of bytes the reader was allowed to return.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return "body larger than the limit of " + Size(e.Limit)
}

// Is makes errors.Is(err, [ErrTooLarge]) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Read reads r to its end and returns its bytes when there are at most max of
// them; a longer body is a [*TooLargeError] and no bytes. It reads at most
// max+1 bytes, so a body that never ends costs no more than that.
func Read(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(NewReader(r, max))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// NewReader returns a reader of r that fails with a [*TooLargeError] once r
// holds more than max bytes, instead of ending early as [io.LimitReader]
// does: a streaming decoder then sees an error, not a truncated document.
func NewReader(r io.Reader, max int64) io.Reader {
	return &reader{r: r, left: max, limit: max}
}

type reader struct {
	r     io.Reader
	left  int64
	limit int64
}

func (l *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.left <= 0 {
		// The limit is reached: one more byte means the body is too long,
		// io.EOF means it was exactly the limit.
		var one [1]byte
		for range 100 {
			n, err := l.r.Read(one[:])
			if n > 0 {
				return 0, &TooLargeError{Limit: l.limit}
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, io.ErrNoProgress // as bufio does for a reader stuck at (0, nil)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// Size formats a byte count for a person: "1 MiB", "64 KiB", "1000 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	case n == 1:
		return "1 byte"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
