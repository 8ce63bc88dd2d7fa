package graphtest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultEndpoint is the first part of every fault spec that ParseFault reads.
// It names the listener, as fakeidp's endpoints ("token", "msi") do, so that
// one command-line flag can carry faults for either server.
const FaultEndpoint = "graph"

// ParseFault reads the command-line form of a Fault: "graph", then
// colon-separated items:
//
//   - a status code from 400 to 599 (401 is a claims challenge);
//   - "claims": a Continuous Access Evaluation claims challenge (401 with
//     WWW-Authenticate error="insufficient_claims"), the typical claims;
//   - "retry-after=SECONDS" or "retry-after=DURATION" ("1500ms", rounded up
//     to whole seconds, the unit of Retry-After);
//   - "count=N": the next N matching requests; without it, or with count=0,
//     every matching request until the server closes (as fakeidp's faults);
//   - "path=TEXT": only requests whose path contains TEXT.
//
// Examples: "graph:429:retry-after=2:count=3", "graph:503",
// "graph:claims:count=1", "graph:503:path=/devices/$count".
//
// Errors name the spec and the item that is wrong.
func ParseFault(spec string) (Fault, error) {
	parts := strings.Split(spec, ":")
	if parts[0] != FaultEndpoint {
		return Fault{}, fmt.Errorf("graphtest: fault %q: unknown endpoint %q, want %q", spec, parts[0], FaultEndpoint)
	}
	if len(parts) == 1 {
		return Fault{}, fmt.Errorf("graphtest: fault %q: nothing to do (add a status such as 429 or 503, or claims)", spec)
	}
	f := Fault{Count: -1}
	for _, item := range parts[1:] {
		key, val, hasVal := strings.Cut(item, "=")
		var err error
		switch {
		case !hasVal && key == "claims":
			if f.Status != 0 && f.Status != http.StatusUnauthorized {
				err = fmt.Errorf("a claims challenge is a 401, and the spec already has %d", f.Status)
			}
			f.Status = http.StatusUnauthorized
		case key == "latency" || key == "body" || key == "reset":
			// fakeidp's items; graphtest's faults answer at once.
			err = errors.New("graph faults have no " + key + " (items: a status, claims, retry-after=, count=, path=)")
		case !hasVal:
			var n int
			n, err = strconv.Atoi(key)
			switch {
			case err != nil:
				err = errors.New("not a status code, claims, or KEY=VALUE")
			case n < 400 || n > 599:
				err = errors.New("status out of range (want 400 to 599)")
			case f.Status != 0 && f.Status != n:
				err = fmt.Errorf("a second status (the spec already has %d)", f.Status)
			default:
				f.Status = n
			}
		case key == "count":
			var n int
			n, err = strconv.Atoi(val)
			switch {
			case err != nil || n < 0:
				err = errors.New("count must be a whole number, 0 or more")
			case n == 0:
				f.Count = -1
			default:
				f.Count = n
			}
		case key == "retry-after":
			f.RetryAfter, err = retryAfterSeconds(val)
		case key == "path":
			if val == "" {
				err = errors.New("empty path")
			}
			f.Path = val
		default:
			err = errors.New("unknown item (items: a status, claims, retry-after=, count=, path=)")
		}
		if err != nil {
			return Fault{}, fmt.Errorf("graphtest: fault %q: %q: %v", spec, item, err)
		}
	}
	if f.Status == 0 {
		return Fault{}, fmt.Errorf("graphtest: fault %q: no status (add one such as 429 or 503, or claims)", spec)
	}
	return f, nil
}

// retryAfterSeconds renders a Retry-After value in whole seconds (RFC 9110,
// section 10.2.3: delay-seconds), rounding a duration up so that a client
// never retries before the fault meant it to.
func retryAfterSeconds(v string) (string, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return "", errors.New("retry-after must not be negative")
		}
		return strconv.Itoa(n), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return "", errors.New("retry-after wants seconds (2) or a duration (1500ms)")
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10), nil
}
