package fault

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tenantbridge/tenantbridge/internal/testwait"
)

func TestLogKeepsTheLastRecords(t *testing.T) {
	var l Log[int]
	for i := range 3*MaxRecords + 7 {
		l.Add(i)
	}
	got := l.All()
	if len(got) != MaxRecords || got[0] != 2*MaxRecords+7 || got[len(got)-1] != 3*MaxRecords+6 {
		t.Fatalf("All: %d records from %d to %d; want %d, the last ones", len(got), got[0], got[len(got)-1], MaxRecords)
	}
	got[0] = -1
	if l.All()[0] == -1 {
		t.Error("All returned the log's own slice, not a copy")
	}
	l.Reset()
	if n := len(l.All()); n != 0 {
		t.Errorf("after Reset: %d records", n)
	}
	l.Add(42)
	if got := l.All(); len(got) != 1 || got[0] != 42 {
		t.Errorf("after Reset and Add: %v", got)
	}
}

func TestLogConcurrent(t *testing.T) {
	var l Log[int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				l.Add(g*1000 + i)
				if i%100 == 0 {
					_ = l.All()
				}
			}
		})
	}
	testwait.Wait(t, &wg, "every concurrent writer finishing")
	if n := len(l.All()); n != 4000 {
		t.Errorf("%d records, want 4000", n)
	}
}

// TestLogByteBudget fills a Log whose records have a Size with far more than
// MaxBytes: it keeps the newest records, drops the oldest, and never holds
// more than the budget.
func TestLogByteBudget(t *testing.T) {
	type rec struct {
		i    int
		body string
	}
	l := Log[rec]{Size: func(r *rec) int { return len(r.body) }}
	big := strings.Repeat("x", 100<<10) // 100 KiB records: 41 fit in 4 MiB
	for i := range 500 {
		l.Add(rec{i, big})
		if b := l.Bytes(); b > MaxBytes {
			t.Fatalf("after %d records the log holds %d bytes, more than MaxBytes (%d)", i+1, b, MaxBytes)
		}
	}
	got := l.All()
	want := MaxBytes / len(big)
	if len(got) != want || got[len(got)-1].i != 499 || got[0].i != 500-want {
		t.Fatalf("kept %d records (%d..%d); want the last %d", len(got), got[0].i, got[len(got)-1].i, want)
	}
	// A record larger than the whole budget is not kept, and takes the
	// others with it rather than break the bound.
	l.Add(rec{500, strings.Repeat("y", MaxBytes+1)})
	if n, b := len(l.All()), l.Bytes(); n != 0 || b != 0 {
		t.Errorf("after an oversize record: %d records, %d bytes; want none", n, b)
	}
	l.Add(rec{501, "small"})
	if got := l.All(); len(got) != 1 || got[0].i != 501 || l.Bytes() != 5 {
		t.Errorf("after the oversize record and a small one: %v, %d bytes", len(got), l.Bytes())
	}
	l.Reset()
	if l.Bytes() != 0 || len(l.All()) != 0 {
		t.Errorf("after Reset: %d bytes, %d records", l.Bytes(), len(l.All()))
	}
}

func TestClipValues(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
	m := url.Values{
		"client_assertion": {jwt},
		"huge":             {strings.Repeat("a", 1<<20)},
		"echo":             {"before " + jwt + " after"},
		"many":             make([]string, 100),
		"ctl":              {"a\nb"},
		"short":            {"plain"},
	}
	for i := range 1000 {
		m.Set(fmt.Sprintf("zz%04d", i), "v")
	}
	got := ClipValues(m, func(k string) bool { return k == "client_assertion" })
	if len(got) != MaxKeys {
		t.Errorf("%d keys kept, want MaxKeys (%d)", len(got), MaxKeys)
	}
	if v := got.Get("client_assertion"); v != "[redacted]" {
		t.Errorf("secret kept as %q", v)
	}
	if v := got.Get("huge"); len(v) > MaxTextBytes+len("…") || !strings.HasPrefix(v, "aaaa") {
		t.Errorf("huge value kept as %d bytes", len(v))
	}
	if v := got.Get("echo"); strings.Contains(v, "c2lnbmF0dXJl") || !strings.Contains(v, "before") {
		t.Errorf("echoed JWT kept: %q", v)
	}
	if n := len(got["many"]); n != MaxValuesPerKey {
		t.Errorf("%d values kept of 100, want MaxValuesPerKey (%d)", n, MaxValuesPerKey)
	}
	if v := got.Get("ctl"); v != "a b" {
		t.Errorf("control character kept: %q", v)
	}
	if v := got.Get("short"); v != "plain" {
		t.Errorf("short value = %q", v)
	}
	if ClipValues(url.Values(nil), nil) != nil {
		t.Error("nil map not kept nil")
	}
}
