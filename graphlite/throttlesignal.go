package graphlite

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/retryafter"
)

// Scopes of Graph's x-ms-throttle-scope header (its first segment), which
// names the limit a response is counted against
// (learn.microsoft.com/graph/throttling-limits).
const (
	// ScopeTenantApplication is the limit of one application in one tenant
	// (for identity and access resources, 3,500 to 8,000 resource units per
	// 10 s, by tenant size).
	ScopeTenantApplication = "Tenant_Application"
	// ScopeApplication is the limit of one application across every tenant
	// (for identity and access resources, 150,000 resource units per 20 s):
	// a multi-tenant sweep shares it.
	ScopeApplication = "Application"
	// ScopeTenant is the limit of one tenant across every application.
	ScopeTenant = "Tenant"
)

// Throttle is what one Graph response said about its limits.
type Throttle struct {
	// Status is the response's HTTP status (429 or 503 when throttled).
	Status int
	// Scope is the first segment of x-ms-throttle-scope (one of the Scope
	// constants, or another that Graph adds), "" when not sent. Graph sends
	// it with the percentage and on throttled answers.
	Scope string
	// LimitPercentage is x-ms-throttle-limit-percentage as a percentage of
	// the limit used (Graph sends the fraction, 0.8 to 1.8, from 80 % on); 0
	// when not sent.
	LimitPercentage float64
	// ResourceUnits is x-ms-resource-unit, what the request cost; 0 when not
	// sent.
	ResourceUnits int
	// RetryAfter is the wait Graph asked for (Retry-After), 0 when none.
	RetryAfter time.Duration
}

// Throttled reports whether the response refused the request for
// throttling (429, or 503 which Graph also answers under load).
func (t Throttle) Throttled() bool {
	return t.Status == http.StatusTooManyRequests || t.Status == http.StatusServiceUnavailable
}

// AppWide reports whether the limit is the application's across tenants.
func (t Throttle) AppWide() bool { return strings.EqualFold(t.Scope, ScopeApplication) }

// throttleOf reads the throttle headers of a response; ok is false when it
// has none and is not throttled.
func throttleOf(status int, h http.Header, now time.Time) (Throttle, bool) {
	t := Throttle{Status: status}
	if v := h.Get("x-ms-throttle-scope"); v != "" {
		scope, _, _ := strings.Cut(v, "/")
		// A scope name is a short identifier; anything else is not Graph's.
		if len(scope) <= 64 && !strings.ContainsFunc(scope, func(r rune) bool { return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') }) {
			t.Scope = scope
		}
	}
	if v := h.Get("x-ms-throttle-limit-percentage"); v != "" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f > 0 && f < 1e4 {
			if f <= 2 { // the documented form: a fraction of the limit
				f *= 100
			}
			t.LimitPercentage = f
		}
	}
	if v := h.Get("x-ms-resource-unit"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n < 1<<20 {
			t.ResourceUnits = n
		}
	}
	if d, ok := retryafter.Parse(h, now); ok {
		t.RetryAfter = d
	}
	return t, t.Throttled() || t.Scope != "" || t.LimitPercentage > 0 || t.ResourceUnits > 0
}

// Throttled reports whether Graph refused the request for throttling (429 or
// 503), whether the limit is the application's across tenants, and the wait
// Graph asked for. It makes *Error a fanout.ThrottleError, so that
// fanout.Stream pauses the tenant (or, for an application-wide limit, every
// tenant) and runs it again instead of failing it.
func (e *Error) Throttled() (throttled, appWide bool, retryAfter time.Duration) {
	return e.Throttle.Throttled(), e.Throttle.AppWide(), e.Throttle.RetryAfter
}
