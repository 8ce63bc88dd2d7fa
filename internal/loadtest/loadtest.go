// Package loadtest is `make load`: bounded load runs of the SDK and the
// emulator, on loopback only, that stop by themselves and say whether they
// met their criteria. internal/cmd/loadtest is the program; a short smoke
// run of each part is a normal test, so that the load runs do not rot.
//
//   - [Credential]: one federated.Credential under many goroutines across
//     many tenants against the in-process emulator. Criteria: no error, and
//     the token requests upstream are one per distinct key plus the
//     refreshes the token lifetime implies, no more.
//   - [Emulator]: the emulator under many concurrent clients, each on its
//     own connections, mixing managed-identity, token, Graph and ARM
//     requests.
//     Criteria: no 5xx (no fault is set), no transport error, a stable RSS.
//   - [Cache]: the federated token cache filled with very many tenants
//     through a transport that answers at once. Reported: time, allocations
//     and heap, cold and warm.
package loadtest

import (
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"time"
)

// hist is a latency histogram with four buckets per power of two of
// nanoseconds: percentiles within 19%, constant memory, no lock (each
// goroutine keeps its own and they are merged).
type hist struct {
	counts [64 * 4]uint64
	n      uint64
	max    time.Duration
}

func bucket(d time.Duration) int {
	ns := uint64(max(d, 1))
	l := bits.Len64(ns) // 1..64
	sub := 0
	if l > 2 {
		sub = int(ns>>(l-3)) & 3 // the two bits after the leading one
	}
	return (l-1)*4 + sub
}

// upper is the upper bound of bucket i.
func upper(i int) time.Duration {
	l, sub := i/4+1, i%4
	if l <= 2 {
		return time.Duration(uint64(1) << l)
	}
	base := uint64(1) << (l - 1)
	return time.Duration(base + (base/4)*uint64(sub+1))
}

func (h *hist) add(d time.Duration) {
	h.counts[bucket(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile is the upper bound of the bucket holding quantile q (0..1).
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return min(upper(i), h.max)
		}
	}
	return h.max
}

// Latency summarises a histogram.
type Latency struct {
	Count         uint64
	P50, P99, Max time.Duration
}

func (h *hist) latency() Latency {
	return Latency{Count: h.n, P50: h.quantile(0.50), P99: h.quantile(0.99), Max: h.max}
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", round(l.P50), round(l.P99), round(l.Max))
}

// round keeps three significant digits of a duration.
func round(d time.Duration) time.Duration {
	for _, u := range []time.Duration{time.Second, time.Millisecond, time.Microsecond} {
		if d >= 100*u {
			return d.Round(u)
		}
		if d >= u {
			return d.Round(u / 100)
		}
	}
	return d
}

// rssBytes reads this process's resident set size from /proc/self/status;
// 0 where there is no /proc.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
