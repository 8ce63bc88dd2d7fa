package graphtest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/jwtpeek"
)

// Limits model Microsoft Graph's throttling of identity and access
// resources (learn.microsoft.com/graph/throttling-limits, "Identity and
// access service limits"): every request costs resource units, counted in
// fixed windows per application in each tenant (by tenant size) and per
// application across all tenants. A request over a limit is answered 429
// TooManyRequests with Retry-After (the seconds until the window ends) and
// x-ms-throttle-scope naming the limit; a request within the limits is
// served, with x-ms-resource-unit (its cost) and, from 80 % of a limit on,
// x-ms-throttle-limit-percentage (the fraction used, 0.8 to 1.8) and
// x-ms-throttle-scope. Requests inside a $batch are counted one by one, so
// one item can be throttled while the others are not; the $batch itself
// costs nothing.
//
// [DocumentedLimits] returns Graph's numbers; tests scale them down (a few
// units per window of a few milliseconds of Options.Clock) to meet them
// quickly.
type Limits struct {
	// Units an application may spend in one tenant per TenantWindow, by
	// the tenant's size: under 50 users, 50 to 500, over 500.
	SmallTenantUnits, MediumTenantUnits, LargeTenantUnits int
	TenantWindow                                          time.Duration
	// Units an application may spend across every tenant per AppWindow.
	AppUnits  int
	AppWindow time.Duration
	// TenantUsers gives a tenant's number of users, which decides its size;
	// a tenant not listed is small.
	TenantUsers map[string]int
}

// DocumentedLimits are Graph's limits for identity and access resources:
// 3,500 / 5,000 / 8,000 resource units per 10 s per application and tenant,
// 150,000 per 20 s per application.
func DocumentedLimits() *Limits {
	return &Limits{
		SmallTenantUnits: 3500, MediumTenantUnits: 5000, LargeTenantUnits: 8000, TenantWindow: 10 * time.Second,
		AppUnits: 150000, AppWindow: 20 * time.Second,
	}
}

// cost is a request's resource units: 1 for a GET, 1 less with $select
// (at least 1), 1 more with $expand.
func cost(r *http.Request) int {
	q := r.URL.Query()
	c := 1
	if q.Has("$select") {
		c = max(1, c-1)
	}
	if q.Has("$expand") {
		c++
	}
	return c
}

// window is the use of one limit in the current fixed window.
type window struct {
	start time.Time
	used  int
}

// limiter holds the windows. Its maps are bounded: when they grow past
// maxWindows, windows that ended are dropped.
type limiter struct {
	l       Limits
	mu      sync.Mutex
	apps    map[string]*window
	tenants map[[2]string]*window
}

const maxWindows = 1 << 16

func newLimiter(l *Limits) *limiter {
	if l == nil {
		return nil
	}
	c := *l
	d := DocumentedLimits()
	if c.SmallTenantUnits <= 0 {
		c.SmallTenantUnits = d.SmallTenantUnits
	}
	if c.MediumTenantUnits <= 0 {
		c.MediumTenantUnits = max(c.SmallTenantUnits, d.MediumTenantUnits)
	}
	if c.LargeTenantUnits <= 0 {
		c.LargeTenantUnits = max(c.MediumTenantUnits, d.LargeTenantUnits)
	}
	if c.TenantWindow <= 0 {
		c.TenantWindow = d.TenantWindow
	}
	if c.AppUnits <= 0 {
		c.AppUnits = d.AppUnits
	}
	if c.AppWindow <= 0 {
		c.AppWindow = d.AppWindow
	}
	tu := map[string]int{}
	for k, v := range c.TenantUsers {
		tu[strings.ToLower(k)] = v
	}
	c.TenantUsers = tu
	return &limiter{l: c, apps: map[string]*window{}, tenants: map[[2]string]*window{}}
}

func (l *limiter) tenantUnits(tenant string) int {
	switch n := l.l.TenantUsers[tenant]; {
	case n > 500:
		return l.l.LargeTenantUnits
	case n >= 50:
		return l.l.MediumTenantUnits
	}
	return l.l.SmallTenantUnits
}

// current returns w advanced to the window holding now.
func current(w *window, now time.Time, size time.Duration) *window {
	start := now.Truncate(size)
	if !w.start.Equal(start) {
		w.start, w.used = start, 0
	}
	return w
}

// verdict is what the limiter decided for one request.
type verdict struct {
	units      int
	throttled  bool
	retryAfter time.Duration
	scope      string  // the limit nearest to (or over) its bound
	fraction   float64 // of that limit, used after this request
}

// charge counts a request of app in tenant that costs units at now.
func (l *limiter) charge(app, tenant string, units int, now time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.apps)+len(l.tenants) > maxWindows {
		l.prune(now)
	}
	aw := l.apps[app]
	if aw == nil {
		aw = &window{}
		l.apps[app] = aw
	}
	tw := l.tenants[[2]string{app, tenant}]
	if tw == nil {
		tw = &window{}
		l.tenants[[2]string{app, tenant}] = tw
	}
	aw = current(aw, now, l.l.AppWindow)
	tw = current(tw, now, l.l.TenantWindow)
	tlimit := l.tenantUnits(tenant)
	v := verdict{units: units}
	switch {
	case aw.used+units > l.l.AppUnits:
		v.throttled, v.scope = true, "Application/ReadWrite/"+app+"/"
		v.retryAfter = aw.start.Add(l.l.AppWindow).Sub(now)
		v.fraction = float64(aw.used) / float64(l.l.AppUnits)
	case tw.used+units > tlimit:
		v.throttled, v.scope = true, "Tenant_Application/ReadWrite/"+app+"/"+tenant
		v.retryAfter = tw.start.Add(l.l.TenantWindow).Sub(now)
		v.fraction = float64(tw.used) / float64(tlimit)
	default:
		aw.used += units
		tw.used += units
		af, tf := float64(aw.used)/float64(l.l.AppUnits), float64(tw.used)/float64(tlimit)
		if af >= tf {
			v.scope, v.fraction = "Application/ReadWrite/"+app+"/", af
		} else {
			v.scope, v.fraction = "Tenant_Application/ReadWrite/"+app+"/"+tenant, tf
		}
	}
	return v
}

func (l *limiter) prune(now time.Time) {
	for k, w := range l.apps {
		if now.Sub(w.start) > l.l.AppWindow {
			delete(l.apps, k)
		}
	}
	for k, w := range l.tenants {
		if now.Sub(w.start) > l.l.TenantWindow {
			delete(l.tenants, k)
		}
	}
}

// throttle charges r to its application and tenant and writes the x-ms-*
// headers; when r is over a limit it answers 429 and reports true. It is
// called after the token has been validated; the $batch request itself is
// not charged (its requests are).
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, tenant string) bool {
	units := cost(r)
	w.Header().Set("x-ms-resource-unit", strconv.Itoa(units))
	if s.limits == nil {
		return false
	}
	var c struct {
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	_ = jwtpeek.Claims(tok, &c) // verified already
	app := c.AppID
	if app == "" {
		app = c.AZP
	}
	v := s.limits.charge(strings.ToLower(app), tenant, units, s.clock())
	if v.throttled || v.fraction >= 0.8 {
		w.Header().Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(math.Min(v.fraction, 1.8), 'f', 2, 64))
		w.Header().Set("x-ms-throttle-scope", v.scope)
	}
	if !v.throttled {
		return false
	}
	secs := max(1, int(math.Ceil(v.retryAfter.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	// With a scaled-down window, whole seconds overstate the wait: the
	// millisecond form says it exactly (graphlite reads it first).
	w.Header().Set("x-ms-retry-after-ms", strconv.FormatInt(max(1, v.retryAfter.Milliseconds()), 10))
	s.writeError(w, r, http.StatusTooManyRequests, "TooManyRequests",
		fmt.Sprintf("Too many requests. The %s limit is exhausted; retry after the time in Retry-After.", strings.SplitN(v.scope, "/", 2)[0]))
	return true
}
