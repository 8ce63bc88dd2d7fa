package fault

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// itemsHint lists what may follow the endpoint; error messages end with it.
const itemsHint = "items: a status such as 503, claims, reset, latency=D, retry-after=S, count=N, body=truncated|malformed|oversize, path=TEXT"

// Parse reads the command-line form of a [Fault] (fakemsi's --fault and its
// config's faults, documented in docs/fakemsi.md): an endpoint, then
// colon-separated items.
//
//   - The endpoint: "token", "openid", "keys", "discovery", "appservice",
//     "imds", "arc", "msi" (the managed-identity endpoints), "github",
//     "graph", "arm", or "*" (also
//     "all") for every endpoint of the server it is added to.
//   - NNN, a status from 400 to 599: answer with it and the endpoint's error
//     body.
//   - "claims" (graph only): a Continuous Access Evaluation claims challenge,
//     a 401 with the typical claims.
//   - "reset": close the connection without an answer ("body=reset").
//   - "latency=D": wait D, a duration such as 200ms, before answering.
//   - "retry-after=S", with a status: Retry-After in seconds, or a duration
//     such as 1500ms rounded up to whole seconds; "retry-after=0" sends
//     "Retry-After: 0" (in [Fault.Header], since a zero RetryAfter sends none).
//   - "count=N": the next N matching requests; without it, or with count=0,
//     every matching request until the faults are cleared.
//   - "body=truncated|malformed|oversize": damage the real answer.
//   - "path=TEXT": only requests whose path contains TEXT.
//
// Examples: "token:429:retry-after=2:count=3", "imds:410:count=2",
// "token:latency=200ms", "msi:reset", "keys:body=malformed", "*:503",
// "graph:claims:count=1", "graph:503:path=/devices/$count".
//
// An error names the spec, the item that is wrong and what would fix it. A
// spec that would do nothing, or that both answers with a status and damages
// the body, is an error.
func Parse(spec string) (Fault, error) {
	parts := strings.Split(spec, ":")
	var f Fault
	switch e := parts[0]; {
	case e == "*" || e == "all":
	case slices.Contains(endpoints, e):
		f.Endpoint = e
	default:
		return Fault{}, fmt.Errorf("fault %q: unknown endpoint %q (want %s, or * for every endpoint)",
			spec, e, strings.Join(endpoints, ", "))
	}
	seen := map[string]bool{}
	for _, item := range parts[1:] {
		if err := f.parseItem(item, seen); err != nil {
			return Fault{}, fmt.Errorf("fault %q: %q: %v", spec, item, err)
		}
	}
	if f.Status == 0 && f.Body == "" && f.Latency == 0 {
		return Fault{}, fmt.Errorf("fault %q: nothing to do (add a status such as 503, reset, latency=D or body=KIND; %s)", spec, itemsHint)
	}
	if f.Status == 0 && (f.RetryAfter != 0 || f.Header != nil) {
		return Fault{}, fmt.Errorf("fault %q: retry-after goes with a status (add one such as 429 or 503)", spec)
	}
	return f, nil
}

// parseItem applies one item to f. seen holds the keys already given, so
// that a repeated one is an error rather than a silent override.
func (f *Fault) parseItem(item string, seen map[string]bool) error {
	key, val, hasVal := strings.Cut(item, "=")
	if hasVal {
		if seen[key] {
			return fmt.Errorf("%s given twice (keep one)", key)
		}
		seen[key] = true
	}
	switch {
	case item == "claims":
		if f.Endpoint != EndpointGraph {
			return fmt.Errorf("claims is a Graph claims challenge (use it with graph, or give a status such as 401)")
		}
		return f.setStatus(http.StatusUnauthorized)
	case item == BodyReset:
		return f.setBody(BodyReset)
	case !hasVal:
		n, err := strconv.Atoi(item)
		if err != nil {
			return fmt.Errorf("not a status, claims, reset or KEY=VALUE (%s)", itemsHint)
		}
		if n < 400 || n > 599 {
			return fmt.Errorf("status %d out of range (want 400 to 599: a fault answers with an error)", n)
		}
		return f.setStatus(n)
	case key == "count":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("count wants a whole number: N for the next N requests, 0 for every request until cleared")
		}
		f.Count = n
	case key == "latency":
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return fmt.Errorf("latency wants a duration such as 200ms or 2s")
		}
		f.Latency = d
	case key == "retry-after":
		return f.setRetryAfter(val)
	case key == "body":
		switch val {
		case BodyReset, BodyTruncated, BodyMalformed, BodyOversize:
			return f.setBody(val)
		}
		return fmt.Errorf("body wants truncated, malformed or oversize")
	case key == "path":
		if val == "" {
			return fmt.Errorf("empty path (give part of a URL path, such as /devices)")
		}
		f.Path = val
	default:
		return fmt.Errorf("unknown item %q (%s)", key, itemsHint)
	}
	return nil
}

func (f *Fault) setStatus(n int) error {
	switch {
	case f.Body != "":
		return fmt.Errorf("a status and body=%s (a fault answers with a status or damages the answer, not both)", f.Body)
	case f.Status == http.StatusUnauthorized && n == http.StatusUnauthorized:
		// "401:claims" says the same twice.
	case f.Status != 0:
		return fmt.Errorf("a second status (the spec already has %d; keep one)", f.Status)
	}
	f.Status = n
	return nil
}

func (f *Fault) setBody(kind string) error {
	switch {
	case f.Status != 0:
		return fmt.Errorf("%s with status %d (a fault answers with a status or damages the answer, not both)", kind, f.Status)
	case f.Body != "":
		return fmt.Errorf("%s after body=%s (keep one)", kind, f.Body)
	}
	f.Body = kind
	return nil
}

// setRetryAfter reads seconds ("2") or a duration ("1500ms").
func (f *Fault) setRetryAfter(v string) error {
	d, err := time.ParseDuration(v)
	if n, aerr := strconv.Atoi(v); aerr == nil {
		// Compared in seconds: a huge n would overflow the Duration.
		if n > int(maxRetryAfter/time.Second) {
			return errRetryAfterTooLong
		}
		d, err = time.Duration(n)*time.Second, nil
	}
	switch {
	case err != nil:
		return fmt.Errorf("retry-after wants seconds (2) or a duration (1500ms)")
	case d < 0:
		return fmt.Errorf("retry-after must not be negative")
	case d > maxRetryAfter:
		return errRetryAfterTooLong
	case d == 0:
		// A zero RetryAfter sends nothing; the spec asks for the header.
		f.Header = http.Header{"Retry-After": {"0"}}
	default:
		f.RetryAfter = d
	}
	return nil
}

// maxRetryAfter bounds retry-after: more is a typo, and no client waits it.
const maxRetryAfter = 24 * time.Hour

var errRetryAfterTooLong = errors.New("retry-after of more than a day (give at most 86400)")
