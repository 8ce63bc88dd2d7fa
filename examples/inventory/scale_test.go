package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantbridge/tenantbridge/emulator"
	"github.com/tenantbridge/tenantbridge/fakeidp"
	"github.com/tenantbridge/tenantbridge/fanout"
	"github.com/tenantbridge/tenantbridge/federated"
	"github.com/tenantbridge/tenantbridge/graphlite"
	"github.com/tenantbridge/tenantbridge/graphlite/graphtest"
	"github.com/tenantbridge/tenantbridge/internal/fault"
	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// The sizes of issue 13's benchmark: tenants consented and not, devices per
// tenant. XL checks that the credential's cache and the scheduler stay
// linear at 10,000 tenants.
type scaleSize struct {
	name                            string
	consented, unconsented, devices int
}

var scaleSizes = map[string]scaleSize{
	"S":  {"S", 100, 0, 200},
	"M":  {"M", 1000, 50, 200},
	"L":  {"L", 100, 0, 5000},
	"XL": {"XL", 10000, 0, 1},
}

// Modelled network latency: per token request and per Graph page.
const (
	tokenLatency = 100 * time.Millisecond
	pageLatency  = 150 * time.Millisecond
)

// throttleModel is the scaled-down application bucket of the throttled
// phase: a fifth of the sweep's Graph requests per second for the app
// across tenants, so that a sweep spans at least five windows (Graph's
// bucket, 150,000 units per 20 s, is never reached by these sizes).
func throttleModel(size scaleSize) *graphtest.Limits {
	pages := size.consented * ((size.devices + 998) / 999)
	return &graphtest.Limits{AppUnits: max(10, pages/5), AppWindow: time.Second}
}

// scaleEnv is an emulator with a generated scenario and clients that count
// TLS handshakes.
type scaleEnv struct {
	emu        *emulator.Emulator
	size       scaleSize
	tenants    []string // consented first, as FAKEMSI_TENANTS
	tr         *transports
	handshakes [2]atomic.Int64 // Entra, Graph
}

func newScaleEnv(tb testing.TB, size scaleSize, limits *graphtest.Limits) *scaleEnv {
	return newScaleEnvHTTP2(tb, size, limits, os.Getenv("INVENTORY_HTTP2") != "")
}

// newScaleEnvHTTP2 is newScaleEnv with the fake Graph speaking HTTP/2 or
// not.
func newScaleEnvHTTP2(tb testing.TB, size scaleSize, limits *graphtest.Limits, h2 bool) *scaleEnv {
	tb.Helper()
	sc := fakeidp.DefaultScenario()
	// Only the generated tenants: the default scenario's remote tenants
	// would be two more.
	sc.Tenants = sc.Tenants[:1]
	sc.Consents = sc.Consents[:1]
	sc.Generate = &fakeidp.Generate{Consented: size.consented, Unconsented: size.unconsented, Devices: size.devices, Seed: 13}
	emu, err := emulator.Start(&emulator.Options{Scenario: sc, GraphLimits: limits, GraphHTTP2: h2, SigningKeyBits: 1024, TokenLifetime: 2 * time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(emu.Close)
	for _, v := range emu.Env() {
		tb.Setenv(v.Name, v.Value)
	}
	e := &scaleEnv{emu: emu, size: size, tenants: emu.Tenancy().RemoteIDs()}
	count := func(n *atomic.Int64) *http.Client {
		tr := emu.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		tr.TLSClientConfig.VerifyConnection = func(tls.ConnectionState) error { n.Add(1); return nil }
		return &http.Client{Transport: tr}
	}
	e.tr = &transports{entra: count(&e.handshakes[0]), graph: count(&e.handshakes[1])}
	return e
}

// sample is what one sweep measured.
type sample struct {
	wall, cpu          time.Duration
	devices            int
	outBytes           int64
	msi, token, graph  int
	graph429           int
	handshakes         int64 // both servers
	graphHandshakes    int64
	peakHeap           uint64
	peakGoroutines     int
	maxRSS             int64 // KiB, the process's peak so far
	failures           map[string]int
	retried, appPauses int
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

// sweepMode is "new" (the inventory: fanout.Stream, no in-slot throttle
// waits) or "today" (what a program did before: fanout.Run at the old
// default of 4, graphlite's default throttle retries, results kept to the
// end).
func (e *scaleEnv) sweep(tb testing.TB, mode string, parallelism int, cred *federated.Credential, deltaState string) sample {
	tb.Helper()
	e.emu.Graph().ResetRequests()
	e.emu.IDP().ResetRequests()
	e.handshakes[0].Store(0)
	e.handshakes[1].Store(0)
	if t, ok := e.tr.graph.(*http.Client); ok {
		t.CloseIdleConnections()
	}
	if t, ok := e.tr.entra.(*http.Client); ok {
		t.CloseIdleConnections()
	}
	runtime.GC()
	stop := make(chan struct{})
	var peakHeap atomic.Uint64
	var peakG atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/sched/goroutines:goroutines"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if h := s[0].Value.Uint64(); h > peakHeap.Load() {
				peakHeap.Store(h)
			}
			if g := int64(s[1].Value.Uint64()); g > peakG.Load() {
				peakG.Store(g)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	cpu0, _ := processUsage()
	out := &countingWriter{}
	tr := *e.tr
	tr.cred = cred
	began := time.Now()
	var sum *summary
	var err error
	cfg := config{tenants: e.tenants, format: "jsonl", parallelism: parallelism, tenantTimeout: 5 * time.Minute,
		graphURL: e.emu.GraphURL(), progress: "off", deltaState: deltaState}
	if mode == "today" {
		sum, err = todaySweep(context.Background(), cfg, out, &tr)
	} else {
		sum, err = sweep(context.Background(), cfg, out, io.Discard, &tr)
	}
	wall := time.Since(began)
	cpu1, maxRSS := processUsage()
	close(stop)
	testwait.Wait(tb, &wg, "the memory sampler's end")
	if err != nil {
		tb.Fatal(err)
	}
	s := sample{wall: wall, cpu: cpu1 - cpu0, devices: sum.devices, outBytes: out.n,
		handshakes: e.handshakes[0].Load() + e.handshakes[1].Load(), graphHandshakes: e.handshakes[1].Load(), peakHeap: peakHeap.Load(), peakGoroutines: int(peakG.Load()),
		maxRSS: maxRSS, failures: map[string]int{}}
	for _, r := range sum.rows {
		if r.err != nil {
			s.failures[failureClass(r.err)]++
		}
		if r.attempts > 1 {
			s.retried++
		}
	}
	for _, q := range e.emu.IDP().Requests() {
		switch {
		case q.Listener == emulator.ListenerMSI:
			s.msi++
		case strings.HasSuffix(q.Path, "/oauth2/v2.0/token"):
			s.token++
		}
	}
	for _, q := range e.emu.Graph().Requests() {
		s.graph++
		if q.Status == http.StatusTooManyRequests {
			s.graph429++
		}
	}
	return s
}

func failureClass(err error) string {
	var ae *federated.AuthError
	var ge *graphlite.Error
	switch {
	case errors.As(err, &ae) && len(ae.ErrorCodes) > 0:
		return "AADSTS" + strconv.Itoa(ae.ErrorCodes[0])
	case errors.As(err, &ge):
		if th, _, _ := ge.Throttled(); th {
			return "throttled"
		}
		return "graph" + strconv.Itoa(ge.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}

// todaySweep is a sweep the way programs wrote it before issue 13:
// fanout.Run, graphlite's default throttle retries inside the tenant's
// slot, every device kept until the end.
func todaySweep(ctx context.Context, cfg config, out io.Writer, tr *transports) (*summary, error) {
	cred, err := credential(cfg, tr)
	if err != nil {
		return nil, err
	}
	sum := &summary{rows: make([]summaryRow, len(cfg.tenants)), began: time.Now()}
	results := fanout.Run(ctx, cfg.tenants, &fanout.Options{Parallelism: cfg.parallelism}, func(ctx context.Context, tenant string) ([]graphlite.Device, error) {
		gopts := &graphlite.Options{BaseURL: cfg.graphURL}
		gopts.Transport = tr.graph
		client, err := graphlite.New(cred.ForTenant(tenant), gopts)
		if err != nil {
			return nil, err
		}
		var devs []graphlite.Device
		for d, err := range client.Devices(ctx, &graphlite.DevicesOptions{Select: deviceFields, Top: 999}) {
			if err != nil {
				return nil, err
			}
			devs = append(devs, d)
		}
		return devs, nil
	})
	enc := newEncoder("jsonl")
	var b bytes.Buffer
	for _, r := range results {
		row := summaryRow{tenant: r.Tenant, duration: r.Duration, attempts: r.Attempts, err: r.Err}
		for i := range r.Value {
			enc.row(&b, r.Tenant, &r.Value[i], false)
		}
		row.devices = len(r.Value)
		out.Write(b.Bytes())
		b.Reset()
		sum.add(r.Index, row)
	}
	return sum, nil
}

// TestScaleS is size S of the benchmark as a test that pins what a sweep
// costs in requests: one managed-identity request, one token request and
// one Graph page per tenant on a cold sweep; no token request on a sweep
// with the tokens cached; connections reused.
func TestScaleS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100 tenants of 200 devices")
	}
	e := newScaleEnv(t, scaleSizes["S"], nil)
	credOpts := &federated.Options{AdditionallyAllowedTenants: e.tenants}
	credOpts.Transport = e.tr.entra
	cred, err := federated.NewFromEnvironment(credOpts)
	if err != nil {
		t.Fatal(err)
	}
	const p = fanout.DefaultParallelism
	cold := e.sweep(t, "new", p, cred, "")
	warm := e.sweep(t, "new", p, cred, "")
	type counts struct{ MSI, Token, Graph, Devices, Failures int }
	got := []counts{
		{cold.msi, cold.token, cold.graph, cold.devices, len(cold.failures)},
		{warm.msi, warm.token, warm.graph, warm.devices, len(warm.failures)},
	}
	want := []counts{{1, 100, 100, 20000, 0}, {0, 0, 100, 20000, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("cold, then cached: %+v, want %+v", got, want)
	}
	// Connections are reused. Over HTTP/1.1 (the emulator's listeners)
	// each server gets one or two per worker: net/http dials when a request
	// starts while another's connection is on its way back to the pool, and
	// keeps both. Without reuse it would be one per request (200 and 100).
	if cold.handshakes > 3*p || warm.handshakes > 2*p {
		t.Errorf("%d TLS handshakes cold, %d cached; want at most %d and %d", cold.handshakes, warm.handshakes, 3*p, 2*p)
	}
}

// TestScaleReport runs the benchmark of docs/performance.md: set
// INVENTORY_SCALE to a size (S, M, L, XL) and, optionally, INVENTORY_RUNS
// (default 5) and INVENTORY_PHASES (default all: cold, cached, latency,
// throttled, delta). It prints Markdown rows. Run one size per process:
// peak RSS is the process's.
func TestScaleReport(t *testing.T) {
	name := os.Getenv("INVENTORY_SCALE")
	if name == "" {
		t.Skip("set INVENTORY_SCALE=S|M|L|XL to run the scale benchmark")
	}
	size, ok := scaleSizes[name]
	if !ok {
		t.Fatalf("INVENTORY_SCALE=%q: use S, M, L or XL", name)
	}
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("INVENTORY_RUNS")); err == nil && v > 0 {
		runs = v
	}
	phases := strings.Split(os.Getenv("INVENTORY_PHASES"), ",")
	if phases[0] == "" {
		phases = []string{"cold", "cached", "latency", "throttled", "delta"}
	}
	report := func(phase, mode string, p int, ss []sample) {
		walls := make([]time.Duration, len(ss))
		var cpu time.Duration
		for i, s := range ss {
			walls[i] = s.wall
			cpu += s.cpu
		}
		slices.Sort(walls)
		last := ss[len(ss)-1]
		med := walls[len(walls)/2]
		perDev := "-"
		if last.devices > 0 {
			perDev = strconv.FormatInt(last.outBytes/int64(last.devices), 10)
		}
		fails, _ := json.Marshal(last.failures)
		fmt.Printf("| %s | %s | %s P=%d | %s (%s–%s) | %.2f | %.0f | %s | %d/%d/%d | %d | %d (Graph %d) | %.1f | %d | %.0f | %s | %d |\n",
			size.name, phase, mode, p, round(med), round(walls[0]), round(walls[len(walls)-1]),
			(cpu / time.Duration(len(ss))).Seconds(), float64(last.devices)/med.Seconds(), perDev,
			last.msi, last.token, last.graph, last.graph429, last.handshakes, last.graphHandshakes,
			float64(last.peakHeap)/(1<<20), last.peakGoroutines, float64(last.maxRSS)/1024, fails, last.retried)
	}
	fmt.Println("| size | phase | mode | wall median (range) | CPU s | devices/s | bytes/device | MSI/token/Graph | Graph 429 | TLS handshakes | peak heap MiB | peak goroutines | max RSS MiB | failures | tenants retried |")
	for _, phase := range phases {
		// A subtest per phase: its emulator closes at the phase's end.
		t.Run(phase, func(t *testing.T) { reportPhase(t, size, phase, runs, report) })
	}
}

func reportPhase(t *testing.T, size scaleSize, phase string, runs int, report func(phase, mode string, p int, ss []sample)) {
	{
		var limits *graphtest.Limits
		if phase == "throttled" {
			limits = throttleModel(size)
		}
		e := newScaleEnv(t, size, limits)
		defer func() {
			e.tr.graph.(*http.Client).CloseIdleConnections()
			e.tr.entra.(*http.Client).CloseIdleConnections()
		}()
		if phase == "latency" {
			e.emu.AddFault(emulator.Fault{Endpoint: fault.EndpointToken, Latency: tokenLatency})
			e.emu.AddFault(emulator.Fault{Endpoint: fault.EndpointGraph, Latency: pageLatency})
		}
		newCred := func() *federated.Credential {
			o := &federated.Options{AdditionallyAllowedTenants: e.tenants}
			o.Transport = e.tr.entra
			c, err := federated.NewFromEnvironment(o)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		type variant struct {
			mode string
			p    int
			runs int
		}
		// The new sweep first: max RSS is the process's peak so far, and
		// today's keeps every device in memory.
		variants := []variant{{"new", fanout.DefaultParallelism, runs}}
		switch phase {
		case "throttled":
			variants = append(variants, variant{"new", 128, runs}, variant{"today", 4, 1})
		case "latency":
			// Today's takes minutes at M and L: one run.
			variants = append(variants, variant{"today", 4, 1})
		case "cold", "cached":
			variants = append(variants, variant{"today", 4, runs})
		}
		if size.name == "XL" {
			variants = []variant{{"new", fanout.DefaultParallelism, 1}}
		}
		for _, v := range variants {
			var ss []sample
			for range v.runs {
				cred := newCred()
				switch phase {
				case "cached":
					e.sweep(t, v.mode, v.p, cred, "") // fills the cache
				case "delta":
					state := filepath.Join(t.TempDir(), "links.json")
					e.sweep(t, v.mode, v.p, cred, state)
					changeOnePercent(t, e)
					ss = append(ss, e.sweep(t, v.mode, v.p, cred, state))
					continue
				}
				ss = append(ss, e.sweep(t, v.mode, v.p, cred, ""))
			}
			report(phase, v.mode, v.p, ss)
		}
	}
}

// changeOnePercent renames 1 % of the devices of the consented tenants
// (one in a hundred, at least one per tenant).
func changeOnePercent(t *testing.T, e *scaleEnv) {
	for i := range e.size.consented {
		tid := fakeidp.GeneratedTenantID(13, i)
		for j := 0; j < e.size.devices; j += 100 {
			id, ok := e.emu.Graph().DeviceID(tid, j)
			if !ok {
				t.Fatalf("tenant %s has no device %d", tid, j)
			}
			if err := e.emu.Graph().UpdateDevice(tid, id, map[string]any{"displayName": "renamed"}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func round(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
