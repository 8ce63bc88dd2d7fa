// Package retryafter reads the delay a server asks for before a retry: the
// standard Retry-After header (delta-seconds or an HTTP date, RFC 9110
// §10.2.3) and the millisecond headers Azure services send (Retry-After-Ms,
// X-Ms-Retry-After-Ms). It is the one parser of these headers in the module.
//
//	if d, ok := retryafter.Capped(resp.Header, time.Now(), maxDelay); ok {
//		wait = d
//	}
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max is the largest delay [Parse] returns. A server value beyond it is
// clamped before it is multiplied into a [time.Duration], so that
// "Retry-After: 9223372036854775807" cannot overflow into a negative wait.
// Callers cap the delay again at their own, much smaller, limit ([Capped]).
const Max = 24 * time.Hour

// The headers Parse reads, in the order it reads them. The millisecond forms
// come first: a server that sends both means the more precise one (azcore's
// retry policy reads them in the same order of preference).
var headers = [...]struct {
	name string
	unit time.Duration
}{
	{"Retry-After-Ms", time.Millisecond},
	{"X-Ms-Retry-After-Ms", time.Millisecond},
	{"Retry-After", time.Second},
}

// Parse returns the delay h asks for, measured from now for an HTTP date.
// The first header that parses wins; ok is false when none is present or
// none parses. A negative number is not a delay (RFC 9110 allows digits
// only) and is skipped like any other unreadable value, so that a hostile
// "-1" cannot turn the caller's backoff into a 0 s wait; a date in the past is
// 0 (retry now); anything longer than [Max] is Max.
func Parse(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if h == nil {
		return 0, false
	}
	for _, hd := range headers {
		v := strings.TrimSpace(h.Get(hd.name))
		if v == "" {
			continue
		}
		if d, ok := number(v, hd.unit); ok {
			return d, true
		}
		if hd.unit == time.Second {
			if t, err := http.ParseTime(v); err == nil {
				return min(max(t.Sub(now), 0), Max), true
			}
		}
	}
	return 0, false
}

// Capped is [Parse] with the result limited to limit, so that one hostile or
// confused header cannot park a caller for hours (go-retryablehttp's default
// backoff honours any value: its issue 247).
func Capped(h http.Header, now time.Time, limit time.Duration) (time.Duration, bool) {
	d, ok := Parse(h, now)
	if !ok {
		return 0, false
	}
	return min(d, max(limit, 0)), true
}

// number reads an integer count of unit (delta-seconds is 1*DIGIT: a sign
// makes it unreadable), clamped to Max before it is multiplied. Digits too
// many for a uint64 are still a (huge) number.
func number(v string, unit time.Duration) (time.Duration, bool) {
	digits := v
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > uint64(Max/unit) {
		return Max, true // only ErrRange is possible after the digit check
	}
	return time.Duration(n) * unit, true
}

// Normalize rewrites h's delay headers in place so that a reader that does
// not clamp (azcore's retry policy multiplies Retry-After into a
// time.Duration, and 18446744074 seconds wraps to 290 ms) sees what [Parse]
// reads: the delay as Retry-After-Ms, clamped to [Max], the other two
// headers removed; or, when none parses (a negative or garbage value), none
// of the three, so that the reader falls back to its own backoff.
func Normalize(h http.Header, now time.Time) {
	d, ok := Parse(h, now)
	for _, hd := range headers {
		h.Del(hd.name)
	}
	if ok {
		h.Set("Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
	}
}
