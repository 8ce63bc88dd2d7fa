package faultmatrix

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantbridge/tenantbridge/assertion"
	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/internal/leak"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

const (
	homeTenant      = fakeidp.DefaultHomeTenantID
	consentedTenant = fakeidp.DefaultConsentedTenantID
	appID           = fakeidp.DefaultAppClientID
	graphScope      = "https://graph.microsoft.com/.default"
)

// startEmulator starts an emulator for one test with small signing keys
// (the matrix issues many tokens).
func startEmulator(t *testing.T, o *emulator.Options) *emulator.Emulator {
	t.Helper()
	if o == nil {
		o = &emulator.Options{}
	}
	o.SigningKeyBits = 1024
	emu, err := emulator.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	// One run of the whole chain first: the emulator opens connections of
	// its own (Graph fetching Entra's keys) that stay open, and must not
	// count against the first cell's goroutines.
	warm := newChain(t, emu, chainOptions{})
	if _, err := warm.devices(context.Background()); err != nil {
		t.Fatal(leak.Redact(err.Error()))
	}
	warm.tr.CloseIdleConnections()
	return emu
}

// logSink collects the entries of our Logger options.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) log(ev log.Event, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(ev)+": "+msg)
}

func (l *logSink) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// chainOptions say where each link of a chain goes; zero fields mean the
// emulator.
type chainOptions struct {
	msiEndpoint string // an App Service endpoint instead of the emulator's
	imds        bool   // the IMDS source instead of App Service
	authority   string // an Entra authority host instead of the emulator's
	graphURL    string // a Graph base URL instead of the emulator's
	trust       []*httptest.Server
	source      assertion.Source // shared, already cached source
}

// chain is assertion source -> federated.Credential -> graphlite client,
// all sending through one transport that trusts the emulator's CA and the
// hostile servers' certificates, so that a cell can close its connections.
type chain struct {
	src     assertion.Source
	cred    *federated.Credential
	graph   *graphlite.Client
	tr      *http.Transport
	logs    *logSink
	waits   atomic.Int32 // throttle waits, recorded instead of slept
	maxWait atomic.Int64
}

func newChain(t *testing.T, emu *emulator.Emulator, o chainOptions) *chain {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.CAPEM()) {
		t.Fatal("the emulator's CA does not parse")
	}
	for _, s := range o.trust {
		pool.AddCert(s.Certificate())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	ch := &chain{tr: tr, logs: &logSink{}}

	ch.src = o.source
	if ch.src == nil {
		var raw assertion.Source
		var err error
		if o.imds {
			raw, err = assertion.IMDS(&assertion.IMDSOptions{Endpoint: emu.IMDSEndpoint(), Transport: hc, MaxRetryDelay: 10 * time.Millisecond, Logger: ch.logs.log})
		} else {
			ep := emu.AppServiceEndpoint()
			if o.msiEndpoint != "" {
				ep = o.msiEndpoint
			}
			raw, err = assertion.AppService(&assertion.AppServiceOptions{Endpoint: ep, IdentityHeader: emu.IdentityHeader(), Transport: hc, MaxRetryDelay: 10 * time.Millisecond, Logger: ch.logs.log})
		}
		if err != nil {
			t.Fatal(err)
		}
		ch.src = assertion.CachedWithOptions(raw, &assertion.CacheOptions{Logger: ch.logs.log})
	}
	authority := emu.AuthorityHost()
	if o.authority != "" {
		authority = o.authority
	}
	cred, err := federated.NewCredential(homeTenant, appID, ch.src, &federated.Options{
		ClientOptions: policy.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
			Transport: hc,
			Retry:     policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second},
		},
		AdditionallyAllowedTenants: []string{"*"},
		Logger:                     ch.logs.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ch.cred = cred
	graphURL := emu.GraphURL()
	if o.graphURL != "" {
		graphURL = o.graphURL
	}
	gopts := &graphlite.Options{BaseURL: graphURL}
	gopts.Transport = hc
	gopts.Retry.RetryDelay = time.Millisecond
	gopts.Throttle.Wait = func(ctx context.Context, d time.Duration) error {
		ch.waits.Add(1)
		if int64(d) > ch.maxWait.Load() {
			ch.maxWait.Store(int64(d))
		}
		return ctx.Err()
	}
	ch.graph, err = graphlite.New(cred.ForTenant(consentedTenant), gopts)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// devices lists the consented tenant's devices through the whole chain.
func (ch *chain) devices(ctx context.Context) (int, error) {
	n := 0
	for _, err := range ch.graph.Devices(ctx, &graphlite.DevicesOptions{Select: []string{"id"}}) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// token asks the credential alone for the Graph token graphlite uses (its
// BearerTokenPolicy asks for a CAE token) in the consented tenant.
func (ch *chain) token(ctx context.Context) error {
	_, err := ch.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: consentedTenant, EnableCAE: true})
	return err
}

// settle waits, bounded, until the process has no more goroutines than
// baseline (the chain's connections closed), and fails the test otherwise.
func settle(t *testing.T, baseline int, close ...func()) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		// Again on every round: a connection a retry or a cancelled call
		// hands back to the pool after the first close is idle too.
		for _, c := range close {
			c()
		}
		if runtime.NumGoroutine() <= baseline {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines did not settle: %d, baseline %d\n%s", runtime.NumGoroutine(), baseline, leak.Redact(string(buf)))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memCost measures what f allocates (TotalAlloc, an upper bound: the
// emulator shares the process) and the peak live heap above the start.
func memCost(t testing.TB, f func()) (allocated, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > top.Load() {
				top.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	testwait.Receive(t, done, "the heap sampler's end")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, top.Load() - min(top.Load(), before.HeapAlloc)
}

// errorsAs is errors.As for a target type given as a type parameter.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

type policyOpts = policy.TokenRequestOptions
