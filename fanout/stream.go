package fanout

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tenantbridge/tenantbridge/internal/backoff"
	"github.com/tenantbridge/tenantbridge/internal/recovered"
)

// ThrottleError is implemented by errors that say a service refused the work
// because the caller went over a rate limit (*graphlite.Error does). When a
// tenant's function returns one (directly or wrapped), [Stream] gives the
// tenant's slot to another tenant, pauses the tenant (or every tenant, when
// the limit is the application's across tenants) for retryAfter, and runs it
// again later, within [StreamOptions.RetryBudget].
//
// Throttled reports whether the failure was throttling, whether the limit
// that was hit is application-wide (Microsoft Graph's x-ms-throttle-scope
// "Application": every tenant of the sweep shares it), and how long the
// service asked to wait (0 when it did not say).
type ThrottleError interface {
	error
	Throttled() (throttled, appWide bool, retryAfter time.Duration)
}

// Defaults of [StreamOptions].
const (
	// DefaultMaxAttempts is how often one tenant runs at most in a sweep
	// when it keeps being throttled.
	DefaultMaxAttempts = 4
	// DefaultSlowDownAbove is the usage percentage of a limit above which
	// [Stream] runs fewer tenants at once (Graph reports the percentage in
	// x-ms-throttle-limit-percentage from 80 % on).
	DefaultSlowDownAbove = 80
	// DefaultRetryDelay is the first pause of a throttled tenant when the
	// service names no Retry-After; it doubles per attempt.
	DefaultRetryDelay = time.Second
	// DefaultMaxRetryDelay caps every pause, Retry-After included.
	DefaultMaxRetryDelay = 2 * time.Minute
	// usageWindow is how long a reported usage percentage counts: Graph's
	// identity limits are per 10 s (app and tenant) and 20 s (app).
	usageWindow = 20 * time.Second
	// slowStart is how many tenants a sweep starts with; each success adds
	// one until Parallelism (or an application-wide throttle).
	slowStart = 16
)

// StreamOptions configure [Stream]. nil and zero fields mean defaults.
type StreamOptions struct {
	// Parallelism bounds how many tenants run at once; 0 or less means
	// [DefaultParallelism].
	Parallelism int
	// TenantTimeout bounds one run of the function for one tenant (each
	// attempt has its own); 0 means none beyond ctx.
	TenantTimeout time.Duration
	// MaxAttempts bounds the runs of one tenant that keeps being throttled;
	// 0 means [DefaultMaxAttempts], 1 means no retry.
	MaxAttempts int
	// RetryBudget bounds the retries of throttled tenants over the whole
	// sweep, so that a service that throttles everything does not make the
	// sweep last MaxAttempts times as long; 0 means one per tenant plus 10
	// (an application-wide throttle sends many tenants back at once),
	// negative means no retries.
	RetryBudget int
	// SlowDownAbove is the usage percentage (see [Pacer.Observe]) above which
	// fewer tenants run at once: at SlowDownAbove all of Parallelism, half-way
	// to 100 % a quarter, at 100 % one. 0 means [DefaultSlowDownAbove].
	SlowDownAbove float64
	// RetryDelay and MaxRetryDelay shape the pause of a throttled tenant
	// without Retry-After (exponential) and cap every pause. Defaults
	// [DefaultRetryDelay] and [DefaultMaxRetryDelay].
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// Jitter adds up to this fraction of a pause at random, so that tenants
	// paused together do not come back together; 0 means 0.2, negative none.
	Jitter float64
	// Pacer shares pauses and usage between sweeps, and receives what the
	// service reports on every response (wire graphlite's
	// ThrottleOptions.Observe to [Pacer.Observe]); nil means a new one for
	// this sweep.
	Pacer *Pacer
	// Progress, when set, is called (on the goroutine iterating the stream,
	// never concurrently) after every tenant that finishes or is paused.
	Progress func(Progress)
}

// Progress is a snapshot of a sweep, for a progress bar.
type Progress struct {
	Total   int // tenants in the sweep
	Done    int // tenants finished, successes and failures
	Failed  int // of Done, those with an error
	Running int // tenants whose function runs now
	// Retries counts the throttled runs that were put back; Pauses those of
	// them that paused the whole application (x-ms-throttle-scope
	// Application).
	Retries int
	Pauses  int
	// PausedUntil is when an application-wide pause ends (zero when none).
	PausedUntil time.Time
}

// Stream calls fn once per entry of tenants, like [Run], and yields each
// tenant's [Result] as soon as the tenant finishes, in the order they finish.
// It is the form for long sweeps of many tenants: it does not hold results,
// and it is throttle-aware:
//
//   - a function that fails with a [ThrottleError] gives its slot to another
//     tenant; the tenant is paused for the Retry-After (with jitter) and runs
//     again, at most MaxAttempts times and within the sweep's RetryBudget;
//   - a throttle whose limit is application-wide pauses every tenant of the
//     sweep (and of every sweep sharing the [Pacer]) at once, instead of each
//     worker finding out alone;
//   - a sweep starts 16 tenants and one more per success, up to
//     Parallelism;
//   - after an application-wide throttle, half as many tenants run at once
//     (and no more than succeeded since the previous one), and one more
//     after each round of that many successes;
//   - above SlowDownAbove percent of the application's limit, fewer tenants
//     run at once.
//
// Stopping the loop early cancels the running calls and waits for them. When
// ctx is done, tenants not yet started are yielded with ctx.Err() without
// running fn. A panic in fn becomes that tenant's error, as in [Run].
func Stream[T any](ctx context.Context, tenants []string, opts *StreamOptions, fn func(ctx context.Context, tenant string) (T, error)) iter.Seq[Result[T]] {
	var o StreamOptions
	if opts != nil {
		o = *opts
	}
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.RetryBudget == 0 {
		o.RetryBudget = len(tenants) + 10
	} else if o.RetryBudget < 0 {
		o.RetryBudget = 0
	}
	if o.SlowDownAbove <= 0 || o.SlowDownAbove >= 100 {
		o.SlowDownAbove = DefaultSlowDownAbove
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	} else if o.Jitter < 0 {
		o.Jitter = 0
	}
	return func(yield func(Result[T]) bool) {
		pacer := o.Pacer
		if pacer == nil {
			pacer = NewPacer()
		}
		sw := &sweep[T]{o: o, fn: fn, pacer: pacer, yield: yield}
		sw.run(ctx, tenants)
	}
}

// item is one tenant waiting to run.
type item struct {
	idx       int
	tenant    string
	attempts  int       // runs so far
	notBefore time.Time // its own pause
}

type sweep[T any] struct {
	o      StreamOptions
	fn     func(ctx context.Context, tenant string) (T, error)
	pacer  *Pacer
	yield  func(Result[T]) bool
	prog   Progress
	limit  int // Parallelism, halved by each application-wide throttle
	credit int // successes towards the next slot back
	// okSincePause counts the successes since the last application-wide
	// pause began.
	okSincePause int
	paused       bool // an application-wide pause happened in this sweep
}

type finished[T any] struct {
	it  item
	res Result[T]
}

func (sw *sweep[T]) run(ctx context.Context, tenants []string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make([]item, len(tenants))
	for i, t := range tenants {
		queue[i] = item{idx: i, tenant: t}
	}
	sw.prog.Total = len(tenants)
	// Slow start: a sweep that begins with every slot would send its whole
	// first round into an application-wide limit it cannot know yet.
	sw.limit = min(sw.o.Parallelism, slowStart)
	results := make(chan finished[T], sw.o.Parallelism)
	var wg sync.WaitGroup
	// On every return, including a consumer that stopped: cancel what runs
	// and wait for it, so that no call outlives the loop.
	defer func() {
		cancel()
		for sw.prog.Running > 0 {
			<-results
			sw.prog.Running--
		}
		wg.Wait()
	}()
	budget := sw.o.RetryBudget
	done := ctx.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for len(queue) > 0 || sw.prog.Running > 0 {
		if err := ctx.Err(); err != nil {
			// Nothing starts after the caller gave up; what runs ends with
			// the context.
			for _, it := range queue {
				if !sw.emit(Result[T]{Tenant: it.tenant, Index: it.idx, Attempts: it.attempts, Err: err}) {
					return
				}
			}
			queue = nil
			done = nil // handled: the select must not spin on it while calls end
			continue
		}
		wait := time.Duration(-1)
		for len(queue) > 0 && sw.prog.Running < sw.pacer.parallelism(sw.limit, sw.o.SlowDownAbove) {
			now := time.Now()
			if until := sw.pacer.appPausedUntil(); until.After(now) {
				wait = until.Sub(now)
				break
			}
			pick := -1
			for i, it := range queue {
				ready := it.notBefore
				if tu := sw.pacer.tenantPausedUntil(it.tenant); tu.After(ready) {
					ready = tu
				}
				if !ready.After(now) {
					pick = i
					break
				}
				if d := ready.Sub(now); wait < 0 || d < wait {
					wait = d
				}
			}
			if pick < 0 {
				break
			}
			wait = -1
			it := queue[pick]
			queue = append(queue[:pick], queue[pick+1:]...)
			it.attempts++
			sw.prog.Running++
			wg.Go(func() { results <- finished[T]{it: it, res: sw.call(ctx, it)} })
		}
		if sw.prog.Running == 0 && len(queue) > 0 && wait < 0 {
			// Nothing runs and nothing is ready: only a pause can explain it.
			wait = sw.o.RetryDelay
		}
		var timeout <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			timeout = timer.C
		}
		select {
		case f := <-results:
			sw.prog.Running--
			if !sw.finish(f, &queue, &budget) {
				return
			}
		case <-timeout:
		case <-done:
		}
		if timeout != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// call runs fn for one tenant with its own timeout.
func (sw *sweep[T]) call(ctx context.Context, it item) Result[T] {
	r := Result[T]{Tenant: it.tenant, Index: it.idx, Attempts: it.attempts}
	if sw.o.TenantTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sw.o.TenantTimeout)
		defer cancel()
	}
	began := time.Now()
	recovered.Into("fanout: the function for tenant "+it.tenant, &r.Value, &r.Err, func() (T, error) {
		return sw.fn(ctx, it.tenant)
	})
	r.Duration = time.Since(began)
	return r
}

// finish yields f's result, or puts its tenant back when it was throttled
// and may run again. It reports false when the consumer stopped.
func (sw *sweep[T]) finish(f finished[T], queue *[]item, budget *int) bool {
	var te ThrottleError
	if f.res.Err != nil && errors.As(f.res.Err, &te) {
		if throttled, appWide, retryAfter := te.Throttled(); throttled {
			d := retryAfter
			if d <= 0 {
				d = backoff.Exponential(f.it.attempts-1, sw.o.RetryDelay, sw.o.MaxRetryDelay)
			}
			d = min(d, sw.o.MaxRetryDelay)
			d += time.Duration(rand.Float64() * sw.o.Jitter * float64(d))
			until := time.Now().Add(d)
			if appWide {
				if sw.pacer.pauseApp(until) {
					sw.prog.Pauses++
					sw.paused = true
					// Fewer tenants at once after the pause: the
					// application's limit is a rate that the whole sweep
					// shares. Halved once per pause (the other tenants in
					// flight meet the same limit); successes give slots
					// back, one per round.
					sw.limit = max(1, sw.limit/2)
					// And no more than got through since the last pause:
					// that is what the application's window let pass.
					if sw.okSincePause > 0 {
						sw.limit = min(sw.limit, sw.okSincePause)
					}
					sw.okSincePause = 0
				}
			} else {
				sw.pacer.pauseTenant(f.it.tenant, until)
			}
			if f.it.attempts < sw.o.MaxAttempts && *budget > 0 {
				*budget--
				sw.prog.Retries++
				f.it.notBefore = until
				*queue = append(*queue, f.it)
				sw.progress()
				return true
			}
		}
	}
	if f.res.Err == nil {
		sw.okSincePause++
	}
	if f.res.Err == nil && sw.limit < sw.o.Parallelism {
		// Before the first pause, a slot per success (the limit doubles
		// each round, as TCP's slow start); after it, one slot per round
		// of limit successes (additive increase): a slot per success
		// would be back at Parallelism within one window of the
		// application's limit and overrun it again.
		if !sw.paused {
			sw.limit++
		} else if sw.credit++; sw.credit >= sw.limit {
			sw.credit = 0
			sw.limit++
		}
	}
	return sw.emit(f.res)
}

func (sw *sweep[T]) emit(r Result[T]) bool {
	sw.prog.Done++
	if r.Err != nil {
		sw.prog.Failed++
	}
	sw.progress()
	return sw.yield(r)
}

func (sw *sweep[T]) progress() {
	if sw.o.Progress == nil {
		return
	}
	p := sw.prog
	if until := sw.pacer.appPausedUntil(); until.After(time.Now()) {
		p.PausedUntil = until
	}
	sw.o.Progress(p)
}

// Pacer holds what a service said about its limits: when the application
// may send again, when each tenant may, and how much of a limit is used. One
// Pacer can be shared by sweeps that use the same application (they share
// its application-wide limit). Its methods are safe for concurrent use.
type Pacer struct {
	mu          sync.Mutex
	appUntil    time.Time
	tenantUntil map[string]time.Time
	appUsage    usage
}

type usage struct {
	percent float64
	at      time.Time
}

// NewPacer returns a Pacer with no pause and no usage known.
func NewPacer() *Pacer {
	return &Pacer{tenantUntil: map[string]time.Time{}}
}

// Observe records what one response said about the limits: the usage
// percentage of a limit (Graph's x-ms-throttle-limit-percentage, sent from
// 80 % on; 0 when the response did not carry it, meaning no limit is near)
// and whether that limit is the application's across tenants (scope
// "Application"). Only application-wide usage slows a sweep down: a
// tenant's own limit is shared by that tenant's requests alone, which run
// one after another. Wire it to graphlite's ThrottleOptions.Observe. A
// usage counts until a response says otherwise, for at most the 20 s of
// Graph's longest window.
func (p *Pacer) Observe(percent float64, appWide bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case percent <= 0:
		p.appUsage = usage{}
	case appWide:
		p.appUsage = usage{percent: percent, at: time.Now()}
	}
}

// maxTracked bounds the map of tenant pauses: pauses that ended are pruned
// when it grows beyond it.
const maxTracked = 4096

func (p *Pacer) pruneLocked() {
	now := time.Now()
	for t, until := range p.tenantUntil {
		if !until.After(now) {
			delete(p.tenantUntil, t)
		}
	}
}

// pauseApp pauses every tenant until until; it reports whether this
// started a pause (rather than extending one under way).
func (p *Pacer) pauseApp(until time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	started := !p.appUntil.After(time.Now())
	if until.After(p.appUntil) {
		p.appUntil = until
	}
	return started
}

func (p *Pacer) pauseTenant(tenant string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tenantUntil) > maxTracked {
		p.pruneLocked()
	}
	if until.After(p.tenantUntil[tenant]) {
		p.tenantUntil[tenant] = until
	}
}

func (p *Pacer) appPausedUntil() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.appUntil
}

func (p *Pacer) tenantPausedUntil(tenant string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tenantUntil[tenant]
}

// parallelism is limit scaled down by the application's usage above
// threshold: all of it at threshold, a quarter half-way to 100 %, one at
// 100 %.
func (p *Pacer) parallelism(limit int, threshold float64) int {
	p.mu.Lock()
	u := p.appUsage
	p.mu.Unlock()
	if u.percent <= threshold || time.Since(u.at) > usageWindow {
		return limit
	}
	// Squared: the tenants already running spend what is left of the
	// limit too, so the starts must fall off faster than the headroom.
	frac := (100 - u.percent) / (100 - threshold)
	return min(limit, max(1, int(frac*frac*float64(limit))))
}
