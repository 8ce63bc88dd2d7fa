package fakeidp

import (
	"fmt"
	"io"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

// The two benchmarks below measure the emulator's token throughput against
// its floor, in one run with one key (docs/performance.md, "Emulator
// throughput"): tokens per second over HTTPS loopback can at best match
// RS256 signatures per second, since every token costs one. Both run on
// every core (RunParallel) and report, beside ns/op (wall time per token
// across the cores), cpu-ns/op: the process's CPU time per op, which other
// jobs on a shared machine disturb far less than wall time. The ratio
// sign/issue of either figure is the share of the emulator's work that is
// the signature.

var (
	benchOnce sync.Once
	benchSrv  *Server
	benchErr  error
)

// benchServer is one server shared by the benchmarks, so that they sign with
// the same key. It lives until the test binary exits.
func benchServer(b *testing.B) *Server {
	benchOnce.Do(func() { benchSrv, benchErr = New(nil, nil) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSrv
}

// BenchmarkTokenIssuance is the token endpoint's throughput over HTTPS
// loopback, client included: post the form, verify the assertion, sign the
// access token (one RS256 signature), answer, read the answer. Compare with
// BenchmarkRS256Sign.
func BenchmarkTokenIssuance(b *testing.B) {
	s := benchServer(b)
	a := miAssertion(b, s, systemIdentity(s))
	body := assertionForm(DefaultAppClientID, a)
	c := s.Client()
	u := s.URL() + "/" + DefaultConsentedTenantID + "/oauth2/v2.0/token"
	b.ReportAllocs()
	cpu := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.PostForm(u, url.Values(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	cpu.report(b)
}

// BenchmarkRS256Sign is one bare RS256 signature (SHA-256 and the RSA
// operation) with the server's own signing key over the signing input of a
// typical access token: the physical limit of token issuance.
func BenchmarkRS256Sign(b *testing.B) {
	s := benchServer(b)
	k := s.currentKey()
	graph, _ := s.lookupResource(graphResource)
	tok, err := s.accessToken(DefaultConsentedTenantID, s.apps[DefaultAppClientID], graph, []string{"Device.Read.All"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	input := tok[:lastDot(tok)]
	b.ReportAllocs()
	cpu := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := jwt.SigningMethodRS256.Sign(input, k.priv); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.report(b)
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}

// cpuMeter measures the process's CPU time over a benchmark's loop.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	return cpuMeter{start: processCPU()}
}

func (m cpuMeter) report(b *testing.B) {
	b.StopTimer()
	if used := processCPU() - m.start; used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkIssuanceVsSigning runs token issuance over HTTPS loopback and
// bare RS256 signing with the same key in alternating chunks of 32 ops
// (issuance from four clients per core, signing on one goroutine per core),
// so that both meet the same machine (a shared VM's load moves within
// seconds). It reports each one's wall and CPU time per op and
// issue/sign-%: tokens issued per second as a percentage of signatures per
// second, the figure docs/performance.md tracks (goal: 80% or more).
func BenchmarkIssuanceVsSigning(b *testing.B) {
	s := benchServer(b)
	a := miAssertion(b, s, systemIdentity(s))
	form := url.Values(assertionForm(DefaultAppClientID, a)).Encode()
	c := s.Client()
	u := s.URL() + "/" + DefaultConsentedTenantID + "/oauth2/v2.0/token"
	k := s.currentKey()
	graph, _ := s.lookupResource(graphResource)
	tok, err := s.accessToken(DefaultConsentedTenantID, s.apps[DefaultAppClientID], graph, []string{"Device.Read.All"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	input := tok[:lastDot(tok)]
	issue := func() error {
		resp, err := c.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	sign := func() error {
		_, err := jwt.SigningMethodRS256.Sign(input, k.priv)
		return err
	}
	// Signing is pure CPU: one signer per core keeps every core busy. A
	// client waits for its answer, so issuance needs more clients than cores
	// to keep the server busy, as a token server's throughput is measured
	// under concurrent clients: four per core.
	procs := runtime.GOMAXPROCS(0)
	// chunk runs n ops of f on workers goroutines and returns the wall and
	// CPU time they took.
	chunk := func(workers, n int, f func() error) (wall, cpu time.Duration) {
		var next atomic.Int64
		var wg sync.WaitGroup
		c0, t0 := processCPU(), time.Now()
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					if err := f(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		testwait.Wait(b, &wg, "a chunk of benchmark ops")
		return time.Since(t0), processCPU() - c0
	}
	chunk(4*procs, 4*procs, issue) // connections up
	b.ResetTimer()
	var issueWall, issueCPU, signWall, signCPU time.Duration
	const chunkOps = 32
	for done := 0; done < b.N; done += chunkOps {
		n := min(chunkOps, b.N-done)
		w, c := chunk(4*procs, n, issue)
		issueWall, issueCPU = issueWall+w, issueCPU+c
		w, c = chunk(procs, n, sign)
		signWall, signCPU = signWall+w, signCPU+c
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(issueWall.Nanoseconds())/n, "issue-ns/op")
	b.ReportMetric(float64(signWall.Nanoseconds())/n, "sign-ns/op")
	b.ReportMetric(100*float64(signWall)/float64(issueWall), "issue/sign-%")
	if issueCPU > 0 {
		b.ReportMetric(float64(issueCPU.Nanoseconds())/n, "issue-cpu-ns/op")
		b.ReportMetric(float64(signCPU.Nanoseconds())/n, "sign-cpu-ns/op")
		b.ReportMetric(100*float64(signCPU)/float64(issueCPU), "cpu-issue/sign-%")
	}
}
