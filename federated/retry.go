package federated

import (
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Defaults match azcore's RetryOptions so that a Credential behaves like the
// rest of the SDK when Options.Retry is zero.
const (
	defaultMaxRetries    = 3
	defaultRetryDelay    = 800 * time.Millisecond
	defaultMaxRetryDelay = 60 * time.Second
)

// FIC propagation: Entra documents that a new federated identity credential
// may take a few seconds to be honoured. One retry after ficPropagationWait,
// only during ficPropagationWindow after the Credential was created.
const (
	ficPropagationWindow = 5 * time.Minute
	ficPropagationWait   = 10 * time.Second
)

type retryPolicy struct {
	maxRetries int
	delay      time.Duration
	maxDelay   time.Duration
	tryTimeout time.Duration
}

func newRetryPolicy(o policy.RetryOptions) retryPolicy {
	p := retryPolicy{
		maxRetries: int(o.MaxRetries),
		delay:      o.RetryDelay,
		maxDelay:   o.MaxRetryDelay,
		tryTimeout: o.TryTimeout,
	}
	switch {
	case p.maxRetries == 0:
		p.maxRetries = defaultMaxRetries
	case p.maxRetries < 0:
		p.maxRetries = 0
	}
	if p.delay <= 0 {
		p.delay = defaultRetryDelay
	}
	if p.maxDelay <= 0 {
		p.maxDelay = defaultMaxRetryDelay
	}
	return p
}

// retryableStatus: Entra answers 429 when throttling and 5xx when a front end
// or its store is unhealthy; both are transient. Every 4xx other than 429 is a
// verdict on the request (AADSTS code) that repeating cannot change.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status <= 599
}

// backoff returns the wait before retry number try (1-based): Retry-After when
// the server sent one, else delay doubled per try; either way at most maxDelay,
// so a hostile or confused Retry-After cannot park the caller for hours.
func (p retryPolicy) backoff(try int, h http.Header, now time.Time) time.Duration {
	if d, ok := retryAfter(h, now); ok {
		return min(max(d, 0), p.maxDelay)
	}
	d := p.delay
	for i := 1; i < try && d < p.maxDelay; i++ {
		d *= 2
	}
	return min(d, p.maxDelay)
}

// retryAfter reads the Retry-After family of headers: the standard one in
// seconds or as an HTTP date, and Azure's millisecond variants.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := h.Get(name); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Duration(ms) * time.Millisecond, true
			}
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s > int64(24*time.Hour/time.Second) { // avoid overflow; capped anyway
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}
